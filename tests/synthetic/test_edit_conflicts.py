"""No lost edits (optimistic locking on a pair's version) and a sound two-approval rule
(an approval counts only for the text it approved)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.oversight.models import EditLogEntry
from apps.synthetic import services
from apps.synthetic.models import QAPair, Review
from tests import factories

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def _shown_version(page: str) -> int:
    """The version the edit form of a review page carries."""
    form = page[page.index('id="edit-panel"') :]
    return int(re.search(r'name="version" value="(\d+)"', form).group(1))


def _edit(client, pair, version, answer):
    return client.post(
        reverse("synthetic:review_act", args=[pair.pk]),
        {
            "action": "edit",
            "question": pair.question,
            "answer": answer,
            "quote": pair.quote,
            "version": version,
        },
        headers=HX,
    )


def test_saving_over_a_version_you_did_not_see_is_refused_at_the_service():
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    alice, bob = factories.reviewer(), factories.reviewer()
    shown = pair.version  # both opened the pair as it was
    services.pair_approve(pair=pair, user=alice, answer="Alice: 30 days on Pro.", version=shown)
    with pytest.raises(services.EditConflict) as conflict:
        services.pair_approve(pair=pair, user=bob, answer="Bob: a month on Pro.", version=shown)
    assert conflict.value.current.answer == "Alice: 30 days on Pro."
    pair.refresh_from_db()
    assert pair.answer == "Alice: 30 days on Pro." and pair.version == shown + 1
    assert EditLogEntry.objects.count() == 1 and Review.objects.count() == 1
    # Bob, having now seen Alice's text, may knowingly put his in its place.
    services.pair_approve(pair=pair, user=bob, answer="Bob: a month on Pro.", version=pair.version)
    pair.refresh_from_db()
    assert pair.answer == "Bob: a month on Pro." and pair.version == shown + 2


def test_approving_or_rejecting_text_you_did_not_see_is_refused_too():
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    alice, bob = factories.reviewer(), factories.reviewer()
    services.pair_approve(pair=pair, user=alice, answer="Alice's answer.", version=1)
    with pytest.raises(services.EditConflict):
        services.pair_approve(pair=pair, user=bob, version=1)
    with pytest.raises(services.EditConflict):
        services.pair_reject(pair=pair, user=bob, reason="wrong", version=1)
    assert Review.objects.filter(reviewer=bob).count() == 0


def test_two_reviewers_editing_at_once_through_the_screens_lose_nothing():
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    alice, bob = Client(), Client()
    alice.force_login(factories.reviewer())
    bob.force_login(factories.reviewer())
    url = reverse("synthetic:review", args=[pair.pk])
    alice_version = _shown_version(alice.get(url).content.decode())
    bob_version = _shown_version(bob.get(url).content.decode())
    assert alice_version == bob_version == 1

    _edit(alice, pair, alice_version, "Thirty days, on the Pro plan.")
    response = _edit(bob, pair, bob_version, "Bob's <b>own</b> answer.")
    body = response.content.decode()
    assert response.status_code == 200 and "Edit conflict" in body
    pair.refresh_from_db()
    assert pair.answer == "Thirty days, on the Pro plan."  # nothing silently reverted
    conflict = body[
        body.index('id="edit-conflict"') : body.index("</form>", body.index("edit-conflict"))
    ]
    assert "Thirty days, on the Pro plan." in conflict  # the current text...
    assert "Bob&#x27;s &lt;b&gt;own&lt;/b&gt; answer." in conflict  # ...and his, escaped
    form = body[body.index('id="edit-panel"') :]
    assert "hidden" not in form[: form.index(">")]  # the form is open...
    textarea = re.search(r'<textarea name="answer"[^>]*>\s*(.*?)</textarea>', form, re.S)
    assert textarea.group(1) == "Bob&#x27;s &lt;b&gt;own&lt;/b&gt; answer."  # ...with his text
    assert _shown_version(body) == 2  # and the version he has now been shown

    _edit(bob, pair, _shown_version(body), "Bob's <b>own</b> answer.")
    pair.refresh_from_db()
    assert pair.answer == "Bob's <b>own</b> answer." and pair.version == 3
    assert list(EditLogEntry.objects.order_by("id").values_list("after__answer", flat=True)) == [
        "Thirty days, on the Pro plan.",
        "Bob's <b>own</b> answer.",
    ]


def test_an_approve_from_a_page_showing_older_text_shows_the_current_text_instead(client):
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    services.pair_approve(pair=pair, user=factories.reviewer(), answer="Edited meanwhile.")
    client.force_login(factories.reviewer())
    response = client.post(
        reverse("synthetic:review_act", args=[pair.pk]),
        {"action": "approve", "version": 1},
        headers=HX,
    )
    body = response.content.decode()
    assert "Someone changed this pair" in body and "Edited meanwhile." in body
    assert Review.objects.count() == 1


def test_an_edit_after_the_first_approval_needs_two_approvals_of_the_edited_text():
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    alice, bob = factories.reviewer(), factories.reviewer()
    services.pair_approve(pair=pair, user=alice)  # the text as the model wrote it
    services.pair_approve(pair=pair, user=bob, answer="Thirty days of history on Pro.")
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.PENDING  # Alice approved other text
    assert dict(Review.objects.values_list("reviewer", "version")) == {alice.pk: 1, bob.pk: 2}
    with pytest.raises(services.ReviewError, match="already reviewed"):
        services.pair_approve(pair=pair, user=bob)  # Bob cannot be both approvals
    # Alice has not seen this text: it is back in her queue, and her approval now counts.
    assert services.pair_claim(user=alice) == pair
    services.pair_approve(pair=pair, user=alice, version=pair.version)
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.APPROVED


def test_each_edit_starts_the_count_again():
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    alice, bob, carol = factories.reviewer(), factories.reviewer(), factories.reviewer()
    services.pair_approve(pair=pair, user=alice, answer="Alice's answer.")
    services.pair_approve(pair=pair, user=bob, answer="Bob's answer.")
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.PENDING and pair.version == 3  # Bob alone approved it
    services.pair_approve(pair=pair, user=carol)
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.APPROVED and pair.answer == "Bob's answer."


def test_an_edit_that_changes_nothing_keeps_the_first_approval():
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    alice, bob = factories.reviewer(), factories.reviewer()
    services.pair_approve(pair=pair, user=alice)
    services.pair_approve(pair=pair, user=bob, answer=f"  {pair.answer}\n", version=1)
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.APPROVED and pair.version == 1


def test_agreement_counts_people_not_reviews():
    from apps.synthetic.selectors import reviewer_agreement

    (pair,) = factories.qa_pairs(1, required_approvals=2)
    alice, bob = factories.reviewer(), factories.reviewer()
    services.pair_approve(pair=pair, user=alice)
    services.pair_approve(pair=pair, user=bob, answer="Bob's answer.")
    services.pair_approve(pair=pair, user=alice)
    assert reviewer_agreement(run=pair.run) == {"pairs": 1, "agreed": 1, "rate": 1.0}
