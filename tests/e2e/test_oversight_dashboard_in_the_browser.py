"""A lead watches the dashboard move after a review and reads the edit's diff (Chromium)."""

import pytest
from django.conf import settings

from apps.synthetic import services
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _idle(page) -> None:
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def _figure(page, name: str) -> str:
    return page.locator(f'[data-figure-value="{name}"]').inner_text().strip()


def test_a_lead_sees_the_figures_move_after_a_review_and_reads_the_diff(page, live_server):
    first, second = factories.qa_pairs(2)
    services.pair_approve(pair=first, user=factories.reviewer(), version=1)
    lead = factories.lead()
    log_in(page, live_server, lead.username, factories.PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Oversight").click()
    page.get_by_role("heading", name="Oversight", exact=True).wait_for()
    assert _figure(page, "qa-decisions") == "1"
    assert _figure(page, "qa-approved-edited") == "0"
    page.locator("#qa-trend[data-drawn=true] svg").first.wait_for()  # plotly drew the chart
    assert page.get_by_text("No draft replies yet").is_visible()

    # The lead reviews the other pair with the keyboard, editing its answer.
    page.goto(f"{live_server.url}/qa/queue/")
    page.keyboard.press("n")
    page.get_by_role("heading", name=f"Pair {second.pk}").wait_for()
    _idle(page)
    page.keyboard.press("e")
    page.get_by_label("Answer").fill("Thirty days of history on the Pro plan.")
    page.get_by_role("button", name="Save and approve").click()
    page.get_by_text("All done").or_(page.get_by_text("Nothing left")).first.wait_for()

    page.locator("body").click()
    page.keyboard.press("g")
    page.keyboard.press("o")
    page.wait_for_url(f"{live_server.url}/oversight/")
    assert _figure(page, "qa-decisions") == "2"
    assert _figure(page, "qa-approved-edited") == "1"
    page.locator("#qa-edit-ratio[data-drawn=true] svg").first.wait_for()

    # Filters swap in new figures without a page load; the address keeps them.
    page.get_by_label("Range").select_option("7")
    _idle(page)
    assert "days=7" in page.url and _figure(page, "qa-decisions") == "2"
    page.get_by_label("Reviewer").select_option(label=lead.username)
    _idle(page)
    assert _figure(page, "qa-decisions") == "1"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    page.locator("#qa-trend[data-drawn=true] svg").first.wait_for()  # redrawn after the swap

    screenshots = settings.VAR_DIR / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "oversight.png"), full_page=True)

    page.get_by_role("link", name="Browse these decisions").click()
    page.get_by_role("heading", name="Decision log").wait_for()
    page.locator("table a").first.click()  # newest first: the lead's edit
    page.get_by_role("heading", name="approved after edits").wait_for()
    answer = page.get_by_role("region", name="answer")
    assert answer.locator('[data-side="before"]').inner_text() == "30 days on Pro."
    assert (
        answer.locator('[data-side="after"]').inner_text()
        == "Thirty days of history on the Pro plan."
    )
    assert answer.locator("del").first.inner_text() == "30"
    assert answer.locator("ins").first.inner_text() == "Thirty"
    page.screenshot(path=str(screenshots / "oversight-diff.png"), full_page=True)
