import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.tickets.models import Ticket
from apps.tickets.services import (
    RowError,
    TicketImportRefused,
    tickets_import,
)
from tests.tickets.conftest import DATA

pytestmark = pytest.mark.django_db

EXPORT = DATA / "helpdesk_export.csv"


def _import_export():
    return tickets_import(data=EXPORT.read_bytes(), filename=EXPORT.name)


def test_a_helpdesk_export_imports_its_good_rows_and_reports_each_bad_one_by_line(
    product_lines,
):
    report = _import_export()

    assert (report.created, report.skipped, report.failed) == (3, 1, 3)
    assert report.format == "csv"
    assert report.errors[0] == RowError(6, "customer_email", report.errors[0].reason)
    assert "bo(at)example.com" in report.errors[0].reason
    assert report.errors[1] == RowError(7, "body", "is required")
    assert report.errors[2].line == 13 and report.errors[2].field == "product_line"
    # The reason names what was asked for and what exists, so the row can be fixed.
    assert "Starter" in report.errors[2].reason and "Enterprise, Pro" in report.errors[2].reason
    assert [(row.line, row.external_id) for row in report.skipped_rows] == [(12, "HD-1001")]
    assert "line 2" in report.skipped_rows[0].reason
    assert report.ignored_columns == ["Created At"]


def test_imported_fields_keep_multi_line_bodies_quotes_and_empty_fields(product_lines):
    _import_export()
    tickets = {t.external_id: t for t in Ticket.objects.select_related("product_line")}

    assert sorted(tickets) == ["HD-1001", "HD-1002", "HD-1005"]
    first = tickets["HD-1001"]
    assert first.body.startswith("Hi,\nmy sync has been stuck")
    assert first.body.endswith("what does it mean?")
    assert (first.customer_name, first.customer_email) == ("Ana Ruiz", "ana@example.com")
    assert first.product_line == product_lines["pro"]
    assert first.priority == Ticket.Priority.HIGH
    assert first.source == Ticket.Source.IMPORT and first.status == Ticket.Status.DRAFTING
    # The BOM is not part of the first header, so "Ticket ID" was recognised at all.
    empty = tickets["HD-1002"]
    assert (empty.customer_name, empty.customer_email) == ("", "")
    assert empty.product_line == product_lines["enterprise"]
    assert empty.priority == Ticket.Priority.NORMAL
    quoted = tickets["HD-1005"]
    assert quoted.subject == 'Quote "test" please'
    assert quoted.body == (
        "Line one;\nstill the body, with a ; semicolon\n\nand a blank line inside"
    )
    assert quoted.priority == Ticket.Priority.URGENT


def test_importing_the_same_file_twice_creates_nothing_the_second_time(product_lines):
    _import_export()
    again = _import_export()

    assert (again.created, again.skipped, again.failed) == (0, 4, 3)
    assert Ticket.objects.count() == 3
    assert {row.reason for row in again.skipped_rows} >= {"already imported"}


def test_a_comma_separated_file_with_canonical_headers_imports_too(db):
    data = (
        b"external_id,subject,body,customer_email\n"
        b'A-1,Hello,"Comma, inside",a@example.com\n'
        b"A-2,,Second,\n"
    )
    report = tickets_import(data=data, filename="tickets.csv")

    assert (report.created, report.failed) == (2, 0)
    assert Ticket.objects.get(external_id="A-1").body == "Comma, inside"


def test_a_canonical_column_wins_over_an_alias_for_the_same_field(db):
    data = b"message,body,id\nfrom the alias,from the canonical column,X-1\n"
    report = tickets_import(data=data, filename="t.csv")

    assert Ticket.objects.get().body == "from the canonical column"
    assert report.ignored_columns == ["message"]


def test_jsonl_reports_a_malformed_line_and_imports_the_others(product_lines):
    path = DATA / "tickets.jsonl"
    report = tickets_import(data=path.read_bytes(), filename=path.name)

    assert (report.created, report.skipped, report.failed) == (2, 0, 3)
    assert [(e.line, e.field) for e in report.errors] == [
        (2, "(line)"),
        (4, "(line)"),
        (6, "body"),
    ]
    assert "not valid JSON" in report.errors[0].reason
    offline = Ticket.objects.get(external_id="2001")
    assert offline.product_line == product_lines["pro"]
    assert offline.subject == "Offline mode" and offline.customer_email == "fay@example.com"
    assert Ticket.objects.get(external_id="T-2003").customer_name == "Gus"
    assert report.ignored_columns == ["channel"]


def test_the_same_id_twice_in_one_file_is_imported_once(db):
    data = b'{"id": "D-1", "body": "first"}\n{"id": "D-1", "body": "second"}\n'
    report = tickets_import(data=data, filename="t.jsonl")

    assert (report.created, report.skipped) == (1, 1)
    assert Ticket.objects.get().body == "first"


def test_a_jsonl_body_holding_a_unicode_line_separator_stays_one_line(db):
    data = '{"id": "U-1", "body": "one\u2028two"}\r\n{"id": "U-2", "body": "x"}\n'.encode()
    report = tickets_import(data=data, filename="t.jsonl")

    assert (report.created, report.failed) == (2, 0)
    assert Ticket.objects.get(external_id="U-1").body == "one\u2028two"


def test_an_unknown_priority_is_a_row_error_naming_the_allowed_ones(db):
    report = tickets_import(data=b"id,body,priority\n1,hi,whenever\n", filename="t.csv")

    assert report.failed == 1 and report.errors[0].field == "priority"
    assert "whenever" in report.errors[0].reason and "urgent" in report.errors[0].reason


def test_a_row_with_more_fields_than_the_header_is_reported_not_shifted(db):
    report = tickets_import(data=b"id,body\n1,hi\n2,a,b\n3,ok\n", filename="t.csv")

    assert report.created == 2
    assert report.errors == [RowError(3, "(row)", "has 3 fields; the header names 2")]


def test_an_unclosed_quote_is_reported_at_the_line_where_its_row_starts(db):
    report = tickets_import(data=b'id,body\n1,fine\n2,"never closed\n3,lost\n', filename="t.csv")

    assert report.created == 1
    assert report.errors[0].line == 3 and "cannot be read" in report.errors[0].reason


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"subject,body\nHi,there\n", "t.csv", "No column for external_id"),
        (b"", "t.csv", "empty"),
        (b"id,body\n1,caf\xe9\n", "t.csv", "not UTF-8 text (line 2)"),
        (b"id,body\n", "t.xlsx", "Cannot tell the format"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole_with_the_reason(db, data, filename, message):
    with pytest.raises(TicketImportRefused, match=re.escape(message)):
        tickets_import(data=data, filename=filename)
    assert not Ticket.objects.exists()


def test_a_file_over_the_upload_limit_is_refused(db, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1024
    data = b"id,body\n" + b"1," + b"x" * 2000 + b"\n"
    with pytest.raises(TicketImportRefused, match=r"big.csv is 2.0 KB; .* at most 1.0 KB\. Split"):
        tickets_import(data=data, filename="big.csv")
    assert not Ticket.objects.exists()


def test_the_format_can_be_given_when_the_extension_does_not_say(db):
    report = tickets_import(data=b'{"id": "1", "body": "hi"}\n', filename="export.txt", fmt="jsonl")
    assert report.created == 1


# --- the command ----------------------------------------------------------------------------


def test_the_command_prints_counts_and_each_failure_with_its_line(product_lines, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("import_tickets", str(EXPORT))
    out, err = capsys.readouterr()

    assert exit_.value.code == 2
    assert "created 3, skipped 1, failed 3" in out
    assert "line 7: body: is required" in err
    assert "line 6: customer_email:" in err


def test_the_command_succeeds_quietly_when_no_row_failed(db, tmp_path, capsys):
    path = tmp_path / "clean.csv"
    path.write_bytes(b"id;body\n1;one\n2;two\n")
    call_command("import_tickets", str(path))

    assert "created 2, skipped 0, failed 0" in capsys.readouterr().out


def test_the_command_refuses_an_unreadable_file_with_exit_code_2(db, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes(b"title,text\nHi,there\n")
    with pytest.raises(CommandError, match="Nothing imported: No column for external_id") as e:
        call_command("import_tickets", str(path))
    assert e.value.returncode == 2


def test_every_imported_ticket_is_queued_for_its_first_draft_on_commit(
    db, django_capture_on_commit_callbacks
):
    data = b"id,message\nA-1,First\nA-2,Second\nA-3,Third\n"
    with django_capture_on_commit_callbacks() as queued:
        report = tickets_import(data=data, filename="t.csv")
    assert report.created == 3 and len(queued) == 3
    assert set(Ticket.objects.values_list("status", "drafts_requested")) == {("drafting", 1)}


def test_the_ticket_list_refreshes_itself_faster_while_drafts_are_being_written(db, client):
    from tests import factories

    client.force_login(factories.reviewer())
    tickets_import(data=b"id,message\nA-1,First\n", filename="t.csv")
    assert 'hx-trigger="every 3s"' in client.get("/tickets/").content.decode()
    Ticket.objects.update(status=Ticket.Status.AWAITING_REVIEW)
    assert 'hx-trigger="every 15s"' in client.get("/tickets/").content.decode()
