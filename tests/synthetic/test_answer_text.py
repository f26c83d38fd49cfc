"""A quoted sentence as a pair's answer: the page's emphasis and asides go, the fact and its
code marks stay, and the quote keeps the sentence word for word."""

import pytest
from django.urls import reverse

from apps.synthetic.models import QAPair
from apps.synthetic.text import answer_from_sentence
from tests import factories
from tests.synthetic.test_question_templates import _generate_from

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("sentence", "answer"),
    [
        (
            "Note that each `OVERFLOW` statement only affects the `!INCRBY` command.",
            "Each `OVERFLOW` statement only affects the `!INCRBY` command.",
        ),
        (
            "Note: The **GT**, **LT** and **NX** options are mutually exclusive.",
            "The GT, LT and NX options are mutually exclusive.",
        ),
        (
            "Please note that if a user gets disabled, the connections continue to work.",
            "If a user gets disabled, the connections continue to work.",
        ),
        # A sentence about notes keeps them.
        (
            "Notes are kept for 30 days in the archive.",
            "Notes are kept for 30 days in the archive.",
        ),
        ("`GETDEL` deletes the key.", "`GETDEL` deletes the key."),
        # A link's text without its address, no footnote marks, no space before a comma.
        (
            "The protocol is simple to parse, and is [documented](/topics/protocol) in full.",
            "The protocol is simple to parse, and is documented in full.",
        ),
        (
            "If you reside in NYC , get form UT-11 from a DMV office [1] or the Call Center [2].",
            "If you reside in NYC, get form UT-11 from a DMV office or the Call Center.",
        ),
    ],
)
def test_an_answer_is_its_sentence_without_bold_marks_or_a_leading_note(sentence, answer):
    assert answer_from_sentence(sentence) == answer


def test_a_generated_pair_answers_tidied_quotes_verbatim_and_says_so(client):
    sentence = (
        "Note that if the registration suspension period is more than 90 days, you must "
        "surrender your **vehicle registration** and plates."
    )
    pair, _ = _generate_from("page.md", f"# Registration\n\n{sentence}\n", ["what_if"])
    assert pair.status == QAPair.Status.PENDING
    assert pair.quote == sentence and pair.verified
    assert pair.answer == (
        "If the registration suspension period is more than 90 days, you must surrender your "
        "vehicle registration and plates."
    )
    client.force_login(factories.reviewer())
    page = client.get(reverse("synthetic:review", args=[pair.pk])).content.decode()
    assert "The answer is the source's own sentence, tidied" in page
