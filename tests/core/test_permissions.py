"""Every view, every role: anonymous users are sent to login, others get the page or 403.

The table below must name every URL the project serves (a test checks that), so a new view
cannot ship without deciding who may open it.
"""

import re

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.oversight.models import EditLogEntry
from apps.oversight.services import decision_record
from apps.synthetic.models import QAPair
from apps.tickets.models import Ticket
from tests import factories

ALL = {"reviewer": 200, "lead": 200, "admin": 200}
LEAD_ONLY = {"reviewer": 403, "lead": 200, "admin": 200}

# url name → (kwargs factory, expected status per role for GET)
VIEWS = {
    "home": (None, ALL),
    "knowledge:document_list": (None, ALL),
    "knowledge:document_detail": ("document", ALL),
    "knowledge:chunk_detail": ("chunk", ALL),
    "knowledge:search": (None, ALL),
    "knowledge:upload": (None, LEAD_ONLY),
    "knowledge:job_detail": ("job", LEAD_ONLY),
    "knowledge:eval_list": (None, LEAD_ONLY),
    "knowledge:eval_detail": ("eval", LEAD_ONLY),
    "llm:telemetry": (None, LEAD_ONLY),
    "synthetic:queue": (None, ALL),
    "synthetic:review": ("pair", ALL),
    "synthetic:runs": (None, LEAD_ONLY),
    "synthetic:run_detail": ("run", LEAD_ONLY),
    "synthetic:exports": (None, LEAD_ONLY),
    "synthetic:export_preview": (None, LEAD_ONLY),
    "synthetic:export_download": ("export", LEAD_ONLY),
    "tickets:list": (None, ALL),
    "tickets:detail": ("ticket", ALL),
    "tickets:new": (None, LEAD_ONLY),
    "tickets:import": (None, LEAD_ONLY),
    "oversight:dashboard": (None, LEAD_ONLY),
    "oversight:log": (None, LEAD_ONLY),
    "oversight:entry": ("decision", LEAD_ONLY),
    "oversight:export": ("log_export", LEAD_ONLY),
    "oversight:plotly_js": (None, ALL),
    "drafts:section": ("ticket", ALL),
    "drafts:eval_compare": (None, LEAD_ONLY),
    "drafts:drift": (None, LEAD_ONLY),
    "drafts:queue": (None, ALL),
    "drafts:review": ("reply", ALL),
    "delivery:list": (None, LEAD_ONLY),
}
# POST-only views, checked with POST (a GET would stop at 405 and prove nothing about roles).
POST_VIEWS = {
    "knowledge:document_reingest": ("document", LEAD_ONLY),
    "knowledge:document_delete": ("document", LEAD_ONLY),
    "knowledge:job_retry": ("job", LEAD_ONLY),
    "knowledge:job_resume": ("job", LEAD_ONLY),
    "synthetic:run_cancel": ("run", LEAD_ONLY),
    "synthetic:run_resume": ("run", LEAD_ONLY),
    "synthetic:review_next": (None, ALL),
    "synthetic:review_act": ("pair", ALL),
    "drafts:regenerate": ("ticket", ALL),
    "drafts:next": (None, ALL),
    "drafts:check": ("reply", ALL),
    "drafts:release": ("reply", ALL),
    "drafts:act": ("reply", ALL),
    "drafts:redraft": ("reply", ALL),
    "delivery:resend": ("delivery", LEAD_ONLY),
}
# The API answers with its own token authentication (tests/tickets/test_api.py); its schema
# and docs are public.
API = {
    "api:api-root",
    "api:openapi-json",
    "api:openapi-view",
    "api:ticket_post",
    "api:ticket_reply_get",
}
PUBLIC = {"login", "logout", "healthz"} | API


def _names(resolver, prefix="") -> set[str]:
    names = set()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue
            ns = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            names |= _names(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(prefix + entry.name)
    return names


def test_every_url_has_a_permission_decision():
    assert _names(get_resolver()) == set(VIEWS) | set(POST_VIEWS) | PUBLIC


@pytest.fixture
def objects(db):
    from apps.knowledge.models import Chunk, Document, EvalRun, IngestJob

    document = Document.objects.create(
        external_id="perm.md",
        title="Perm",
        format="markdown",
        raw=b"# Perm",
        content_hash="x",
        chunk_config="x",
    )
    chunk = Chunk.objects.create(
        document=document, ordinal=0, text="Perm", token_count=1, embedding=[0.1] * 384
    )
    from apps.synthetic.models import FinetuneExport, GenerationRun, QAPair

    run = GenerationRun.objects.create()
    pair = QAPair.objects.create(
        run=run,
        source_text="Perm",
        kind="how_to",
        question="q?",
        answer="a",
        quote="Perm",
        verified=True,
    )
    export = FinetuneExport.objects.create(format="chat", train="", validation="", sha256="x")
    with transaction.atomic():
        decision = decision_record(
            area=EditLogEntry.Area.QA,
            object_type="synthetic.qapair",
            object_id=pair.pk,
            object_version=1,
            decision=EditLogEntry.Decision.APPROVE,
            editor=None,
        )
    from apps.drafts.models import Draft, Reply

    ticket = Ticket.objects.create(external_id="perm", body="Perm", source="web")
    draft = Draft.objects.create(ticket=ticket, version=1, status="ready", design="ranked")
    reply = Reply.objects.create(draft=draft, ticket=ticket, text="Perm")
    return {
        "document": {"pk": document.pk},
        "chunk": {"pk": chunk.pk},
        "job": {"pk": IngestJob.objects.create().pk},
        "eval": {"pk": EvalRun.objects.create(name="perm").pk},
        "run": {"pk": run.pk},
        "pair": {"pk": pair.pk},
        "export": {"pk": export.pk, "part": "train"},
        "ticket": {"pk": ticket.pk},
        "reply": {"pk": reply.pk},
        # No delivery needed: the role check comes first, then a lead gets a 404.
        "delivery": {"pk": 1},
        "decision": {"pk": decision.pk},
        "log_export": {"fmt": "csv"},
    }


def _url(name, kind, objects):
    return reverse(name, kwargs=objects[kind] if kind else None)


USERS = {"reviewer": factories.reviewer, "lead": factories.lead, "admin": factories.admin}


@pytest.mark.parametrize("name", sorted(VIEWS | POST_VIEWS))
def test_anonymous_users_are_sent_to_login(client, objects, name):
    kind, _ = (VIEWS | POST_VIEWS)[name]
    url = _url(name, kind, objects)
    response = client.post(url) if name in POST_VIEWS else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", sorted(USERS))
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_each_role_gets_exactly_its_screens(client, objects, role, name):
    kind, expected = VIEWS[name]
    client.force_login(USERS[role]())
    assert client.get(_url(name, kind, objects)).status_code == expected[role]


@pytest.mark.parametrize("role", sorted(USERS))
@pytest.mark.parametrize("name", sorted(POST_VIEWS))
def test_each_role_may_post_exactly_its_actions(client, objects, role, name):
    kind, expected = POST_VIEWS[name]
    client.force_login(USERS[role]())
    status = client.post(_url(name, kind, objects)).status_code
    if expected[role] == 403:
        assert status == 403
    else:
        # Let through: the view itself answers (a redirect, the next pair, a form error).
        assert status not in (403, 405) and status < 500, status


def test_a_user_without_a_role_sees_only_home(client, objects):
    client.force_login(factories.UserFactory())
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("knowledge:search")).status_code == 403


def test_anonymous_htmx_requests_get_a_client_redirect_to_login(client):
    response = client.get(
        reverse("knowledge:search"),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/knowledge/search/"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_admin_site_is_for_staff_only(client, db):
    client.force_login(factories.lead())
    assert client.get("/admin/").status_code == 302
    client.force_login(factories.admin())
    assert client.get("/admin/").status_code == 200


# --- CSRF on htmx requests ------------------------------------------------------------------


def _csrf_token_the_page_gives_htmx(client) -> str:
    """The token base.html hands htmx (<body hx-headers>) for every request it sends."""
    page = client.get(reverse("synthetic:queue")).content.decode()
    found = re.search(r"""<body hx-headers='\{"X-CSRFToken": "([^"]+)"\}'>""", page)
    assert found, "base.html no longer gives htmx the CSRF token"
    return found.group(1)


def test_a_state_changing_htmx_request_needs_the_csrf_token(objects):
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.reviewer())
    pair = QAPair.objects.get(pk=objects["pair"]["pk"])
    url = reverse("synthetic:review_act", kwargs={"pk": pair.pk})
    approve = {"action": "approve", "version": pair.version}
    token = _csrf_token_the_page_gives_htmx(client)

    forged = client.post(url, approve, headers={"HX-Request": "true"})
    assert forged.status_code == 403
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.PENDING

    sent = client.post(url, approve, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert sent.status_code == 200
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.APPROVED
