import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from apps.accounts.roles import LEAD, REVIEWER
from apps.knowledge import services
from apps.knowledge.models import IngestItem, ProductLine
from apps.tickets.services import tickets_import

DEMO_USERS = [
    ("reviewer", "Riley", REVIEWER, False),
    ("lead", "Lee", LEAD, False),
    ("admin", "Ada", None, True),
]
# The full product names as aliases: "Skylark Sync Enterprise" names its line unambiguously.
PRODUCT_LINES = [
    ("Pro", "pro", "pro plan, pro workspace, Skylark Sync Pro"),
    ("Enterprise", "enterprise", "enterprise plan, ent, Skylark Sync Enterprise"),
]


class Command(BaseCommand):
    help = (
        "Create the demo users (passwords printed once, when created) and load the demo "
        "product docs. Safe to run again: nothing is duplicated, unchanged docs are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give the demo users new passwords and print them.",
        )
        parser.add_argument("--no-docs", action="store_true", help="Users only.")

    def handle(self, *args, reset_passwords: bool, no_docs: bool, **options):
        for name, slug, aliases in PRODUCT_LINES:
            ProductLine.objects.get_or_create(
                name=name, defaults={"slug": slug, "aliases": aliases}
            )
        created = [self._user(*spec, reset=reset_passwords) for spec in DEMO_USERS]
        created = [c for c in created if c]
        if created:
            self.stdout.write(self.style.WARNING("Demo users (passwords shown only now):"))
            for username, role, password in created:
                self.stdout.write(f"  {username:<9} {role:<13} {password}")
        else:
            self.stdout.write("Demo users exist (run `seed_demo --reset-passwords` for new ones).")
        if not no_docs:
            self._docs()
        self._tickets()

    def _user(self, username, first_name, role, is_admin, *, reset: bool):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "is_staff": is_admin,
                "is_superuser": is_admin,
                "email": f"{username}@example.com",
            },
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        if not (created or reset):
            return None
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        return username, role or "Admin", password

    def _docs(self) -> None:
        root = settings.BASE_DIR / "demo" / "docs"
        uploads = [
            services.UploadedFile(
                name=path.name,
                data=path.read_bytes(),
                external_id=f"demo/{path.relative_to(root).as_posix()}",
            )
            for path in sorted(root.rglob("*.md"))
        ]
        job = services.ingest_job_create(files=uploads, source="demo")
        services.ingest_job_run(job_id=job.pk)
        items = list(job.items.all())
        done = sum(i.status == IngestItem.Status.DONE for i in items)
        skipped = sum(i.status == IngestItem.Status.SKIPPED for i in items)
        failed = [i for i in items if i.status == IngestItem.Status.FAILED]
        self.stdout.write(f"Demo docs: {done} ingested, {skipped} unchanged, {len(failed)} failed.")
        for item in failed:
            self.stderr.write(f"  {item.name}: {item.error}")

    def _tickets(self) -> None:
        """A dozen tickets about the demo product, written for the demo: answerable ones for
        each plan, error codes, an angry message hiding the real problem (E1042, a clock off),
        and two the docs cannot answer (billing currency, a Linux ARM client). Ids already
        present are skipped, so running this again adds nothing."""
        path = settings.BASE_DIR / "demo" / "tickets" / "tickets.jsonl"
        report = tickets_import(data=path.read_bytes(), filename=path.name, fmt=None)
        self.stdout.write(
            f"Demo tickets: {report.created} created, {report.skipped} already there, "
            f"{report.failed} failed."
        )
        for error in report.errors:
            self.stderr.write(f"  line {error.line}: {error.field}: {error.reason}")
