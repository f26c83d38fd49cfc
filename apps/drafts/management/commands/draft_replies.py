import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.drafts import selectors, services
from apps.drafts.composing import DESIGNS


class Command(BaseCommand):
    help = (
        "Draft replies in this terminal, as the worker does: for the tickets named, or for every "
        "ticket still waiting for its draft (--pending). A named ticket gets a new draft version."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ticket", type=int, nargs="+", default=[], metavar="ID")
        parser.add_argument("--pending", action="store_true")
        parser.add_argument("--design", choices=DESIGNS, help="default: DRAFT_DESIGN")

    def handle(self, *args, ticket: list[int], pending: bool, design: str | None, **options):
        if not ticket and not pending:
            raise CommandError("Name tickets with --ticket ID … or use --pending.")
        missing = selectors.tickets_missing(ids=ticket)
        if missing:
            raise CommandError(f"No ticket with id {', '.join(map(str, missing))}.")
        work = [(t, services.draft_version_reserve(ticket_id=t)) for t in ticket]
        if pending:
            work += selectors.drafts_pending()
        counts: dict[str, int] = {}
        with tqdm(total=len(work), unit="ticket", file=sys.stderr, disable=None) as bar:
            for ticket_id, version in work:
                draft = services.draft_create(ticket_id=ticket_id, version=version, design=design)
                status = draft.get_status_display() if draft else "skipped (already drafted)"
                counts[status] = counts.get(status, 0) + 1
                bar.update(1)
        for status, count in sorted(counts.items()):
            self.stdout.write(f"{count:5d}  {status}")
        self.stdout.write(f"{len(work)} ticket(s) drafted.")
