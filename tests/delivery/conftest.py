"""Approved replies made directly in the database (the review flow has its own tests), API
clients with webhooks, and a real HTTP receiver on loopback."""

import http.server
import json
import socket
import threading
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.drafts.models import Draft, DraftSentence, DraftSource, Reply
from apps.tickets.models import ApiClient, Ticket
from apps.tickets.services import api_client_create
from tests import factories

SECRET = "s3cret-for-signing-webhooks"
QUOTE = "Pro keeps 30 days of version history."


@dataclass
class Client:
    client: ApiClient
    token: str


@pytest.fixture
def api_client(db) -> Client:
    client, token = api_client_create(name="Zendesk bridge")
    return Client(client, token)


@pytest.fixture
def other_client(db) -> Client:
    client, token = api_client_create(name="Freshdesk bridge")
    return Client(client, token)


def ticket_for(client: ApiClient | None, external_id: str = "ZD-77") -> Ticket:
    return Ticket.objects.create(
        external_id=external_id,
        source=Ticket.Source.API if client else Ticket.Source.WEB,
        subject="How long is history kept?",
        body="How many days of history does Pro keep?",
        customer_name="Kim",
        api_client=client,
        status=Ticket.Status.AWAITING_REVIEW,
    )


def _user(username: str, make):
    return User.objects.filter(username=username).first() or make(username=username)


def reply_for(ticket: Ticket, *, stage: str = Reply.Stage.APPROVED) -> Reply:
    """A drafted reply citing one source; approved by a reviewer and a lead unless `stage`
    says otherwise."""
    text = f"Hello Kim, {QUOTE} [1]"
    draft = Draft.objects.create(
        ticket=ticket,
        version=1,
        status=Draft.Status.READY,
        design=Draft.Design.RANKED,
        text=text,
        sentence_count=1,
    )
    DraftSource.objects.create(
        draft=draft,
        sid="S1",
        document_title="Plans",
        heading_path="Plans > History",
        start=0,
        end=len(QUOTE),
        text=QUOTE,
        similarity=0.9,
        cited=True,
    )
    DraftSentence.objects.create(
        draft=draft, position=0, kind="claim", text=QUOTE, citations=["S1"], verdict="supported"
    )
    sentence = {"kind": "claim", "text": QUOTE, "citations": ["S1"], "markers": [1]}
    approved = stage == Reply.Stage.APPROVED
    reply = Reply.objects.create(
        draft=draft,
        ticket=ticket,
        stage=stage,
        text=text,
        sentences=[sentence],
        sentence_count=1,
        reviewed_by=_user("ana", factories.reviewer) if approved else None,
        reviewed_at=timezone.now() if approved else None,
        approved_by=_user("lee", factories.lead) if approved else None,
        approved_at=timezone.now() if approved else None,
    )
    if approved:
        Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.APPROVED)
    return reply


def webhook_set(client: ApiClient, url: str, secret: str = SECRET) -> ApiClient:
    client.webhook_url, client.webhook_secret = url, secret
    client.save(update_fields=["webhook_url", "webhook_secret"])
    return client


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver answering with the scripted statuses in turn (the last one
    repeats), recording every request it gets."""

    statuses: list[int]
    requests: list[Received] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/reviewdesk"

    def answer(self) -> int:
        index = min(len(self.requests) - 1, len(self.statuses) - 1)
        return self.statuses[index]


def _handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(Received(dict(self.headers.items()), body))
            status = receiver.answer()
            answer = json.dumps({"ok": status < 300, "detail": "<b>busy</b>"}).encode()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args):  # keep the test output quiet
            pass

    return Handler


@pytest.fixture
def receiver_factory():
    started: list[Receiver] = []

    def start(*statuses: int) -> Receiver:
        receiver = Receiver(list(statuses or (200,)))
        receiver.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
        threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.server.shutdown()
        receiver.server.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/reviewdesk"


@pytest.fixture
def eager_tasks():
    """Queued tasks run at once in this process: a retry chain runs to its end inside the
    test (with WEBHOOK_BACKOFF_SECONDS=0, no waiting)."""
    from reviewdesk.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
