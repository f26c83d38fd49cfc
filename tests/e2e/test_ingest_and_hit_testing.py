import re

import pytest
from django.conf import settings

from apps.knowledge.models import Document
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.VAR_DIR / "screenshots"


def test_a_lead_uploads_docs_watches_progress_and_finds_the_right_chunk(
    page, live_server, celery_worker
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    factories.ProductLineFactory(name="Pro", slug="pro")
    factories.ProductLineFactory(name="Enterprise", slug="enterprise")
    lead = factories.lead()
    log_in(page, live_server, lead.username, factories.PASSWORD)
    page.get_by_role("link", name="Ingest", exact=True).click()
    folder = settings.BASE_DIR / "demo" / "docs"
    docs = sorted(folder.rglob("*.md"))
    page.get_by_label("Or a folder").set_input_files(str(folder))
    page.get_by_role("button", name="Ingest").click()
    page.wait_for_url(re.compile(r".*/knowledge/ingest/\d+/$"))
    page.get_by_text(f"{len(docs)} of {len(docs)} files").wait_for(timeout=120_000)
    page.screenshot(path=str(SCREENSHOTS / "ingest-job.png"), full_page=True)
    assert page.locator("progress").get_attribute("value") == "100"
    assert Document.objects.count() == len(docs)
    assert Document.objects.filter(external_id="docs/pro/plan-limits.md").exists()

    page.get_by_role("link", name="Hit testing", exact=True).click()
    page.get_by_label("Question", exact=True).fill(
        "Uploads on the enterprise plan stop with ERR_SYNC_TIMEOUT"
    )
    page.get_by_label("Question", exact=True).press("Enter")
    first = page.locator(".hit").first
    first.wait_for()
    assert "Troubleshooting Skylark Sync Enterprise" in first.inner_text()
    assert "(inferred)" in page.locator(".applied-filters").inner_text()
    assert "mark" in first.inner_html()
    page.screenshot(path=str(SCREENSHOTS / "hit-testing.png"), full_page=True)

    page.get_by_text("Filters and mode").click()
    page.get_by_label("Infer filters from the question").uncheck()
    page.get_by_role("button", name="Search").click()
    page.locator(".applied-filters", has_text="No filters.").wait_for()
    titles = page.locator(".hit-head a").all_inner_texts()
    assert any("Pro" in title for title in titles)

    first_link = page.locator(".hit-head a").first
    first_link.click()
    page.locator(".context-chunk.current").wait_for()
    assert page.locator(".context-chunk.current mark").count() > 0
