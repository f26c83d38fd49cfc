"""Turn a file's bytes into structured blocks: text, code and tables under a heading path.

Each parser keeps the document's structure so the chunker can keep code blocks and tables
whole and stamp every chunk with the section it came from.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import yaml

FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".text": "text",
    ".pdf": "pdf",
    ".jsonl": "jsonl",
}


class ParseError(Exception):
    """The file cannot be read as what it claims to be; the message is shown to the user."""


class NoContent(ParseError):
    """The file reads fine but holds nothing to index (front matter and no body, headings
    only): skipped with this reason, not failed."""


@dataclass
class Block:
    kind: str  # "text", "code", "table" or "heading"
    text: str
    heading_path: tuple[str, ...]


@dataclass
class ParsedDocument:
    external_id: str
    title: str
    format: str
    blocks: list[Block]
    product_line: str = ""
    updated_at: dt.date | None = None
    url: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(block.text for block in self.blocks)


@dataclass
class LineError:
    line: int
    message: str


def format_for(name: str) -> str | None:
    return FORMATS.get(PurePosixPath(name.lower()).suffix)


def decode_text(data: bytes) -> str:
    if not data.strip():
        raise ParseError("The file is empty.")
    if b"\x00" in data[:8192]:
        raise ParseError("The file looks binary (it contains NUL bytes), not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"The file is not valid UTF-8 (byte {exc.start}).") from None


def title_from_name(name: str, *, text: str = "") -> str:
    """A title for a file without one: its name's words, spelt as the text spells them most
    often when it does ("acl-setuser.md" about `ACL SETUSER` → "ACL SETUSER"), else with a
    capital first letter ("getting-started.md" → "Getting started")."""
    words = re.sub(r"[-_]+", " ", PurePosixPath(name).stem).strip()
    if not words:
        return name
    pattern = r"(?<![\w-])" + r"[ _-]".join(map(re.escape, words.split())) + r"(?![\w-])"
    spellings = Counter(re.findall(pattern, text, re.IGNORECASE))
    # The text's own spelling, separators included ("BITFIELD_RO"), unless all lower case.
    written = [s for s, _ in spellings.most_common() if s != s.lower()]
    return written[0] if written else words[0].upper() + words[1:]


# --- front matter and dates --------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ParseError(f"The YAML front matter is invalid: {exc}") from None
    if not isinstance(meta, dict):
        meta = {}
    return meta, text[match.end() :]


def parse_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _first(meta: dict, *keys: str):
    for key in keys:
        if meta.get(key) not in (None, ""):
            return meta[key]
    return None


def _json_safe(meta: dict) -> dict:
    return json.loads(json.dumps(meta, default=str))


# --- Markdown ---------------------------------------------------------------------------------


def parse_markdown(text: str) -> tuple[dict, list[Block]]:
    from markdown_it import MarkdownIt

    meta, body = split_front_matter(text)
    lines = body.splitlines()
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.level != 0 or token.map is None:
            index += 1
            continue
        start, end = token.map
        source = "\n".join(lines[start:end]).strip()
        if token.type == "heading_open":
            depth = int(token.tag[1])
            title = tokens[index + 1].content.strip()
            headings = [h for h in headings if h[0] < depth] + [(depth, title)]
            blocks.append(Block("heading", source, tuple(h[1] for h in headings)))
        elif source:
            kind = {"fence": "code", "code_block": "code", "table_open": "table"}.get(
                token.type, "text"
            )
            blocks.append(Block(kind, source, tuple(h[1] for h in headings)))
        index += 1
        # Skip to the end of this top-level block: nested tokens were covered by its lines.
        while index < len(tokens) and tokens[index].level != 0:
            index += 1
        if index < len(tokens) and tokens[index].nesting == -1:
            index += 1
    return meta, blocks


# --- reStructuredText -----------------------------------------------------------------------


def parse_rst(text: str) -> tuple[dict, list[Block]]:
    from docutils import nodes
    from docutils.core import publish_doctree

    try:
        doctree = publish_doctree(
            text,
            settings_overrides={
                "report_level": 5,
                "halt_level": 5,
                "file_insertion_enabled": False,
                "raw_enabled": False,
            },
        )
    except Exception as exc:  # docutils raises many types on broken input
        raise ParseError(f"The reStructuredText could not be parsed: {exc}") from None
    blocks: list[Block] = []
    doc_title = ""

    def walk(node, path: tuple[str, ...]) -> None:
        nonlocal doc_title
        for child in node.children:
            if isinstance(child, nodes.title):
                if not path:
                    doc_title = child.astext()
                continue
            if isinstance(child, nodes.section):
                title = child.next_node(nodes.title)
                sub = (*path, title.astext()) if title is not None else path
                blocks.append(Block("heading", sub[-1] if sub else "", sub))
                walk(child, sub)
            elif isinstance(child, (nodes.literal_block, nodes.doctest_block)):
                blocks.append(Block("code", child.astext(), path))
            elif isinstance(child, nodes.table):
                blocks.append(Block("table", child.astext(), path))
            elif isinstance(
                child,
                (
                    nodes.paragraph,
                    nodes.Admonition,
                    nodes.block_quote,
                    nodes.bullet_list,
                    nodes.enumerated_list,
                    nodes.definition_list,
                    nodes.field_list,
                ),
            ):
                content = child.astext().strip()
                if content:
                    blocks.append(Block("text", content, path))
            elif isinstance(child, nodes.Element):
                walk(child, path)

    walk(doctree, ())
    return ({"title": doc_title} if doc_title else {}), blocks


# --- HTML -------------------------------------------------------------------------------------


def parse_html(text: str) -> tuple[dict, list[Block]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    meta: dict = {}
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
    for tag in soup(["script", "style", "nav", "noscript", "template", "header", "footer"]):
        tag.decompose()
    body = soup.body or soup
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    wanted = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "pre", "table", "li", "blockquote", "dd"]
    for element in body.find_all(wanted):
        if element.find_parent(["pre", "table", "li", "blockquote"]) is not None:
            continue  # already taken whole with its container
        name = element.name
        if name[0] == "h" and name[1:].isdigit():
            depth = int(name[1])
            title = element.get_text(" ", strip=True)
            headings = [h for h in headings if h[0] < depth] + [(depth, title)]
            blocks.append(Block("heading", title, tuple(h[1] for h in headings)))
            continue
        path = tuple(h[1] for h in headings)
        if name == "pre":
            blocks.append(Block("code", element.get_text().strip("\n"), path))
        elif name == "table":
            rows = [
                " | ".join(cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"]))
                for row in element.find_all("tr")
            ]
            blocks.append(Block("table", "\n".join(rows), path))
        else:
            content = element.get_text(" ", strip=True)
            if content:
                prefix = "- " if name == "li" else ""
                blocks.append(Block("text", prefix + content, path))
    if "title" not in meta and headings:
        meta["title"] = headings[0][1]
    return meta, blocks


# --- plain text and PDF -------------------------------------------------------------------------


def parse_plain(text: str, path: tuple[str, ...] = ()) -> list[Block]:
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    return [Block("text", p.strip(), path) for p in paragraphs if p.strip()]


def parse_pdf(data: bytes) -> tuple[dict, list[Block]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF"):
        raise ParseError("The file does not start like a PDF; it may be corrupt or mislabelled.")
    try:
        reader = PdfReader(io.BytesIO(data))
        meta = {}
        if reader.metadata and reader.metadata.title:
            meta["title"] = str(reader.metadata.title)
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            blocks.extend(parse_plain(page.extract_text() or "", (f"Page {number}",)))
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"The PDF could not be read: {exc}") from None
    if not blocks:
        raise ParseError("The PDF has no extractable text (is it a scan?).")
    return meta, blocks


# --- one file → documents -----------------------------------------------------------------------


def parse_file(*, name: str, data: bytes, external_id: str) -> ParsedDocument:
    """Parse a single-document file (every format except JSONL)."""
    fmt = format_for(name)
    if fmt is None or fmt == "jsonl":
        raise ParseError(f"Unsupported file type: {PurePosixPath(name).suffix or 'no extension'}.")
    if fmt == "pdf":
        meta, blocks = parse_pdf(data)
    else:
        text = decode_text(data)
        parser = {"markdown": parse_markdown, "rst": parse_rst, "html": parse_html}.get(fmt)
        meta, blocks = parser(text) if parser else ({}, parse_plain(text))
    if not any(block.kind != "heading" and block.text.strip() for block in blocks):
        if fmt == "pdf":  # a scan: there is content, it just cannot be read as text
            raise ParseError("No readable text was found in the file.")
        if fmt == "markdown" and meta and not blocks:
            raise NoContent("No content: the file has front matter but no body.")
        raise NoContent("No content: the file has no text besides headings.")
    parsed = ParsedDocument(
        external_id=external_id,
        title=str(_first(meta, "title", "linkTitle") or "")[:500],
        format=fmt,
        blocks=blocks,
        product_line=str(_first(meta, "product_line", "product-line", "product") or ""),
        updated_at=parse_date(_first(meta, "updated_at", "last_updated", "updated", "date")),
        url=str(_first(meta, "url", "source_url", "source") or ""),
        metadata=_json_safe(meta),
    )
    if not parsed.title:
        parsed.title = title_from_name(name, text=parsed.text)[:500]
    return parsed


# JSONL keys: the documented ones first, then common aliases (doc_id, domain) so public
# corpora ingest without a conversion step.
_JSONL_KEYS = {
    "id": ("id", "doc_id", "_id"),
    "text": ("text", "content", "body"),
    "title": ("title",),
    "product_line": ("product_line", "domain"),
    "updated_at": ("updated_at", "last_updated", "updated"),
    "url": ("url", "source_url"),
}


def parse_jsonl(data: bytes) -> tuple[list[tuple[int, ParsedDocument]], list[LineError]]:
    """Each valid line becomes a document; each bad line is reported with its number."""
    text = decode_text(data)
    documents: list[tuple[int, ParsedDocument]] = []
    errors: list[LineError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append((number, _jsonl_document(line)))
        except ParseError as exc:
            errors.append(LineError(number, str(exc)))
    if not documents and not errors:
        raise ParseError("The JSONL file has no records.")
    return documents, errors


def _jsonl_document(line: str) -> ParsedDocument:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ParseError("a record must be a JSON object")
    values = {key: _first(record, *aliases) for key, aliases in _JSONL_KEYS.items()}
    if values["id"] is None:
        raise ParseError('missing "id"')
    if not isinstance(values["text"], str) or not values["text"].strip():
        raise ParseError('missing or empty "text"')
    external_id = str(values["id"])[:500]
    return ParsedDocument(
        external_id=external_id,
        title=str(values["title"] or external_id)[:500],
        format="jsonl",
        blocks=parse_plain(values["text"]),
        product_line=str(values["product_line"] or ""),
        updated_at=parse_date(values["updated_at"]),
        url=str(values["url"] or ""),
        metadata=_json_safe({k: v for k, v in record.items() if k not in {"text", "content"}}),
    )


# --- archives ---------------------------------------------------------------------------------

# Decompression block: small enough that a member stops within 64 KB of its limit.
_READ_BLOCK = 64 * 1024


def is_archive(name: str) -> bool:
    return PurePosixPath(name.lower()).suffix == ".zip"


def archive_member_path(name: str) -> str | None:
    """The member's path inside the archive, normalised ("a/./b/../c.md" -> "a/c.md"), or None
    when it points outside the archive (absolute, a drive letter, or climbing above its root
    with ".."): unpacked anywhere, such a name would land outside the folder."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or cleaned[1:2] == ":":  # absolute, or a drive ("C:")
        return None
    parts: list[str] = []
    for part in cleaned.split("/"):
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def archive_member_is_junk(path: str) -> bool:
    """Files a zip tool adds on its own (macOS resource forks, dotfiles): skipped silently."""
    # Plain string work: an archive may hold many thousands of names.
    parts = path.split("/")
    return "__MACOSX" in parts or any(part.startswith(".") for part in parts)


class MemberUnread(ParseError):
    """An archive member that was not (fully) read. `read` counts the bytes decompressed
    before stopping, which still count against the job's decompression budget."""

    def __init__(self, message: str, *, read: int = 0, over_limit: bool = False) -> None:
        super().__init__(message)
        self.read, self.over_limit = read, over_limit


def archive_member_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, limit: int) -> bytes:
    """Decompress one member block by block, counting the bytes really produced, and stop as
    soon as they pass `limit`, whatever size the archive's header declares."""
    if info.flag_bits & 0x1:
        raise MemberUnread("The file is encrypted; password-protected archives cannot be read.")
    data = bytearray()
    try:
        with archive.open(info) as stream:
            while block := stream.read(_READ_BLOCK):
                data += block
                if len(data) > limit:
                    raise MemberUnread("", read=len(data), over_limit=True)
    except NotImplementedError as exc:
        message = f"The file uses a compression method that cannot be read ({exc})."
        raise MemberUnread(message) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as exc:
        # zipfile reads no more than the declared size and then checks the CRC: a member that
        # understates its size (a zip bomb) ends here, after the declared bytes only.
        raise MemberUnread(
            f"The archive entry is damaged ({exc}); it was not read.", read=len(data)
        ) from None
    return bytes(data)
