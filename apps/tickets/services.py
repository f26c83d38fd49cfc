"""Tickets in: the web form, CSV/JSONL imports and the API all create tickets through here, with
one set of field rules, so a value refused by one door is refused by the others."""

import csv
import hashlib
import io
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from apps.knowledge.models import ProductLine
from apps.knowledge.services import size_text
from apps.tickets.models import ApiClient, Ticket

FIELDS = (
    "external_id",
    "subject",
    "body",
    "customer_name",
    "customer_email",
    "product_line",
    "priority",
)
REQUIRED = ("external_id", "body")

# What happens to every new ticket (drafting a reply) lives in apps above this one; they
# register here when Django starts, so each door that creates tickets tells them.
_created_listeners: list[Callable[[list[int]], None]] = []


def tickets_created_listen(listener: Callable[[list[int]], None]) -> None:
    if listener not in _created_listeners:
        _created_listeners.append(listener)


def _tickets_created(ids: list[int]) -> None:
    """Called inside the creating transaction: listeners queue their work on commit."""
    for listener in _created_listeners:
        listener(ids)


# Column names helpdesk exports use for our fields, after normalising (lower case, spaces and
# hyphens as underscores). The canonical name wins when a file has both.
ALIASES = {
    "id": "external_id",
    "ticket_id": "external_id",
    "ticket": "external_id",
    "ticket_number": "external_id",
    "external_id": "external_id",
    "message": "body",
    "text": "body",
    "description": "body",
    "body": "body",
    "email": "customer_email",
    "customer_email": "customer_email",
    "requester_email": "customer_email",
    "name": "customer_name",
    "customer": "customer_name",
    "customer_name": "customer_name",
    "requester": "customer_name",
    "title": "subject",
    "subject": "subject",
    "product": "product_line",
    "plan": "product_line",
    "product_line": "product_line",
    "priority": "priority",
}

# Helpdesks spell priorities their own way; anything else is a row error, not a guess.
PRIORITY_WORDS = {
    "low": Ticket.Priority.LOW,
    "p4": Ticket.Priority.LOW,
    "normal": Ticket.Priority.NORMAL,
    "medium": Ticket.Priority.NORMAL,
    "p3": Ticket.Priority.NORMAL,
    "high": Ticket.Priority.HIGH,
    "p2": Ticket.Priority.HIGH,
    "urgent": Ticket.Priority.URGENT,
    "critical": Ticket.Priority.URGENT,
    "p1": Ticket.Priority.URGENT,
}

MAX_LENGTHS = {
    name: Ticket._meta.get_field(name).max_length
    for name in ("external_id", "subject", "customer_name", "customer_email")
}

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class TicketImportRefused(Exception):
    """The whole file cannot be read (too large, not UTF-8, unknown format, no usable header):
    nothing was imported."""


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str


@dataclass(frozen=True)
class SkippedRow:
    line: int
    external_id: str
    reason: str


@dataclass
class ImportReport:
    format: str
    created: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    skipped_rows: list[SkippedRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)


class TicketInvalid(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in errors))


# --- field rules ----------------------------------------------------------------------------


class _ProductLines:
    """Every product line loaded once per import, found by name, slug or alias."""

    def __init__(self) -> None:
        self.lines = list(ProductLine.objects.all())
        self.by_key: dict[str, ProductLine] = {}
        for line in self.lines:
            for key in [*line.alias_list, line.slug, line.name]:
                self.by_key[key.strip().lower()] = line

    def find(self, value: str) -> ProductLine | None:
        return self.by_key.get(value.strip().lower())

    def known(self) -> str:
        return ", ".join(line.name for line in self.lines) or "none defined yet"


def _clean(
    raw: dict[str, object], product_lines: _ProductLines
) -> tuple[dict, list[tuple[str, str]]]:
    """The ticket's field values from one row or request, and every problem found (field,
    reason): all of them, so one correction fixes the row."""
    errors: list[tuple[str, str]] = []
    text: dict[str, str] = {}
    for name in FIELDS:
        value = raw.get(name)
        if value is None:
            value = ""
        elif isinstance(value, int | float) and not isinstance(value, bool):
            # JSON numbers make sense only as ids ("id": 1042); elsewhere they pass as text.
            value = str(value)
        elif not isinstance(value, str):
            errors.append((name, f"must be text, not {type(value).__name__}"))
            continue
        # Windows line endings from exports become plain newlines; the body keeps its lines.
        text[name] = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    values: dict = {}
    for name in FIELDS:
        if name not in text:
            continue
        value = text[name]
        if name in REQUIRED and not value:
            errors.append((name, "is required"))
            continue
        limit = MAX_LENGTHS.get(name)
        if limit and len(value) > limit:
            errors.append((name, f"is {len(value)} characters; at most {limit} are allowed"))
            continue
        if name == "customer_email" and value:
            try:
                validate_email(value)
            except ValidationError:
                errors.append((name, f"“{value}” is not a valid email address"))
                continue
        if name == "priority":
            if not value:
                values[name] = Ticket.Priority.NORMAL
                continue
            priority = PRIORITY_WORDS.get(value.lower())
            if priority is None:
                allowed = ", ".join(Ticket.Priority.values)
                errors.append((name, f"unknown priority “{value}”; use one of {allowed}"))
                continue
            values[name] = priority
            continue
        if name == "product_line":
            if not value:
                values[name] = None
                continue
            line = product_lines.find(value)
            if line is None:
                errors.append(
                    (name, f"unknown product line “{value}”; known: {product_lines.known()}")
                )
                continue
            values[name] = line
            continue
        values[name] = value
    return values, errors


# --- one ticket -----------------------------------------------------------------------------


def ticket_create(
    *,
    external_id: str,
    body: str,
    source: str,
    subject: str = "",
    customer_name: str = "",
    customer_email: str = "",
    product_line: ProductLine | str | None = None,
    priority: str = Ticket.Priority.NORMAL,
    created_by=None,
    api_client: ApiClient | None = None,
) -> Ticket:
    """One new ticket, with the same field rules as an import; raises TicketInvalid."""
    ticket, created = ticket_get_or_create(
        external_id=external_id,
        body=body,
        source=source,
        subject=subject,
        customer_name=customer_name,
        customer_email=customer_email,
        product_line=product_line,
        priority=priority,
        created_by=created_by,
        api_client=api_client,
    )
    if not created:
        raise TicketInvalid([("external_id", f"a ticket “{external_id}” already exists")])
    return ticket


def ticket_get_or_create(
    *,
    external_id: str,
    body: str,
    source: str,
    subject: str = "",
    customer_name: str = "",
    customer_email: str = "",
    product_line: ProductLine | str | None = None,
    priority: str = Ticket.Priority.NORMAL,
    created_by=None,
    api_client: ApiClient | None = None,
) -> tuple[Ticket, bool]:
    """The ticket with this external id from this source, created when new. Sending the same
    ticket twice (a client retrying after a timeout) returns the first one unchanged."""
    raw = {
        "external_id": external_id,
        "body": body,
        "subject": subject,
        "customer_name": customer_name,
        "customer_email": customer_email,
        "priority": priority,
        "product_line": product_line.name if isinstance(product_line, ProductLine) else None,
    }
    if isinstance(product_line, str):
        raw["product_line"] = product_line
    values, errors = _clean(raw, _ProductLines())
    if errors:
        raise TicketInvalid(errors)
    # get_or_create relies on the unique constraint: two concurrent posts make one ticket.
    with transaction.atomic():
        ticket, created = Ticket.objects.get_or_create(
            source=source,
            external_id=values.pop("external_id"),
            defaults={**values, "created_by": created_by, "api_client": api_client},
        )
        if created:
            _tickets_created([ticket.pk])
            # Listeners move the ticket on (drafting): answer with what is stored.
            ticket.refresh_from_db(fields=["status", "drafts_requested"])
    return ticket, created


def web_external_id() -> str:
    """An id for a ticket typed into the form, which has none of its own."""
    return f"web-{timezone.now():%Y%m%d}-{secrets.token_hex(4)}"


# --- imports --------------------------------------------------------------------------------


def import_format(*, filename: str, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("csv", "jsonl"):
            raise TicketImportRefused(f"Unknown format “{fmt}”: use csv or jsonl.")
        return fmt
    suffix = PurePath(filename).suffix.lower()
    if suffix not in FORMATS:
        raise TicketImportRefused(
            f"Cannot tell the format of “{filename}” from its extension: name it .csv or "
            ".jsonl, or choose the format."
        )
    return FORMATS[suffix]


def import_too_large_message(*, name: str, size: int) -> str:
    limit = size_text(settings.UPLOAD_MAX_FILE_BYTES)
    return (
        f"{name} is {size_text(size)}; tickets are imported from files of at most {limit}. "
        "Split the file and import the parts."
    )


def tickets_import(
    *,
    data: bytes,
    filename: str,
    fmt: str | None = None,
    source: str = Ticket.Source.IMPORT,
    created_by=None,
) -> ImportReport:
    """Create a ticket for each good row of a CSV or JSONL file. A bad row is reported (line,
    field, reason) and the rest imported; an external id already present, or met earlier in
    the file, is skipped. Raises TicketImportRefused when the file as a whole cannot be read."""
    fmt = import_format(filename=filename, fmt=fmt)
    if len(data) > settings.UPLOAD_MAX_FILE_BYTES:
        raise TicketImportRefused(import_too_large_message(name=filename, size=len(data)))
    try:
        # utf-8-sig drops the byte-order mark spreadsheet programs put before the header.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TicketImportRefused(
            f"{filename} is not UTF-8 text (line {line}): export or save it as UTF-8."
        ) from None
    report = ImportReport(format=fmt)
    rows = _csv_rows(text, report) if fmt == "csv" else _jsonl_rows(text, report)
    product_lines = _ProductLines()
    cleaned: list[tuple[int, dict]] = []
    for line, raw in rows:
        values, errors = _clean(raw, product_lines)
        if errors:
            report.failed += 1
            report.errors.extend(RowError(line, name, reason) for name, reason in errors)
        else:
            cleaned.append((line, values))
    _tickets_insert(cleaned, source=source, created_by=created_by, report=report)
    return report


def _tickets_insert(
    cleaned: list[tuple[int, dict]], *, source: str, created_by, report: ImportReport
) -> None:
    with transaction.atomic():
        # Two imports at once would each see the other's ids as new: take turns per source.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"tickets:{source}"])
        ids = [values["external_id"] for _, values in cleaned]
        present: set[str] = set()
        for start in range(0, len(ids), 1000):
            present |= set(
                Ticket.objects.filter(
                    source=source, external_id__in=ids[start : start + 1000]
                ).values_list("external_id", flat=True)
            )
        first_line: dict[str, int] = {}
        new: list[Ticket] = []
        for line, values in cleaned:
            external_id = values["external_id"]
            if external_id in present:
                report.skipped_rows.append(SkippedRow(line, external_id, "already imported"))
                continue
            if external_id in first_line:
                reason = f"same id as line {first_line[external_id]}"
                report.skipped_rows.append(SkippedRow(line, external_id, reason))
                continue
            first_line[external_id] = line
            new.append(Ticket(**values, source=source, created_by=created_by))
        created = Ticket.objects.bulk_create(new, batch_size=500)
        _tickets_created([ticket.pk for ticket in created])
    report.skipped = len(report.skipped_rows)
    report.created = len(created)
    report.created_ids = [ticket.pk for ticket in created]


def _field_for(column: str) -> str | None:
    key = column.strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(key)


def _columns_map(columns: list[str], report: ImportReport) -> dict[int | str, str]:
    """Column (index or key) → field. A canonical name beats an alias for the same field; a
    second alias for it is ignored and reported, never merged."""
    mapping: dict[int | str, str] = {}
    taken: dict[str, int | str] = {}
    ranked = sorted(
        enumerate(columns),
        key=lambda item: (_field_for(item[1]) != _normal(item[1]), item[0]),
    )
    for index, column in ranked:
        target = _field_for(column)
        if target is None or target in taken:
            report.ignored_columns.append(column)
            continue
        taken[target] = index
        mapping[index] = target
    report.ignored_columns.sort(key=columns.index)
    return mapping


def _normal(column: str) -> str:
    return column.strip().lower().replace(" ", "_").replace("-", "_")


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab: whichever the header line holds most of, outside quotes.
    csv.Sniffer guesses from a sample and is misled by punctuation in quoted bodies."""
    header = text.split("\n", 1)[0]
    counts = {d: 0 for d in (",", ";", "\t")}
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv_rows(text: str, report: ImportReport) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise TicketImportRefused(f"The header line cannot be read: {exc}.") from None
    if not header or not any(cell.strip() for cell in header):
        raise TicketImportRefused("The file is empty: the first line must name the columns.")
    mapping = _columns_map(header, report)
    missing = [name for name in REQUIRED if name not in mapping.values()]
    if missing:
        raise TicketImportRefused(
            f"No column for {' and '.join(missing)}: the header line has "
            f"{', '.join(header)}. Name them {' and '.join(missing)} (or id, message, text)."
        )
    return _csv_body(reader, mapping, len(header), report)


def _csv_body(
    reader, mapping: dict, width: int, report: ImportReport
) -> Iterator[tuple[int, dict]]:
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # An unclosed quote swallows the rest of the file: nothing after it can be trusted.
            report.failed += 1
            report.errors.append(
                RowError(start, "(row)", f"cannot be read ({exc}); the rest of the file is not")
            )
            return
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > width:
            report.failed += 1
            report.errors.append(
                RowError(start, "(row)", f"has {len(cells)} fields; the header names {width}")
            )
            continue
        yield start, {mapping[i]: cell for i, cell in enumerate(cells) if i in mapping}


def _jsonl_rows(text: str, report: ImportReport) -> Iterator[tuple[int, dict]]:
    mapping_cache: dict[str, str | None] = {}
    # Split on \n only: str.splitlines also breaks at U+2028 and friends, which JSON strings
    # may hold unescaped, and would cut such a line in two.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            report.failed += 1
            report.errors.append(RowError(number, "(line)", f"is not valid JSON: {exc.msg}"))
            continue
        if not isinstance(item, dict):
            report.failed += 1
            report.errors.append(RowError(number, "(line)", "is not a JSON object"))
            continue
        raw: dict[str, object] = {}
        canonical: set[str] = set()
        for key, value in item.items():
            if key not in mapping_cache:
                mapping_cache[key] = _field_for(key)
                if mapping_cache[key] is None and key not in report.ignored_columns:
                    report.ignored_columns.append(key)
            target = mapping_cache[key]
            if target is None:
                continue
            is_canonical = _normal(key) == target
            # The canonical key wins over an alias, whichever comes first in the object.
            if target in raw and (target in canonical or not is_canonical):
                continue
            raw[target] = value
            if is_canonical:
                canonical.add(target)
        yield number, raw


# --- API clients ----------------------------------------------------------------------------

TOKEN_PREFIX = "rdk_"
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_client_create(*, name: str) -> tuple[ApiClient, str]:
    """A new client and its token: the only time the plain token exists on our side."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient.objects.create(
        name=name, prefix=token[:PREFIX_LENGTH], token_hash=token_hash(token)
    )
    return client, token


def api_client_revoke(*, client: ApiClient) -> None:
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
