import pytest

from apps.synthetic.models import FinetuneExport
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _idle(page) -> None:
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def _press(page, key: str, then_heading: str) -> None:
    _idle(page)
    page.keyboard.press(key)
    page.get_by_role("heading", name=then_heading).wait_for()


def test_skipping_past_the_last_pair_wraps_around_to_the_pairs_still_pending(page, live_server):
    pairs = factories.qa_pairs(5)
    reviewer = factories.reviewer()
    log_in(page, live_server, reviewer.username, factories.PASSWORD)
    page.goto(f"{live_server.url}/qa/queue/")
    _press(page, "n", f"Pair {pairs[0].pk}")
    _press(page, "j", f"Pair {pairs[1].pk}")
    _press(page, "a", f"Pair {pairs[2].pk}")  # approve the second, skip the others
    _press(page, "j", f"Pair {pairs[3].pk}")
    _press(page, "j", f"Pair {pairs[4].pk}")
    _press(page, "j", f"Pair {pairs[0].pk}")  # past the last: back to the first pending pair
    messages = page.locator("#messages")
    assert "back to the first pending pair. 4 pairs left for you" in messages.inner_text()
    assert page.get_by_role("heading", name="All done").count() == 0
    _press(page, "k", f"Pair {pairs[4].pk}")  # and backwards from the first, to the last
    assert "back to the last pending pair" in messages.inner_text()


def test_the_shortcuts_dialog_lists_the_keys_of_the_screen_shown(page, live_server):
    (pair,) = factories.qa_pairs(1)
    reviewer = factories.reviewer()
    log_in(page, live_server, reviewer.username, factories.PASSWORD)
    page.goto(f"{live_server.url}/qa/queue/")
    page.locator("h1").click()
    page.keyboard.press("?")
    dialog = page.locator("#shortcuts")
    screen = dialog.locator("#screen-shortcuts")
    assert screen.is_visible()
    assert screen.locator("dt").all_inner_texts() == ["n"]
    assert screen.locator("dd").all_inner_texts() == ["Start reviewing"]
    page.keyboard.press("Escape")

    _press(page, "n", f"Pair {pair.pk}")
    page.keyboard.press("?")
    terms, descriptions = (screen.locator(tag).all_inner_texts() for tag in ("dt", "dd"))
    keys = dict(zip(terms, descriptions, strict=True))
    assert keys == {
        "a": "Approve the pair",
        "e": "Edit, then approve",
        "r": "Reject with a reason",
        "k": "Previous pending pair",
        "j": "Next pending pair (wraps around)",
    }
    # The dialog still lists the navigation keys of every screen.
    assert "g q" in dialog.locator("dl").last.inner_text()
    page.keyboard.press("Escape")

    _idle(page)
    page.keyboard.press("a")  # the last pair: the pane says all done, without review keys
    page.get_by_role("heading", name="All done").wait_for()
    page.keyboard.press("?")
    assert not screen.is_visible()


def test_the_export_screen_shows_the_split_and_refuses_an_empty_validation_set(page, live_server):
    factories.approved_pairs({"Pro": 4})
    lead = factories.lead()
    log_in(page, live_server, lead.username, factories.PASSWORD)
    page.goto(f"{live_server.url}/qa/exports/")
    plan = page.locator("#export-plan")
    assert plan.locator('[data-split="train"]').inner_text() == "4"
    assert plan.locator('[data-split="validation"]').inner_text() == "0"
    assert "The validation set would be empty" in plan.get_by_role("alert").inner_text()

    page.get_by_label("Validation fraction").fill("0.25")
    page.wait_for_function(
        "document.querySelector('#export-plan [data-split=validation]').textContent === '1'"
    )
    assert plan.get_by_role("alert").count() == 0

    page.get_by_label("Validation fraction").fill("0.1")
    page.get_by_role("button", name="Export").click()
    page.wait_for_load_state()
    assert "The validation set would be empty" in page.locator("form.form-grid").inner_text()
    assert not FinetuneExport.objects.exists()

    page.get_by_label("Export without a validation set").check()
    page.get_by_role("button", name="Export").click()
    page.get_by_text("4 pairs, 4 for training and 0 for validation").wait_for()
    assert FinetuneExport.objects.get().manifest["total"] == 4
