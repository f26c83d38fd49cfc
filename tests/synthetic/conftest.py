import pytest


@pytest.fixture
def model_writes_first(settings):
    """The model is asked for every question before the app composes one: for tests of what
    happens around the model (its calls, retries, invalid output), not of composed questions."""
    settings.SYNTHETIC_COMPOSE_FIRST = 0
