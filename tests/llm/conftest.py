import pytest
from django.conf import settings

from apps.llm.backends import LlamaCppBackend, model_path_ensure


@pytest.fixture(scope="session")
def local_backend():
    """The packaged Gemma 3 270M GGUF, loaded once for the whole session."""
    return LlamaCppBackend(
        model_path=model_path_ensure(), n_ctx=2048, n_threads=settings.LLM_THREADS, n_gpu_layers=0
    )
