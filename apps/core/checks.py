from django.core.checks import Error, Tags, register
from django.db import connections
from django.db.utils import OperationalError

REQUIRED_EXTENSIONS = ("vector", "pg_trgm")


@register(Tags.database)
def postgres_extensions_check(app_configs, databases=None, **kwargs) -> list[Error]:
    """Runs before `migrate`: a server without pgvector gets a sentence, not a traceback."""
    errors: list[Error] = []
    for alias in databases or []:
        try:
            available = extensions_available(alias)
        except OperationalError as exc:
            errors.append(
                Error(
                    f"Cannot connect to the database '{alias}': {exc}".strip(),
                    hint="Check DATABASE_URL, or unset it to use the embedded PostgreSQL.",
                    id="reviewdesk.E001",
                )
            )
            continue
        for missing in [ext for ext in REQUIRED_EXTENSIONS if ext not in available]:
            errors.append(
                Error(
                    f"The PostgreSQL server behind '{alias}' has no '{missing}' extension.",
                    hint=(
                        "reviewdesk stores embeddings with pgvector. Install it on that server "
                        "(e.g. the postgresql-NN-pgvector package) or unset DATABASE_URL to "
                        "use the embedded PostgreSQL, which ships pgvector."
                    ),
                    id="reviewdesk.E002",
                )
            )
    return errors


def extensions_available(alias: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT name FROM pg_available_extensions")
        return {row[0] for row in cursor.fetchall()}
