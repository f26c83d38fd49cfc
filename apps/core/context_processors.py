from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from apps.accounts.roles import LEAD_SCREENS, REVIEWER_SCREENS


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str
    shortcut: str = ""


# Screens in the order a support team works through them; each shown only to users holding
# its permission (the view checks the same permission on the server).
NAV_ITEMS = [
    NavItem("Tickets", "tickets:list", REVIEWER_SCREENS, "g t"),
    NavItem("Replies", "drafts:queue", REVIEWER_SCREENS, "g r"),
    NavItem("Review Q&A", "synthetic:queue", REVIEWER_SCREENS, "g q"),
    NavItem("Documents", "knowledge:document_list", REVIEWER_SCREENS, "g d"),
    NavItem("Hit testing", "knowledge:search", REVIEWER_SCREENS, "g s"),
    NavItem("Ingest", "knowledge:upload", LEAD_SCREENS, "g i"),
    NavItem("Evaluation", "knowledge:eval_list", LEAD_SCREENS, "g e"),
    NavItem("Generate Q&A", "synthetic:runs", LEAD_SCREENS, "g g"),
    NavItem("Export", "synthetic:exports", LEAD_SCREENS, "g x"),
    NavItem("Telemetry", "llm:telemetry", LEAD_SCREENS, "g m"),
    NavItem("Oversight", "oversight:dashboard", LEAD_SCREENS, "g o"),
    NavItem("Deliveries", "delivery:list", LEAD_SCREENS, "g w"),
]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for item in NAV_ITEMS:
        if not user.has_perm(item.permission):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        items.append(
            {
                "label": item.label,
                "url": url,
                "shortcut": item.shortcut,
                "active": request.path.startswith(url),
            }
        )
    return {"nav_items": items}
