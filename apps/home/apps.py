from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The pages on top of every other app: the home screen and the demo seeding. Nothing
    imports this app; it imports downward only."""

    name = "apps.home"
    label = "home"
    verbose_name = "reviewdesk home"
