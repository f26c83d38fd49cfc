"""Fine-tune export: only approved, verified, non-duplicate pairs; a seeded train/validation
split stratified by product line; an optional cap per line; a manifest with a checksum."""

from __future__ import annotations

import hashlib
import json
import random

from django.utils import timezone

from apps.synthetic.models import FinetuneExport, QAPair

SYSTEM_PROMPT = (
    "You are a support assistant. Answer from the product documentation; say so when the "
    "documentation does not cover the question."
)
FORMATS = ("chat", "instruction")


def exportable_pairs():
    """What may leave the building: models.EXPORTABLE, in the export's order."""
    return QAPair.objects.exportable().select_related("product_line", "document").order_by("id")


def _line(pair: QAPair, fmt: str) -> str:
    if fmt == "chat":
        record = {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": pair.question},
                {"role": "assistant", "content": pair.answer},
            ]
        }
    else:
        record = {
            "instruction": pair.question,
            "output": pair.answer,
            "metadata": {
                "pair_id": pair.pk,
                "product_line": _line_name(pair),
                "kind": pair.kind,
                "document": pair.document.external_id if pair.document else None,
                "quote": pair.quote,
                "model": pair.model,
                "prompt_version": pair.prompt_version,
            },
        }
    return json.dumps(record, ensure_ascii=False)


def _line_name(pair: QAPair) -> str:
    return pair.product_line.name if pair.product_line else "(none)"


def export_create(
    *,
    fmt: str,
    val_fraction: float = 0.1,
    seed: int = 0,
    cap_per_line: int | None = None,
    user=None,
) -> FinetuneExport:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if not 0 <= val_fraction < 1:
        raise ValueError("val_fraction must be in [0, 1)")
    rng = random.Random(seed)
    by_line: dict[str, list[QAPair]] = {}
    for pair in exportable_pairs():
        by_line.setdefault(_line_name(pair), []).append(pair)
    train, validation, counts = [], [], {}
    for name in sorted(by_line):
        pairs = by_line[name]
        rng.shuffle(pairs)
        if cap_per_line:
            pairs = pairs[:cap_per_line]
        n_val = round(len(pairs) * val_fraction)
        validation += pairs[:n_val]
        train += pairs[n_val:]
        counts[name] = {"train": len(pairs) - n_val, "validation": n_val}
    train_text = "".join(_line(p, fmt) + "\n" for p in train)
    val_text = "".join(_line(p, fmt) + "\n" for p in validation)
    digest = hashlib.sha256((train_text + val_text).encode()).hexdigest()
    manifest = {
        "format": fmt,
        "seed": seed,
        "val_fraction": val_fraction,
        "cap_per_line": cap_per_line,
        "counts": counts,
        "total": len(train) + len(validation),
        "filters": "status=approved, verified quote, not a duplicate, question and answer",
        "created_by": user.get_username() if user else None,
        "created_at": timezone.now().isoformat(),
        "sha256": digest,
        "train_sha256": hashlib.sha256(train_text.encode()).hexdigest(),
        "validation_sha256": hashlib.sha256(val_text.encode()).hexdigest(),
        "pair_ids": {"train": [p.pk for p in train], "validation": [p.pk for p in validation]},
    }
    return FinetuneExport.objects.create(
        created_by=user,
        format=fmt,
        train=train_text,
        validation=val_text,
        manifest=manifest,
        sha256=digest,
    )
