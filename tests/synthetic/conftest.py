import pytest


@pytest.fixture
def model_writes_first(settings):
    """The model is asked for every question before the app composes one, and its questions
    that pass the checks are queued (as for a configured model a read found approvable): for
    tests of what happens around the model (its calls, retries, invalid output), not of
    composed questions."""
    settings.SYNTHETIC_COMPOSE_FIRST = 0
    settings.SYNTHETIC_QUEUE_MODEL_QUESTIONS = True
