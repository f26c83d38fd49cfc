import pytest

from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LEAD_LINKS = [
    "Tickets",
    "Replies",
    "Review Q&A",
    "Documents",
    "Hit testing",
    "Ingest",
    "Evaluation",
    "Generate Q&A",
    "Export",
    "Telemetry",
    "Oversight",
    "Deliveries",
]


@pytest.mark.parametrize(
    ("make", "role", "links"),
    [
        (
            factories.reviewer,
            "Reviewer",
            ["Tickets", "Replies", "Review Q&A", "Documents", "Hit testing"],
        ),
        (
            factories.lead,
            "Support lead",
            LEAD_LINKS,
        ),
        (
            factories.admin,
            "Admin",
            [*LEAD_LINKS, "Admin"],
        ),
    ],
)
def test_each_role_logs_in_and_sees_its_navigation(page, live_server, make, role, links):
    user = make()
    log_in(page, live_server, user.username, factories.PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == links
    assert page.locator(".role-badge").inner_text() == role


def test_a_reviewer_sent_to_a_lead_screen_gets_forbidden(page, live_server):
    user = factories.reviewer()
    log_in(page, live_server, user.username, factories.PASSWORD)
    response = page.goto(f"{live_server.url}/knowledge/ingest/")
    assert response.status == 403
    assert "This screen is for support leads." in page.locator("main").inner_text()
    assert page.get_by_role("navigation", name="Main").is_visible()
    page.get_by_role("link", name="Back to home").click()
    page.wait_for_url(f"{live_server.url}/")


def test_a_wrong_password_is_explained(page, live_server):
    factories.reviewer(username="riley")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("riley")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert "didn't match" in page.get_by_role("alert").inner_text()


def test_keyboard_shortcuts_move_between_screens(page, live_server):
    user = factories.lead()
    log_in(page, live_server, user.username, factories.PASSWORD)
    page.keyboard.press("g")
    page.keyboard.press("s")
    page.wait_for_url(f"{live_server.url}/knowledge/search/")
    page.locator("body").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.press("Escape")
    page.locator("h1").click()
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
