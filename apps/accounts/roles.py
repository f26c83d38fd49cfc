"""The two browser roles and the permissions each carries.

Groups are the source of truth for roles; views check permissions (never group names) so an
admin can grant a single permission to someone without changing their role.
"""

from django.contrib.auth.models import Group, Permission

REVIEWER = "Reviewer"
LEAD = "Support lead"

REVIEWER_SCREENS = "accounts.use_reviewer_screens"
LEAD_SCREENS = "accounts.use_lead_screens"

# app_label.codename; permissions of apps not installed or not migrated yet are skipped and
# picked up by the post_migrate sync once they exist.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    REVIEWER: [
        REVIEWER_SCREENS,
        "synthetic.view_qapair",
        "knowledge.view_document",
        "knowledge.view_chunk",
    ],
    LEAD: [
        REVIEWER_SCREENS,
        LEAD_SCREENS,
        "knowledge.view_document",
        "knowledge.view_chunk",
        "knowledge.add_document",
        "knowledge.change_document",
        "knowledge.delete_document",
        "knowledge.view_ingestjob",
        "knowledge.add_ingestjob",
        "knowledge.view_evalrun",
        "knowledge.add_evalrun",
        "synthetic.view_qapair",
        "synthetic.view_generationrun",
        "synthetic.add_generationrun",
        "synthetic.view_finetuneexport",
        "synthetic.add_finetuneexport",
        "llm.view_llmcall",
        "llm.view_promptversion",
    ],
}


def roles_sync() -> None:
    """Create the role groups and give each exactly the permissions listed above."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = Permission.objects.none()
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            wanted |= Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            )
        group.permissions.set(wanted)


def roles_sync_after_migrate(sender, **kwargs) -> None:
    roles_sync()


def role_label_for(user) -> str:
    if not user.is_authenticated:
        return "Anonymous"
    if user.is_superuser or user.is_staff:
        return "Admin"
    names = {group.name for group in user.groups.all()}
    if LEAD in names:
        return LEAD
    if REVIEWER in names:
        return REVIEWER
    return "No role"
