from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person using reviewdesk. Roles are groups (see roles.py); admins are staff."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        permissions = [
            ("use_reviewer_screens", "Can work the review screens"),
            ("use_lead_screens", "Can use the support-lead screens"),
        ]

    @property
    def role_label(self) -> str:
        from apps.accounts.roles import role_label_for

        return role_label_for(self)
