"""Reviewing draft replies through the services: the two stages, four eyes, review-time
verification of edits, flags, escalation, the lead's return, optimistic locking, and one
decision-log entry per decision. On the demo docs with the real embedding model."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import ProgrammingError, connection, transaction

from apps.drafts import services
from apps.drafts.models import Reply
from apps.oversight.models import EditLogEntry
from apps.tickets.models import Ticket
from tests import factories

pytestmark = pytest.mark.django_db


def _reply(external_id: str = "DEMO-1007") -> Reply:
    ticket = Ticket.objects.get(external_id=external_id)
    draft = services.draft_create(ticket_id=ticket.pk, version=ticket.drafts_requested)
    return draft.reply


def _entries(reply: Reply) -> list[EditLogEntry]:
    return list(
        EditLogEntry.objects.filter(object_type="drafts.reply", object_id=reply.pk).order_by("id")
    )


@pytest.fixture
def reply(demo_docs) -> Reply:
    return _reply()


def test_a_new_draft_starts_a_reply_under_review_with_the_drafts_text_and_verdicts(reply):
    assert reply.stage == Reply.Stage.REVIEW and reply.version == 1
    assert reply.text == reply.draft.text and not reply.edited
    claims = [s for s in reply.sentences if s["kind"] == "claim"]
    assert claims and all(s["verdict"] == "supported" and s["markers"] for s in claims)
    assert reply.unsupported_count == 0 and reply.sentence_count == len(claims)


def test_an_escalated_draft_starts_an_escalated_reply_with_no_text(demo_docs):
    reply = _reply("DEMO-1011")
    assert reply.stage == Reply.Stage.ESCALATED and reply.text == ""


def test_reviewer_then_another_lead_approve_and_each_decision_is_logged_once(reply):
    reviewer, lead = factories.reviewer(), factories.lead()
    reply = services.reply_approve(reply=reply, user=reviewer, version=1)
    assert reply.stage == Reply.Stage.LEAD and reply.reviewed_by == reviewer
    assert Ticket.objects.get(pk=reply.ticket_id).status == Ticket.Status.AWAITING_LEAD
    reply = services.reply_approve(reply=reply, user=lead, version=reply.version)
    assert reply.stage == Reply.Stage.APPROVED and reply.approved_by == lead
    assert Ticket.objects.get(pk=reply.ticket_id).status == Ticket.Status.APPROVED
    entries = _entries(reply)
    assert [e.decision for e in entries] == ["submit", "approve"]
    assert [e.editor_id for e in entries] == [reviewer.pk, lead.pk]
    assert entries[1].edited is False and entries[1].details["stage"] == "approved"


def test_a_reviewer_cannot_give_the_lead_approval(reply):
    first, second = factories.reviewer(), factories.reviewer()
    reply = services.reply_approve(reply=reply, user=first, version=1)
    with pytest.raises(PermissionDenied):
        services.reply_approve(reply=reply, user=second, version=reply.version)
    assert Reply.objects.get(pk=reply.pk).stage == Reply.Stage.LEAD


@pytest.mark.parametrize("how", ["approved", "edited"])
def test_a_lead_cannot_give_the_second_approval_to_a_reply_they_approved_or_edited(reply, how):
    lead, reviewer = factories.lead(), factories.reviewer()
    edited = reply.text.replace("Hello Hannah,", "Hello Hannah, thanks for writing.")
    if how == "approved":
        reply = services.reply_approve(reply=reply, user=lead, version=1)
    else:
        reply = services.reply_save(reply=reply, user=lead, version=1, text=edited)
        reply = services.reply_approve(reply=reply, user=reviewer, version=reply.version)
    with pytest.raises(services.ReviewError, match="four eyes"):
        services.reply_approve(reply=reply, user=lead, version=reply.version)
    assert Reply.objects.get(pk=reply.pk).stage == Reply.Stage.LEAD
    services.reply_approve(reply=reply, user=factories.lead(), version=reply.version)
    assert Reply.objects.get(pk=reply.pk).stage == Reply.Stage.APPROVED
    final = _entries(reply)[-1]
    if how == "edited":  # the final entry says whose edits it compares, not the approver's
        assert final.edited and final.note == (
            f"Compared with the AI's draft; edited at review by {lead.username}."
        )


def test_an_edited_sentence_keeps_its_citation_and_is_checked_again(reply):
    reviewer = factories.reviewer()
    claim = next(s for s in reply.sentences if s["kind"] == "claim")
    edited_claim = claim["text"].replace("took longer than", "ran longer than")
    assert edited_claim != claim["text"]
    text = reply.text.replace(claim["text"], edited_claim)
    reply = services.reply_save(reply=reply, user=reviewer, version=1, text=text)
    sentence = next(s for s in reply.sentences if s["text"] == edited_claim)
    assert sentence["markers"] == claim["markers"] and sentence["changed"]
    assert sentence["verdict"] == "supported" and 0.75 <= sentence["similarity"] < 1
    assert reply.edited and reply.editor_ids == [reviewer.pk] and reply.version == 2
    [entry] = _entries(reply)
    assert entry.decision == "edit" and entry.before["text"] != entry.after["text"]
    assert entry.editor_role == "Reviewer" and entry.diff


def test_a_new_sentence_without_a_source_is_unsupported_and_needs_a_logged_reason(reply):
    reviewer = factories.reviewer()
    text = reply.text.replace(
        "Hello Hannah,", "Hello Hannah,\n\nWe will refund your last three invoices."
    )
    with pytest.raises(services.NeedsReason) as refused:
        services.reply_approve(reply=reply, user=reviewer, version=1, text=text)
    marked = [s for s in refused.value.sentences if s["verdict"] == "unsupported"]
    assert [s["text"] for s in marked] == ["We will refund your last three invoices."]
    assert marked[0]["reason"] == "Cites no source"
    assert Reply.objects.get(pk=reply.pk).version == 1 and not _entries(reply)
    reply = services.reply_approve(
        reply=reply, user=reviewer, version=1, text=text, override_reason="Billing confirmed it"
    )
    assert reply.stage == Reply.Stage.LEAD and reply.unsupported_count == 1
    [entry] = _entries(reply)
    assert (entry.decision, entry.reason, entry.note) == (
        "submit",
        "unsupported_kept",
        "Billing confirmed it",
    )
    assert entry.edited and entry.details["approved_unsupported"] == 1


def test_a_sentence_citing_a_number_the_draft_does_not_have_is_unsupported(reply):
    text = reply.text + "\n\nSee the admin guide. [42]"
    reply = services.reply_save(reply=reply, user=factories.reviewer(), version=1, text=text)
    last = reply.sentences[-1]
    assert last["verdict"] == "unsupported" and "[42]" in last["reason"]


def test_saving_over_a_version_you_did_not_see_is_a_conflict_that_keeps_both_texts(reply):
    first, second = factories.reviewer(), factories.reviewer()
    mine = reply.text.replace("Hello Hannah,", "Hi Hannah,")
    theirs = reply.text.replace("Hello Hannah,", "Dear Hannah,")
    services.reply_save(reply=reply, user=first, version=1, text=theirs)
    with pytest.raises(services.EditConflict) as conflict:
        services.reply_save(reply=reply, user=second, version=1, text=mine)
    assert conflict.value.mine == mine and conflict.value.current.text == theirs
    services.reply_save(reply=reply, user=second, version=2, text=mine)
    assert Reply.objects.get(pk=reply.pk).text == mine
    assert [e.after["text"] for e in _entries(reply)] == [theirs, mine]


def test_a_lead_returns_a_reply_with_a_comment_and_the_reviewer_approves_again(reply):
    reviewer, lead = factories.reviewer(), factories.lead()
    reply = services.reply_approve(reply=reply, user=reviewer, version=1)
    with pytest.raises(services.ReviewError):
        services.reply_return(reply=reply, user=lead, version=reply.version, note=" ")
    reply = services.reply_return(
        reply=reply, user=lead, version=reply.version, note="Mention the retry window."
    )
    assert reply.stage == Reply.Stage.REVIEW and reply.return_note == "Mention the retry window."
    assert Ticket.objects.get(pk=reply.ticket_id).status == Ticket.Status.AWAITING_REVIEW
    assert reply.reviewed_by is None
    assert [e.decision for e in _entries(reply)] == ["submit", "return"]


def test_a_flag_records_its_reason_and_keeps_the_reply_in_the_queue(reply):
    reviewer = factories.reviewer()
    with pytest.raises(services.ReviewError):
        services.reply_flag(reply=reply, user=reviewer, version=1, reason="bogus")
    with pytest.raises(services.ReviewError):
        services.reply_flag(reply=reply, user=reviewer, version=1, reason="other")
    reply = services.reply_flag(
        reply=reply, user=reviewer, version=1, reason="tone", note="Too curt"
    )
    assert reply.stage == Reply.Stage.REVIEW
    assert [(f["reason"], f["note"], f["by"]) for f in reply.flags] == [
        ("tone", "Too curt", reviewer.username)
    ]
    [entry] = _entries(reply)
    assert (entry.decision, entry.reason, entry.note) == ("flag", "tone", "Too curt")


def test_escalating_moves_the_ticket_out_of_review_with_the_reason(reply):
    reply = services.reply_escalate(
        reply=reply, user=factories.reviewer(), version=1, note="Needs billing"
    )
    assert reply.stage == Reply.Stage.ESCALATED
    assert Ticket.objects.get(pk=reply.ticket_id).status == Ticket.Status.ESCALATED
    assert [(e.decision, e.note) for e in _entries(reply)] == [("escalate", "Needs billing")]


def test_a_reply_held_by_another_reviewer_cannot_be_decided_on(reply):
    holder, other = factories.reviewer(), factories.reviewer()
    assert services.reply_hold(reply=reply, user=holder)
    assert not services.reply_hold(reply=reply, user=other)
    with pytest.raises(services.ReviewError, match="working on this reply"):
        services.reply_approve(reply=reply, user=other, version=1)


def test_the_lead_stage_is_skipped_for_clean_replies_only_when_the_setting_is_on(
    reply, settings, demo_docs
):
    settings.DRAFT_SKIP_LEAD_WHEN_CLEAN = True
    reviewer = factories.reviewer()
    reply = services.reply_approve(reply=reply, user=reviewer, version=1)
    assert reply.stage == Reply.Stage.APPROVED and reply.lead_skipped
    assert [e.decision for e in _entries(reply)] == ["approve"]
    edited = _reply("DEMO-1001")
    text = edited.text.replace("Hello", "Hi", 1)
    edited = services.reply_approve(reply=edited, user=reviewer, version=1, text=text)
    assert edited.stage == Reply.Stage.LEAD and not edited.lead_skipped


def test_a_final_approval_tells_the_listeners_after_commit(
    reply, django_capture_on_commit_callbacks
):
    heard = []
    services.reply_approved_listen(heard.append)
    try:
        reply = services.reply_approve(reply=reply, user=factories.reviewer(), version=1)
        with django_capture_on_commit_callbacks(execute=True):
            services.reply_approve(reply=reply, user=factories.lead(), version=reply.version)
    finally:
        services._approved_listeners.remove(heard.append)
    assert heard == [reply.pk]


def test_regenerating_supersedes_the_reply_under_review(reply):
    ticket = reply.ticket
    version = services.draft_request(ticket_id=ticket.pk, user=factories.reviewer())
    newer = services.draft_create(ticket_id=ticket.pk, version=version).reply
    assert Reply.objects.get(pk=reply.pk).stage == Reply.Stage.SUPERSEDED
    assert newer.stage == Reply.Stage.REVIEW and newer.draft.version == 2


def _decide_one(path: str, reply: Reply) -> None:
    """Apply one decision of the named path to `reply` (already submitted for the lead's)."""
    reviewer, lead = factories.reviewer(), factories.lead()
    unsupported = reply.text + "\n\nYour plan includes a free audit."
    edited = reply.text.replace("Hello Hannah,", "Hi Hannah,")
    version = reply.version
    calls = {
        "save": lambda: services.reply_save(reply=reply, user=reviewer, version=1, text=edited),
        "approve": lambda: services.reply_approve(reply=reply, user=reviewer, version=1),
        "approve edited": lambda: services.reply_approve(
            reply=reply, user=reviewer, version=1, text=edited
        ),
        "approve unsupported": lambda: services.reply_approve(
            reply=reply, user=reviewer, version=1, text=unsupported, override_reason="Known"
        ),
        "lead approval": lambda: services.reply_approve(reply=reply, user=lead, version=version),
        "return": lambda: services.reply_return(
            reply=reply, user=lead, version=version, note="Shorter"
        ),
        "flag": lambda: services.reply_flag(
            reply=reply, user=reviewer, version=1, reason="incomplete"
        ),
        "escalate": lambda: services.reply_escalate(
            reply=reply, user=reviewer, version=1, note="Billing"
        ),
        "draft again": lambda: services.draft_request(ticket_id=reply.ticket_id, user=reviewer),
    }
    calls[path]()


PATHS = [
    "save",
    "approve",
    "approve edited",
    "approve unsupported",
    "lead approval",
    "return",
    "flag",
    "escalate",
    "draft again",
]


@pytest.mark.parametrize("path", PATHS)
def test_every_decision_path_writes_exactly_one_log_entry(reply, path):
    before = EditLogEntry.objects.count()
    if path in ("lead approval", "return"):
        reply = services.reply_approve(reply=reply, user=factories.reviewer(), version=1)
        before += 1
    _decide_one(path, reply)
    assert EditLogEntry.objects.count() == before + 1
    entry = EditLogEntry.objects.order_by("-id").first()
    assert entry.area == "draft" and entry.editor_id is not None


@pytest.mark.parametrize("path", ["save", "approve edited", "flag", "escalate"])
def test_when_the_log_cannot_take_the_entry_the_reply_is_not_changed(reply, path):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_insert() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'log unavailable'; END; $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER refuse_insert BEFORE INSERT ON oversight_editlogentry "
            "FOR EACH ROW EXECUTE FUNCTION refuse_insert();"
        )
    with pytest.raises(ProgrammingError, match="log unavailable"), transaction.atomic():
        _decide_one(path, reply)
    kept = Reply.objects.get(pk=reply.pk)
    assert (kept.version, kept.text, kept.stage, kept.flags) == (1, reply.text, "review", [])


@pytest.mark.parametrize(
    "sentence",
    [
        "Thanks for waiting, and good news: Pro includes unlimited storage.",
        "Kind regards, your account has been upgraded to Enterprise.",
        "Best regards, the team will refund you 100 euros.",
        "Hello, we refunded you.",
    ],
)
def test_a_claim_dressed_as_a_greeting_or_sign_off_is_still_unsupported(reply, sentence):
    text = reply.text + "\n\n" + sentence
    reply = services.reply_save(reply=reply, user=factories.reviewer(), version=1, text=text)
    last = reply.sentences[-1]
    assert (last["kind"], last["verdict"], last["reason"]) == (
        "claim",
        "unsupported",
        "Cites no source",
    )


@pytest.mark.parametrize(
    "sentence", ["Thanks for your patience.", "Hi Ana, thank you for your message.", "Cheers,"]
)
def test_plain_framing_needs_no_source(reply, sentence):
    text = reply.text + "\n\n" + sentence
    reply = services.reply_save(reply=reply, user=factories.reviewer(), version=1, text=text)
    assert reply.sentences[-1]["kind"] == "framing" and reply.unsupported_count == 0


def test_an_edit_naming_what_its_source_never_names_is_unsupported(reply):
    claim = next(s for s in reply.sentences if s["kind"] == "claim")
    marker = claim["markers"][0]
    text = reply.text + f"\n\nOkta also stops the audit log export after 15 minutes. [{marker}]"
    reply = services.reply_save(reply=reply, user=factories.reviewer(), version=1, text=text)
    last = reply.sentences[-1]
    assert last["verdict"] == "unsupported" and last["reason"] == (
        "Names Okta, which the cited text does not"
    )


def test_a_lead_held_back_by_four_eyes_does_not_hold_the_reply_for_the_others(reply):
    lead = factories.lead()
    reply = services.reply_approve(reply=reply, user=lead, version=1)
    assert not services.reply_hold(reply=reply, user=lead)
    assert Reply.objects.get(pk=reply.pk).claimed_by is None
    assert services.reply_hold(reply=reply, user=factories.lead())
