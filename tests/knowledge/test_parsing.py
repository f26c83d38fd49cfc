import pytest

from apps.knowledge.parsing import (
    NoContent,
    ParseError,
    archive_member_path,
    parse_file,
    parse_jsonl,
)
from tests.knowledge import samples


def _parse(name: str, data: bytes):
    return parse_file(name=name, data=data, external_id=name)


def test_markdown_front_matter_becomes_metadata():
    doc = _parse("sync.md", samples.MARKDOWN)
    assert doc.title == "Sync troubleshooting"
    assert doc.product_line == "Enterprise"
    assert str(doc.updated_at) == "2026-05-04"
    assert doc.url == "https://docs.example/sync"
    assert "product_line:" not in doc.text


def test_markdown_keeps_headings_code_blocks_and_tables_whole():
    doc = _parse("sync.md", samples.MARKDOWN)
    kinds = {block.kind: block for block in doc.blocks}
    assert kinds["code"].text.startswith("```bash") and "--resume" in kinds["code"].text
    assert kinds["table"].text.count("\n") == 3
    assert kinds["code"].heading_path == ("Sync troubleshooting", "Timeouts")


def test_restructuredtext_sections_become_heading_paths():
    doc = _parse("account.rst", samples.RST)
    assert doc.title == "Account guide"
    code = next(b for b in doc.blocks if b.kind == "code")
    assert code.text == "skylark-sync --login"
    storage = next(b for b in doc.blocks if "2 TB" in b.text)
    assert storage.heading_path[-1] == "Storage"


def test_html_drops_scripts_and_navigation_and_keeps_structure():
    doc = _parse("guests.html", samples.HTML)
    assert doc.title == "Guest access"
    assert "alert" not in doc.text and "Home | Docs" not in doc.text
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.text == "Plan | Guests\nPro | 50"
    assert table.heading_path == ("Guest access", "Limits")


def test_plain_text_splits_into_paragraphs_and_titles_from_the_file_name():
    doc = _parse("version_history.txt", samples.TEXT)
    assert doc.title == "Version history"
    assert len(doc.blocks) == 3


def test_pdf_text_is_extracted_per_page():
    doc = _parse(
        "limits.pdf",
        samples.pdf(["Enterprise allows 6,000 requests per minute."], title="API limits"),
    )
    assert doc.title == "API limits"
    assert "6,000 requests per minute" in doc.text
    assert doc.blocks[0].heading_path == ("Page 1",)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.md", b"  \n", "empty"),
        ("binary.txt", b"\x00\x01\x02binary", "binary"),
        ("latin1.txt", "café".encode("latin-1"), "not valid UTF-8"),
        ("broken.pdf", b"%PDF-1.4\n garbage", "could not be read"),
        ("fake.pdf", b"this is not a pdf", "does not start like a PDF"),
        ("image.png", b"\x89PNG", "Unsupported file type"),
    ],
)
def test_bad_files_raise_a_reason_a_person_can_act_on(name, data, reason):
    with pytest.raises(ParseError, match=reason):
        _parse(name, data)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("only-front-matter.md", b"---\ntitle: x\n---\n", "front matter but no body"),
        ("headings.md", b"# Title\n\n## Later\n", "no text besides headings"),
        ("bare.html", b"<html><head><title>T</title></head><body></body></html>", "headings"),
    ],
)
def test_a_file_that_reads_fine_but_holds_nothing_to_index_has_no_content(name, data, reason):
    with pytest.raises(NoContent, match=f"No content: .*{reason}"):
        _parse(name, data)


def test_jsonl_reports_each_malformed_line_with_its_number_and_keeps_the_rest():
    data = samples.jsonl(
        [
            {"id": "a", "text": "First document.", "product_line": "Pro"},
            "{not json",
            {"text": "no id"},
            {"id": "b", "text": "   "},
            {"doc_id": "c", "text": "Aliased keys.", "domain": "dmv", "updated_at": "2026-01-02"},
        ]
    )
    documents, errors = parse_jsonl(data)
    assert [(line, doc.external_id) for line, doc in documents] == [(1, "a"), (5, "c")]
    assert [(e.line, e.message.split(" (")[0]) for e in errors] == [
        (2, "invalid JSON"),
        (3, 'missing "id"'),
        (4, 'missing or empty "text"'),
    ]
    assert documents[1][1].product_line == "dmv"
    assert str(documents[1][1].updated_at) == "2026-01-02"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("docs/a.md", "docs/a.md"),
        ("docs/./sub/../a.md", "docs/a.md"),
        ("docs\\win\\a.md", "docs/win/a.md"),
        ("../evil.md", None),
        ("docs/../../evil.md", None),
        ("/etc/evil.md", None),
        ("C:/evil.md", None),
    ],
)
def test_archive_member_paths_are_normalised_and_escaping_ones_refused(name, expected):
    assert archive_member_path(name) == expected


@pytest.mark.parametrize(
    ("name", "text", "title"),
    [
        # A Redis command page has no title: the command as the page spells it.
        (
            "acl-setuser.md",
            "Create an ACL user.\n\n    ACL SETUSER virginia on\n\nUse another `ACL SETUSER`.",
            "ACL SETUSER",
        ),
        ("bitfield_ro.md", "Read-only variant of the `BITFIELD_RO` command.", "BITFIELD_RO"),
        # Not in the text, or only in lower case: the file name's words.
        ("getting-started.md", "Install the app, then sign in.", "Getting started"),
        ("offline-mode.md", "Turn offline mode on in the settings.", "Offline mode"),
    ],
)
def test_a_page_without_a_title_is_named_after_its_file_as_its_text_spells_it(name, text, title):
    assert _parse(name, text.encode()).title == title
