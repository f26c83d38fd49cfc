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


class ExportRefused(ValueError):
    """The export would hand out an empty split; nothing was written. `split` names the empty
    one ("train" or "validation"; None when nothing at all is exportable)."""

    def __init__(self, message: str, *, split: str | None = None) -> None:
        super().__init__(message)
        self.split = split


def split_sizes(n: int, val_fraction: float) -> tuple[int, int]:
    """(train, validation) for one product line's `n` pairs: its share of the validation set,
    rounded to whole pairs. The export and its preview both use this."""
    n_val = round(n * val_fraction)
    return n - n_val, n_val


def split_plan(sizes: dict[str, int], *, val_fraction: float, cap_per_line: int | None) -> dict:
    """What the split will be for `sizes` (exportable pairs per product line name)."""
    lines = {}
    for name in sorted(sizes):
        n = min(sizes[name], cap_per_line) if cap_per_line else sizes[name]
        train, validation = split_sizes(n, val_fraction)
        lines[name] = {"train": train, "validation": validation}
    return {
        "lines": lines,
        "train": sum(c["train"] for c in lines.values()),
        "validation": sum(c["validation"] for c in lines.values()),
    }


def smallest_fraction_with_validation(
    sizes: dict[str, int], *, cap_per_line: int | None
) -> float | None:
    """The smallest validation fraction, in steps of 0.05, that leaves both sets non-empty."""
    for step in range(1, 19):
        plan = split_plan(sizes, val_fraction=step / 20, cap_per_line=cap_per_line)
        if plan["train"] and plan["validation"]:
            return step / 20
    return None


def split_problem(
    sizes: dict[str, int],
    *,
    val_fraction: float,
    cap_per_line: int | None,
    allow_empty_validation: bool = False,
) -> ExportRefused | None:
    """Why this export must not be written as asked, or None. A fraction of 0 asks for no
    validation set; any other fraction that rounds to no validation pair needs saying so."""
    plan = split_plan(sizes, val_fraction=val_fraction, cap_per_line=cap_per_line)
    total = plan["train"] + plan["validation"]
    if not total:
        return ExportRefused(
            "No pair is exportable yet: approve pairs with a verified quote first."
        )
    if not plan["train"]:
        return ExportRefused(
            f"The training set would be empty: all {total} exportable pairs would go to "
            f"validation with a fraction of {val_fraction:g}. Lower the validation fraction.",
            split="train",
        )
    if val_fraction > 0 and not plan["validation"] and not allow_empty_validation:
        better = smallest_fraction_with_validation(sizes, cap_per_line=cap_per_line)
        hint = (
            f"Raise the validation fraction (to {better:g} or more here)"
            if better
            else ("There are too few pairs for a validation set")
        )
        return ExportRefused(
            f"The validation set would be empty: {total} exportable "
            f"pair{'s' if total != 1 else ''} with a validation fraction of {val_fraction:g} "
            "round to no validation pair in any product line. "
            f"{hint}, or export without a validation set on purpose.",
            split="validation",
        )
    return None


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
    allow_empty_validation: bool = False,
    user=None,
) -> FinetuneExport:
    """Raises ExportRefused, writing nothing, when a split would be empty (an empty validation
    set is written only with `allow_empty_validation` or a fraction of 0)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if not 0 <= val_fraction < 1:
        raise ValueError("val_fraction must be in [0, 1)")
    rng = random.Random(seed)
    by_line: dict[str, list[QAPair]] = {}
    for pair in exportable_pairs():
        by_line.setdefault(_line_name(pair), []).append(pair)
    problem = split_problem(
        {name: len(pairs) for name, pairs in by_line.items()},
        val_fraction=val_fraction,
        cap_per_line=cap_per_line,
        allow_empty_validation=allow_empty_validation,
    )
    if problem:
        raise problem
    train, validation, counts = [], [], {}
    for name in sorted(by_line):
        pairs = by_line[name]
        rng.shuffle(pairs)
        if cap_per_line:
            pairs = pairs[:cap_per_line]
        n_val = split_sizes(len(pairs), val_fraction)[1]
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
