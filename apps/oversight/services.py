import datetime as dt
import difflib

from django.db import transaction

from apps.accounts.roles import role_label_for
from apps.oversight.models import EditLogEntry

Area = EditLogEntry.Area
Decision = EditLogEntry.Decision


class NotInTransaction(RuntimeError):
    """decision_record was called outside the transaction applying the decision."""


def decision_record(
    *,
    area: str,
    object_type: str,
    object_id: int,
    object_version: int | None,
    decision: str,
    editor,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
    reason: str = "",
    note: str = "",
    product_line: str = "",
    model: str = "",
    prompt_version: str = "",
    ai_created_at: dt.datetime | None = None,
    requested_at: dt.datetime | None = None,
    details: dict | None = None,
) -> EditLogEntry:
    """Write the one log entry of one human decision on AI-written text.

    Call it inside the transaction that applies the decision (it refuses otherwise), so a
    decision never lands without its entry nor an entry without its decision.

    - `object_type`: app label and model in lower case, e.g. "synthetic.qapair"
      (`obj._meta.label_lower`); `object_version`: the object's version the decision leaves.
    - `before` / `after`: the AI text the decision was about, field by field, as it was and as
      it is now (equal when the text was not changed; both None when no text was decided on,
      e.g. a regeneration request). Changed fields, the unified diff and the edit ratio are
      derived from them.
    - `reason`: a short code for the dashboard's "by reason" figures; `note`: free text.
    - `ai_created_at`: when the AI text was produced; `requested_at`: when the need arose (a
      ticket's arrival), for the time-to-draft and time-to-decision figures.
    - `details`: figures of the area, e.g. for a draft reply {"sentences": 6, "unsupported":
      1} (the AI draft) and {"approved_sentences": 5, "approved_unsupported": 0}.
    """
    if not transaction.get_connection().in_atomic_block:
        raise NotInTransaction(
            "decision_record must run inside the transaction that applies the decision."
        )
    if area not in Area.values:
        raise ValueError(f"Unknown area {area!r}; one of {', '.join(Area.values)}.")
    if decision not in Decision.values:
        raise ValueError(f"Unknown decision {decision!r}; one of {', '.join(Decision.values)}.")
    before = dict(before or {})
    after = dict(after or {})
    fields = list(dict.fromkeys([*before, *after]))
    changed = [field for field in fields if before.get(field, "") != after.get(field, "")]
    return EditLogEntry.objects.create(
        area=area,
        object_type=object_type,
        object_id=object_id,
        object_version=object_version,
        decision=decision,
        edited=bool(changed),
        reason=reason,
        note=note,
        before=before,
        after=after,
        changed_fields=changed,
        diff=text_diff(before=before, after=after, fields=changed),
        edit_ratio=edit_ratio(before=before, after=after) if fields else None,
        editor=editor if editor is not None and editor.is_authenticated else None,
        editor_name=editor.get_username() if editor is not None else "",
        editor_role=role_label_for(editor) if editor is not None else "System",
        product_line=product_line,
        model=model,
        prompt_version=prompt_version,
        ai_created_at=ai_created_at,
        requested_at=requested_at,
        details=details or {},
    )


def text_diff(*, before: dict[str, str], after: dict[str, str], fields: list[str]) -> str:
    """A unified diff per changed field, one after the other, each headed by its name."""
    parts = []
    for field in fields:
        parts.extend(
            difflib.unified_diff(
                before.get(field, "").splitlines(),
                after.get(field, "").splitlines(),
                f"{field} (before)",
                f"{field} (after)",
                lineterm="",
            )
        )
    return "\n".join(parts)


def edit_ratio(*, before: dict[str, str], after: dict[str, str]) -> float:
    """Share of words changed over all fields: 1 - difflib's similarity of the two word
    sequences (0.0 for text kept as it was, 1.0 for text replaced entirely). Words rather than
    characters: a reviewer fixing one word of a sentence changed one word, not 3% of it."""
    fields = list(dict.fromkeys([*before, *after]))
    old = [word for field in fields for word in before.get(field, "").split()]
    new = [word for field in fields for word in after.get(field, "").split()]
    if not old and not new:
        return 0.0
    return round(1 - difflib.SequenceMatcher(None, old, new, autojunk=False).ratio(), 4)
