import difflib

from apps.accounts.roles import role_label_for
from apps.oversight.models import EditLogEntry


def edit_log_record(
    *,
    obj,
    field: str,
    before: str,
    after: str,
    editor,
    reason: str = "",
    model: str = "",
    prompt_version: str = "",
) -> EditLogEntry | None:
    """Log one human change of one AI-written field; nothing is logged when nothing changed."""
    if before == after:
        return None
    diff = "\n".join(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), "before", "after", lineterm=""
        )
    )
    return EditLogEntry.objects.create(
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        field=field,
        before=before,
        after=after,
        diff=diff,
        editor=editor,
        editor_role=role_label_for(editor),
        reason=reason,
        model=model,
        prompt_version=prompt_version,
    )
