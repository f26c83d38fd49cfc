import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewdesk.settings")
application = get_wsgi_application()


def _warm_up() -> None:
    """Load the embedding model in the background so the first search does not wait for it."""
    from apps.knowledge import embedding

    embedding.embedding_model()


if os.environ.get("REVIEWDESK_WARM_UP", "1") == "1":
    threading.Thread(target=_warm_up, name="embedding-warm-up", daemon=True).start()
