"""What a new user checks before trusting the knowledge base, in the browser: uploads that
say what happened to each file and where each date came from, a search that says when it
ignored or dropped a filter and when nothing matches well, and an evaluation that explains
its figures question by question."""

import datetime as dt
import os
import re
import shutil

import pytest
from django.conf import settings
from playwright.sync_api import expect

from apps.knowledge import evaluation
from apps.knowledge.models import Document, ProductLine
from tests import factories
from tests.conftest import SHARED_DATA
from tests.e2e.conftest import log_in
from tests.knowledge.helpers import ingest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.VAR_DIR / "screenshots"
REDIS = SHARED_DATA / "redis-docs" / "docs"
# A real documentation folder in miniature: three _index.md files, two with front matter only.
FOLDER = ["_index.md", "management/_index.md", "reference/_index.md", "management/persistence.md"]
FILE_DATE = dt.datetime(2025, 3, 2, 9, 30, tzinfo=dt.UTC)


def _shoot(page, name: str) -> None:
    """What a person sees first: the viewport, not the whole (long) page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


@pytest.fixture
def redis_folder(tmp_path):
    root = tmp_path / "docs"
    for relative in FOLDER:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REDIS / relative, target)
        os.utime(target, (FILE_DATE.timestamp(), FILE_DATE.timestamp()))
    return root


def test_a_folder_upload_into_a_new_product_line_says_what_happened_to_each_file(
    page, live_server, celery_worker, redis_folder
):
    lead = factories.lead()
    log_in(page, live_server, lead.username, factories.PASSWORD)
    page.get_by_role("link", name="Ingest", exact=True).click()
    name_field = page.get_by_label("Name of the new product line")
    expect(name_field).to_be_hidden()  # until asked for
    page.get_by_label("Product line", exact=True).select_option(label="New product line…")
    expect(name_field).to_be_focused()
    name_field.fill("Redis")
    _shoot(page, "upload-new-product-line.png")
    page.get_by_label("Or a folder").set_input_files(str(redis_folder))
    dates = page.locator("input[name=folder_dates]").input_value()
    assert re.fullmatch(rf"\[{int(FILE_DATE.timestamp() * 1000)}(,\d+)*\]", dates)
    page.get_by_role("button", name="Ingest").click()
    page.wait_for_url(re.compile(r".*/knowledge/ingest/\d+/$"))
    page.get_by_text(f"{len(FOLDER)} of {len(FOLDER)} files · Done").wait_for(timeout=120_000)
    _shoot(page, "job-folder-paths.png")

    rows = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
        for row in page.locator("#job-progress tbody tr").all()
    }
    assert rows == {
        "docs/_index.md": "Done",
        "docs/management/_index.md": "Skipped: no content",
        "docs/reference/_index.md": "Skipped: no content",
        "docs/management/persistence.md": "Done",
    }
    assert "product line Redis" in page.locator("main").inner_text()
    assert ProductLine.objects.filter(name="Redis").exists()

    document = Document.objects.get(external_id="docs/management/persistence.md")
    assert document.product_line.name == "Redis"
    page.goto(f"{live_server.url}/knowledge/documents/{document.pk}/")
    meta = page.locator("dl.meta").inner_text()
    assert "2025-03-02 (file date)" in meta
    assert (
        "Chunks of at most 300 tokens with 50 tokens of overlap, fitted to the 256 tokens the "
        "embedding model reads (all-MiniLM-L6-v2)" in meta
    )
    assert "site-packages" not in meta
    _shoot(page, "document-date-and-chunking.png")


def test_the_search_screen_says_when_a_filter_was_ignored_dropped_or_finds_nothing_good(
    page, live_server, demo_docs
):
    ingest({f"redis/{p}": REDIS.joinpath(p).read_bytes() for p in ["management/persistence.md"]})
    reviewer = factories.reviewer()
    log_in(page, live_server, reviewer.username, factories.PASSWORD)
    page.get_by_role("link", name="Hit testing", exact=True).click()
    question = page.get_by_label("Question", exact=True)
    notes = page.locator(".search-notices")

    question.fill("does Redis Enterprise support AOF persistence")
    question.press("Enter")
    notes.wait_for()
    assert "only as part of “Redis Enterprise”, another name" in notes.inner_text()
    assert page.locator(".hit-head a").first.inner_text() == "Redis persistence"
    _shoot(page, "search-ambiguous-mention.png")

    question.fill("On the Enterprise plan, how do I turn on AOF persistence?")
    question.press("Enter")
    page.get_by_text("but the best matches are outside that product line").wait_for()
    assert page.locator(".hit-head a").first.inner_text() == "Redis persistence"
    _shoot(page, "search-dropped-filter.png")

    page.get_by_text("Filters and mode").click()
    page.get_by_label("Infer filters from the question").uncheck()
    page.get_by_label("Product lines").select_option(label="Enterprise")
    question.fill("How does the AOF rewrite work?")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("No good match in this product line").wait_for()
    assert page.locator(".hit").count() > 0  # still shown, under the warning
    _shoot(page, "search-weak-matches.png")


def _run(name: str, queries: list[dict]):
    run = evaluation.eval_run_create(
        name=name,
        queries=[evaluation.EvalQuery(**q) for q in queries],
        mode="hybrid",
        ks=[1, 5, 10],
        use_filters=True,
    )
    evaluation.eval_run_execute(run_id=run.pk)
    return run


def test_the_evaluation_screen_explains_its_figures_and_shows_every_question(
    page, live_server, demo_docs
):
    sso = {
        "question": "How do I set up SAML single sign-on?",
        "gold_doc_id": "demo/enterprise/sso-setup.md",
        "product_line": "Enterprise",
    }
    wrong_line = {
        "question": "Members cannot sign in after SSO is enforced (E1042)",
        "gold_doc_id": "demo/enterprise/troubleshooting.md",
        "product_line": "Pro",
    }
    both = _run("both lines", [sso, wrong_line])
    _run("enterprise only", [sso])
    lead = factories.lead()
    log_in(page, live_server, lead.username, factories.PASSWORD)
    page.get_by_role("link", name="Evaluation", exact=True).click()
    runs = page.locator("#runs")
    assert "MRR@10: the average of 1 ÷ the gold document's rank" in runs.inner_text()
    row = page.locator("#runs tbody tr", has_text="both lines")
    assert row.locator("td.num").first.inner_text() == "2"  # n
    page.get_by_label("Compare both lines").check()
    page.get_by_label("Compare enterprise only").check()
    page.get_by_role("button", name="Compare selected").click()
    compare = page.locator("table.compare")
    compare.wait_for()
    pro = compare.locator("tr", has_text="Pro").locator("td").all_inner_texts()
    assert pro.count("—") == 1  # the run that asked nothing about Pro
    assert "— /" not in compare.inner_text()
    compare.scroll_into_view_if_needed()
    _shoot(page, "evaluation-runs.png")

    page.get_by_role("link", name="both lines").click()
    page.wait_for_url(f"**/knowledge/evaluation/{both.pk}/")
    table = page.locator("table.questions")
    assert table.locator("tr.found").count() == 1 and table.locator("tr.missed").count() == 1
    page.get_by_role("link", name="Missed only (1)").click()
    missed = page.locator("table.questions tbody tr")
    assert missed.count() == 1
    text = missed.first.inner_text()
    assert "Members cannot sign in after SSO is enforced" in text and "missed" in text
    assert "Troubleshooting Skylark Sync Pro" in text  # what came back instead
    _shoot(page, "evaluation-questions.png")
