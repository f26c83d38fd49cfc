"""Holding one item of a review queue for one person at a time (Q&A pairs, draft replies),
and knowing which version of it a person's page showed.

A claim is two columns on the item, `claimed_by` and `claimed_until`; it lapses by itself,
so an abandoned tab never blocks a queue."""

from datetime import timedelta

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone


def claim_free_q(*, user, now) -> Q:
    """Items nobody else holds right now."""
    return Q(claimed_by__isnull=True) | Q(claimed_by=user) | Q(claimed_until__lte=now)


def claim_next(
    *,
    queryset: models.QuerySet,
    user,
    minutes: int,
    after: int | None = None,
    before: int | None = None,
):
    """Give `user` the first item of `queryset` nobody else holds, in id order (after or
    before an id to step through the queue). SKIP LOCKED: two people asking at once get
    different items."""
    now = timezone.now()
    with transaction.atomic():
        items = queryset.select_for_update(skip_locked=True, of=("self",)).filter(
            claim_free_q(user=user, now=now)
        )
        if after is not None:
            items = items.filter(pk__gt=after).order_by("pk")
        elif before is not None:
            items = items.filter(pk__lt=before).order_by("-pk")
        else:
            items = items.order_by("pk")
        item = items.first()
        if item is not None:
            claim_take(item=item, user=user, minutes=minutes, now=now)
    return item


def claim_take(*, item: models.Model, user, minutes: int, now=None) -> None:
    item.claimed_by = user
    item.claimed_until = (now or timezone.now()) + timedelta(minutes=minutes)
    item.save(update_fields=["claimed_by", "claimed_until"])


def claim_held_by_other(*, item: models.Model, user) -> bool:
    return bool(
        item.claimed_by_id not in (None, user.pk)
        and item.claimed_until
        and item.claimed_until > timezone.now()
    )


def version_shown(data, *, error: type[Exception]) -> int:
    """The item's version the person's page showed: every decision form carries it, so a
    decision made on an older version is refused instead of overwriting a newer one. A form
    without it raises `error` (the app's own, shown to the person)."""
    value = data.get("version", "")
    if not value.isdigit():
        raise error("This page is out of date: reload it and try again.")
    return int(value)
