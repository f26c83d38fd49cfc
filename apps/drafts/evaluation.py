"""`eval_answers`: draft each labelled question exactly as a ticket would be drafted (nothing
stored but the LLM calls) and score the drafts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from apps.core.stats import percentile
from apps.drafts.composing import Composed, draft_compose
from apps.drafts.models import AnswerEvalRun
from apps.knowledge.models import ProductLine

_TOKEN = re.compile(r"[a-z0-9]+")


class EvalInputError(Exception):
    pass


@dataclass
class LabelledQuestion:
    line: int
    question: str
    gold_doc_id: str
    answer: str
    product_line: str


def questions_read(*, path: Path, limit: int | None = None) -> list[LabelledQuestion]:
    """Lines `{"question","gold_doc_id","answer"?,"product_line"?}` (doc2dial's `domain`
    counts as the product line). A malformed line is an error naming its number."""
    questions = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            questions.append(_question(number, line))
            if limit and len(questions) >= limit:
                break
    if not questions:
        raise EvalInputError(f"{path} holds no questions.")
    return questions


def _question(number: int, line: str) -> LabelledQuestion:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalInputError(f"line {number}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict) or not row.get("question") or not row.get("gold_doc_id"):
        raise EvalInputError(f'line {number}: needs "question" and "gold_doc_id"')
    return LabelledQuestion(
        number,
        str(row["question"]),
        str(row["gold_doc_id"]),
        str(row.get("answer") or ""),
        str(row.get("product_line") or row.get("domain") or ""),
    )


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def token_f1(candidate: str, reference: str) -> float:
    """SQuAD-style token overlap F1."""
    a, b = tokens(candidate), tokens(reference)
    if not a or not b:
        return 0.0
    common = sum(min(a.count(t), b.count(t)) for t in set(a))
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 on lower-cased word tokens (longest common subsequence). Written here rather
    than installed: the rouge-score package pulls nltk and absl for these few lines."""
    a, b = tokens(candidate), tokens(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[-1]))
        previous = current
    lcs = previous[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


@dataclass
class Scored:
    question: LabelledQuestion
    composed: Composed
    gold_cited: bool
    cited_documents: list[str]

    def as_dict(self) -> dict:
        c = self.composed
        claims = " ".join(s.text for s in c.claims)
        return {
            "line": self.question.line,
            "question": self.question.question,
            "product_line": self.question.product_line,
            "gold_doc_id": self.question.gold_doc_id,
            "status": c.status,
            "gold_cited": self.gold_cited,
            "cited_documents": self.cited_documents,
            "reply": claims,
            "escalation_reason": c.escalation_reason,
            "claims": len(c.claims),
            "supported": c.count("supported"),
            "unsupported": c.count("unsupported"),
            "token_f1": token_f1(claims, self.question.answer) if self.question.answer else None,
            "rouge_l": rouge_l(claims, self.question.answer) if self.question.answer else None,
            "total_ms": round(c.total_ms, 1),
            "retrieval_ms": round(c.retrieval_ms, 1),
            "model_ms": round(c.model_ms, 1),
            "ms_per_token": _ms_per_token(c),
        }


def _ms_per_token(composed: Composed) -> float | None:
    if composed.structured is None or composed.structured.call.ms_per_output_token is None:
        return None
    return round(composed.structured.call.ms_per_output_token, 2)


def question_score(
    *, question: LabelledQuestion, design: str, k: int, product_line_id: int | None
) -> Scored:
    composed = draft_compose(
        subject="",
        body=question.question,
        product_line_id=product_line_id,
        design=design,
        k=k,
    )
    by_sid = {s.sid: s for s in composed.sources}
    documents = sorted(
        {by_sid[sid].chunk.document.external_id for sid in composed.cited if sid in by_sid}
    )
    return Scored(question, composed, question.gold_doc_id in documents, documents)


def metrics_of(rows: list[dict], composed: list[Composed]) -> dict:
    n = len(rows)
    claims = sum(r["claims"] for r in rows)
    cited_sources = [s for c in composed for s in c.sources if s.sid in c.cited]
    totals = [r["total_ms"] for r in rows]
    per_token = [r["ms_per_token"] for r in rows if r["ms_per_token"] is not None]
    with_answer = [r for r in rows if r["token_f1"] is not None]
    return {
        "n": n,
        "citation_gold_rate": _share(sum(r["gold_cited"] for r in rows), n),
        "escalation_rate": _share(sum(r["status"] == "escalated" for r in rows), n),
        "needs_human_rate": _share(sum(r["status"] == "needs_human" for r in rows), n),
        "supported_sentence_rate": _share(sum(r["supported"] for r in rows), claims),
        "unsupported_sentences": sum(r["unsupported"] for r in rows),
        "verbatim_quote_rate": _share(
            sum(s.chunk.text[s.start : s.end] == s.text for s in cited_sources),
            len(cited_sources),
        ),
        "token_f1": _mean([r["token_f1"] for r in with_answer]),
        "rouge_l": _mean([r["rouge_l"] for r in with_answer]),
        "total_ms_p50": _percentile(totals, 50),
        "total_ms_p95": _percentile(totals, 95),
        "ms_per_token_p50": _percentile(per_token, 50),
        "ms_per_token_p95": _percentile(per_token, 95),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _percentile(values: list[float], q: int) -> float | None:
    # Nearest rank, as every other latency figure of the product (apps/core/stats.py).
    value = percentile(values, q / 100)
    return None if value is None else round(value, 1)


def answers_evaluate(
    *,
    questions: list[LabelledQuestion],
    design: str | None = None,
    k: int | None = None,
    use_filters: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Overall and per-product-line metrics plus one row per question."""
    design = design or settings.DRAFT_DESIGN
    k = k or settings.DRAFT_CHUNKS
    rows, composed, lines = [], [], {}
    for scored in _scored(questions, design, k, use_filters, progress):
        row = scored.as_dict()
        rows.append(row)
        composed.append(scored.composed)
        lines.setdefault(row["product_line"] or "(none)", []).append((row, scored.composed))
    return {
        "design": design,
        "k": k,
        "use_filters": use_filters,
        "overall": metrics_of(rows, composed),
        "per_product_line": {
            name: metrics_of([r for r, _ in pairs], [c for _, c in pairs])
            for name, pairs in sorted(lines.items())
        },
        "questions": rows,
        **_model_info(composed),
    }


def _scored(questions, design, k, use_filters, progress) -> Iterator[Scored]:
    # Product lines by name, read once (names match case-insensitively).
    lines = {name.lower(): pk for pk, name in ProductLine.objects.values_list("pk", "name")}
    for n, question in enumerate(questions, start=1):
        line = lines.get(question.product_line.lower()) if use_filters else None
        yield question_score(question=question, design=design, k=k, product_line_id=line)
        if progress:
            progress(n)


def _model_info(composed: list[Composed]) -> dict:
    """The model behind the drafts; "none" when no draft asked one (the ranked design), rather
    than loading a model only to name it."""
    call = next((c.structured.call for c in composed if c.structured), None)
    if call is None:
        return {"model": "none", "backend": "none", "prompt_version": ""}
    return {
        "model": call.model,
        "backend": call.backend,
        "prompt_version": str(call.prompt_version),
    }


def answer_eval_save(*, name: str, queries_file: str, report: dict) -> AnswerEvalRun:
    return AnswerEvalRun.objects.create(
        name=name,
        queries_file=queries_file,
        model=report["model"],
        backend=report["backend"],
        prompt_version=report["prompt_version"],
        design=report["design"],
        k=report["k"],
        use_filters=report["use_filters"],
        n=report["overall"]["n"],
        metrics=report["overall"],
        per_product_line=report["per_product_line"],
        questions=report["questions"],
    )
