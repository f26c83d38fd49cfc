import pytest
from django.conf import settings

from apps.oversight.models import EditLogEntry
from apps.synthetic.models import QAPair
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _idle(page) -> None:
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def test_a_reviewer_works_the_queue_with_the_keyboard(page, live_server):
    first, second, third, fourth = factories.qa_pairs(4)
    reviewer = factories.reviewer()
    log_in(page, live_server, reviewer.username, factories.PASSWORD)
    page.goto(f"{live_server.url}/qa/queue/")
    page.keyboard.press("n")
    page.get_by_role("heading", name=f"Pair {first.pk}").wait_for()
    assert page.locator("mark").inner_text() == "Pro keeps 30 days of version history."
    screenshots = settings.VAR_DIR / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "review.png"), full_page=True)
    url_before = page.url

    _idle(page)
    page.keyboard.press("a")  # approve: the next pair is swapped in, no page load
    page.get_by_role("heading", name=f"Pair {second.pk}").wait_for()
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert page.url != url_before  # the address follows the pair shown

    _idle(page)
    page.keyboard.press("e")
    answer = page.get_by_label("Answer")
    answer.fill("Thirty days on the Pro plan.")
    answer.press("Control+Enter")  # saves from the field, no mouse
    page.get_by_role("heading", name=f"Pair {third.pk}").wait_for()

    _idle(page)
    page.keyboard.press("r")
    page.get_by_label("Not in the docs").check()
    page.get_by_role("button", name="Reject", exact=True).click()
    page.get_by_role("heading", name=f"Pair {fourth.pk}").wait_for()

    _idle(page)
    page.keyboard.press("k")  # no pending pair before this one: it is the only one left
    page.get_by_text("This is the only pair left for you to review").wait_for()
    assert page.get_by_role("heading", name=f"Pair {fourth.pk}").is_visible()
    page.screenshot(path=str(screenshots / "review-last.png"))

    statuses = dict(QAPair.objects.values_list("pk", "status"))
    assert statuses == {
        first.pk: "approved",
        second.pk: "approved",
        third.pk: "rejected",
        fourth.pk: "pending",
    }
    assert EditLogEntry.objects.get(edited=True).after["answer"] == "Thirty days on the Pro plan."
