"""Reads for the knowledge base, above all retrieval: filtered vector, keyword and hybrid search."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils.text import slugify
from pgvector.django import CosineDistance

from apps.knowledge import embedding
from apps.knowledge.models import (
    Chunk,
    Document,
    ErrorCategory,
    EvalRun,
    IngestItem,
    IngestJob,
    ProductLine,
)
from apps.knowledge.tagging import active_patterns, error_categories_for, error_codes_find

MODES = ("vector", "keyword", "hybrid")
# Each ranked list handed to the fusion is this many times k long (and at least 50), so a
# chunk ranked moderately by both methods can still win.
FUSION_DEPTH_FACTOR = 5

_WORD = re.compile(r"[A-Za-z0-9_]+")

# Both calibrated on doc2dial with all-MiniLM-L6-v2 (`eval_retrieval --calibrate`, README).
# Below RETRIEVAL_WEAK_SIMILARITY (0.30) a passage rarely answers the question: 1.8% of
# searches within the line that holds the answer fall below it, 34% of those within another
# line. An inferred filter is dropped when the best match without it is more similar by more
# than RETRIEVAL_INFERRED_FILTER_MARGIN (0.15): 0.6% of filters to the right line would be
# dropped, 81% of filters to a wrong one. Smaller margins drop right filters whose sibling
# page in another line happens to be closer (Skylark's Pro and Enterprise troubleshooting
# pages: 0.14 apart).


def weak_similarity() -> float:
    return settings.RETRIEVAL_WEAK_SIMILARITY


def inferred_filter_margin() -> float:
    return settings.RETRIEVAL_INFERRED_FILTER_MARGIN


@dataclass
class Filters:
    product_lines: list[int] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    error_categories: list[str] = field(default_factory=list)
    updated_after: dt.date | None = None

    def is_empty(self) -> bool:
        return not (
            self.product_lines or self.error_codes or self.error_categories or self.updated_after
        )

    def merged(self, other: Filters) -> Filters:
        return Filters(
            product_lines=sorted({*self.product_lines, *other.product_lines}),
            error_codes=sorted({*self.error_codes, *other.error_codes}),
            error_categories=sorted({*self.error_categories, *other.error_categories}),
            updated_after=self.updated_after or other.updated_after,
        )


@dataclass
class Hit:
    chunk: Chunk
    score: float
    vector_rank: int | None = None
    vector_similarity: float | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None

    @property
    def reasons(self) -> list[str]:
        reasons = []
        if self.vector_rank is not None:
            reasons.append(f"meaning: #{self.vector_rank} (cosine {self.vector_similarity:.3f})")
        if self.keyword_rank is not None:
            reasons.append(f"keywords: #{self.keyword_rank} (rank {self.keyword_score:.3f})")
        return reasons


@dataclass
class Mention:
    """A product line's name or alias found in a question. `reason` says why it was not used
    as a filter; it is empty when the mention counts."""

    product_line: int
    name: str  # the product line's name
    text: str  # as the question writes it
    reason: str = ""

    @property
    def used(self) -> bool:
        return not self.reason


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    filters: Filters  # applied: chosen by hand, plus the inferred ones unless dropped
    inferred: Filters  # what the question implied, applied or not (see dropped_inferred)
    elapsed_ms: float
    terms: list[str]
    mentions: list[Mention] = field(default_factory=list)
    # The inferred filters were not applied: the best match with them was much weaker than
    # the best match without them (see inferred_filter_margin).
    dropped_inferred: bool = False
    # Best cosine similarity under the applied filters, and (when filters were inferred)
    # under the hand-chosen filters alone. None: not measured (keyword mode) or nothing found.
    best_similarity: float | None = None
    best_similarity_without_inferred: float | None = None
    # The best match is below weak_similarity(): nothing here is likely to answer the
    # question. None when not measured (keyword mode without inferred filters).
    weak: bool | None = None

    def notices(self, *, weak: bool = True) -> list[str]:
        """What a person must know before trusting these results, in words (`weak=False`
        leaves out the "no good match" note, for callers that judge matches themselves)."""
        notes = [_ambiguous_note(m) for m in self.mentions if not m.used]
        if self.dropped_inferred:
            notes.append(_dropped_note(self))
        if weak and self.weak and self.best_similarity is not None:  # no hits: the list says so
            notes.append(_weak_note(self))
        return notes


def _ambiguous_note(mention: Mention) -> str:
    return f"The question mentions “{mention.text}”, {mention.reason}: not used as a filter."


def _dropped_note(result: SearchResult) -> str:
    names = [m.name for m in result.mentions if m.used]
    names = list(dict.fromkeys(names))  # one per line, in the question's order
    what = " and ".join([*names, *result.inferred.error_categories])
    if result.inferred.product_lines and not result.inferred.error_categories:
        outside = "that product line" if len(names) == 1 else "those product lines"
        return (
            f"The question mentions {what}, but the best matches are outside {outside}: "
            "showing all product lines."
        )
    return (
        f"The question mentions {what}, but the best matches are outside those filters: "
        "showing results without them."
    )


def _weak_note(result: SearchResult) -> str:
    best, floor = result.best_similarity, weak_similarity()
    detail = f"(best similarity {best:.2f}; below {floor:.2f} a passage rarely answers)"
    filters = result.filters
    if filters.is_empty():
        return f"No good match in the documents {detail}."
    if filters.product_lines and not (
        filters.error_codes or filters.error_categories or filters.updated_after
    ):
        where = "this product line" if len(filters.product_lines) == 1 else "these product lines"
        return f"No good match in {where} {detail}. Try without the filter."
    return f"No good match with these filters {detail}. Try switching some off."


# --- filter inference --------------------------------------------------------------------------

# Words that may stand right before a product line's name without making it part of a longer
# name: a question's first word and function words ("Does Enterprise…", "On Pro…").
_PLAIN_WORDS = frozenset(
    " ".join(
        [
            "a an the on in for with does do did is are was were can could should would will",
            "how why what when where which who whom whose our my your their its his her this",
            "that these those if and or but not no to of from at by after before about since",
            "until into onto under over i we you they it he she me us them please hi hello help",
        ]
    ).split()
)
# After an everyday word, these make it a plan's name: "the enterprise plan", "pro tier".
_PLAN_WORDS = frozenset(
    ["plan", "plans", "edition", "tier", "license", "licence", "subscription", "version"]
)
_WORD_BEFORE = re.compile(r"([^\W\d_][\w.&'+-]*)[ \t]+$")
_WORD_AFTER = re.compile(r"^[ \t]+([^\W\d_][\w.&'+-]*)")


def product_line_mentions(*, query: str) -> list[Mention]:
    """Every product line named in the question, each judged unambiguous or not.

    The rule (README, "Filters inferred from the question"):
    - The longest name wins: an alias "Skylark Enterprise" is one mention, not "Enterprise".
    - A name directly after another capitalised word ("Redis Enterprise", "GitHub Enterprise")
      or before a capitalised word ("Enterprise Manager"; an all-capitals acronym after it,
      as in "Enterprise SSO", does not count) is part of a longer product name: ambiguous.
    - A one-word name that is also an everyday word (the embedding model's vocabulary, learnt
      from general text, holds it whole: enterprise, pro, team, plus) counts only when the
      question writes it with a capital ("Enterprise", "PRO") or right before "plan",
      "edition", "tier" and the like ("the enterprise plan"): "our enterprise customers" is
      ambiguous.
    """
    candidates = []
    for line in ProductLine.objects.only("name", "aliases"):
        for name in dict.fromkeys([line.name, *line.alias_list]):
            pattern = rf"(?<![\w-]){re.escape(name)}(?![\w-])"
            for match in re.finditer(pattern, query, flags=re.IGNORECASE):
                candidates.append((match.start(), match.end(), line))
    taken: list[tuple[int, int]] = []
    mentions: list[tuple[int, Mention]] = []
    for start, end, line in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            continue
        taken.append((start, end))
        text = query[start:end]
        mention = Mention(product_line=line.pk, name=line.name, text=text)
        mention.reason = _ambiguity(query, start, end)
        mentions.append((start, mention))
    return [mention for _, mention in sorted(mentions, key=lambda m: m[0])]


def _ambiguity(query: str, start: int, end: int) -> str:
    text = query[start:end]
    before = _WORD_BEFORE.search(query[:start])
    if before and before.group(1)[0].isupper() and before.group(1).lower() not in _PLAIN_WORDS:
        return f"but only as part of “{before.group(1)} {text}”, another name"
    after = _WORD_AFTER.search(query[end:])
    if after:
        word = after.group(1)
        if word[0].isupper() and not word.isupper() and word.lower() not in _PLAIN_WORDS:
            return f"but only as part of “{text} {word}”, another name"
    if " " not in text and text.islower() and embedding.is_common_word(text):
        plan = _WORD_AFTER.search(query[end:])
        if plan and plan.group(1).lower() in _PLAN_WORDS:
            return ""  # "the enterprise plan": the word names a plan here
        return "which is also an everyday word (write it with a capital to filter by it)"
    return ""


def filters_infer(*, query: str, mentions: list[Mention] | None = None) -> Filters:
    """Product lines the question names unambiguously (product_line_mentions), and the
    categories of error codes it quotes."""
    if mentions is None:
        mentions = product_line_mentions(query=query)
    product_lines = sorted({m.product_line for m in mentions if m.used})
    codes = error_codes_find(text=query, patterns=active_patterns())
    categories = error_categories_for(
        codes=codes, categories=list(ErrorCategory.objects.only("prefix", "name"))
    )
    return Filters(product_lines=product_lines, error_categories=categories)


def _filter_q(filters: Filters) -> Q:
    q = Q()
    if filters.product_lines:
        q &= Q(product_line_id__in=filters.product_lines)
    if filters.error_codes:
        q &= Q(error_codes__overlap=filters.error_codes)
    if filters.error_categories:
        q &= Q(error_categories__overlap=filters.error_categories)
    if filters.updated_after:
        q &= Q(source_updated_at__gte=filters.updated_after)
    return q


# --- the two rankers -----------------------------------------------------------------------


def vector_ranked(*, query_vector, filters: Filters, limit: int, exact: bool = False) -> list:
    """(chunk id, cosine distance) best first. Filters sit in the same WHERE clause as the
    HNSW scan; iterative scans keep reading the index until `limit` rows pass the filters."""
    with transaction.atomic(), connection.cursor() as cursor:
        if exact:
            cursor.execute("SET LOCAL enable_indexscan = off")
        else:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(settings.HNSW_EF_SEARCH, limit)])
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        rows = list(
            Chunk.objects.filter(_filter_q(filters))
            .annotate(distance=CosineDistance("embedding", query_vector))
            .order_by("distance")
            .values_list("id", "document_id", "distance")[:limit]
        )
    # relaxed_order may return neighbours slightly out of order: sort them exactly.
    return sorted(rows, key=lambda row: row[2])


def keyword_terms(query: str) -> list[str]:
    return [w for w in _WORD.findall(query) if len(w) > 1][:32]


def keyword_ranked(*, query: str, filters: Filters, limit: int) -> list:
    """(chunk id, document id, rank) best first; any query word may match (OR), stop words
    dropped. ts_rank with length normalisation 1 measured well above cover density (ts_rank_cd)
    on doc2dial: keyword hit@1 0.47 against 0.37."""
    terms = keyword_terms(query)
    if not terms:
        return []
    search = SearchQuery(" | ".join(terms), search_type="raw", config="english")
    return list(
        Chunk.objects.filter(_filter_q(filters), search_vector=search)
        .annotate(rank=SearchRank(F("search_vector"), search, normalization=1))
        .order_by("-rank", "id")
        .values_list("id", "document_id", "rank")[:limit]
    )


# --- the service ------------------------------------------------------------------------------


def chunks_search(
    *,
    query: str,
    filters: Filters | None = None,
    k: int = 10,
    mode: str = "hybrid",
    infer_filters: bool = True,
    query_vector=None,
) -> SearchResult:
    """The k best chunks for `query` under the hand-chosen `filters` plus those inferred
    from the question. An inferred filter never hides strong matches: when the best cosine
    similarity with it is more than inferred_filter_margin() below the best without it, it is
    dropped (result.dropped_inferred). result.weak says the best match is below
    weak_similarity(). Callers that act on results (ticket drafting) should read both.

    Both judgements compare the question's topic: the question without the product-line
    names that set the filter. Those words match every page of their line ("On the
    Enterprise plan, how do I turn on AOF persistence?" finds Enterprise pages at 0.42
    without any of them being about AOF); the filter already stands for them."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    started = time.perf_counter()
    explicit = filters or Filters()
    mentions = product_line_mentions(query=query) if infer_filters else []
    inferred = filters_infer(query=query, mentions=mentions) if infer_filters else Filters()
    applied = explicit.merged(inferred)
    # Read deeper than k: fusion and the per-document cap both need candidates beyond k.
    depth = max(50, k * FUSION_DEPTH_FACTOR)
    ranks_by_meaning = mode in ("vector", "hybrid")
    # Inferred filters are checked by meaning in every mode.
    check_inferred = not inferred.is_empty()
    measured = ranks_by_meaning or check_inferred
    query_vector, topic_vector = _vectors(query, query_vector, mentions, measured)
    vector_rows = []
    if ranks_by_meaning:
        vector_rows = vector_ranked(query_vector=query_vector, filters=applied, limit=depth)
    best = best_without = None
    if measured:
        best = (
            _best_similarity(vector_rows)
            if topic_vector is query_vector and ranks_by_meaning
            else _best_under(topic_vector, applied)
        )
    dropped = False
    if check_inferred:
        best_without = _best_under(topic_vector, explicit)
        if _much_weaker(best, best_without):
            dropped, applied, best = True, explicit, best_without
            if ranks_by_meaning:
                vector_rows = vector_ranked(query_vector=query_vector, filters=applied, limit=depth)
    keyword_rows = []
    if mode in ("keyword", "hybrid"):
        keyword_rows = keyword_ranked(query=query, filters=applied, limit=depth)
    hits = _fuse(vector_rows, keyword_rows, k=k)
    _attach_chunks(hits)
    return SearchResult(
        query=query,
        mode=mode,
        hits=hits,
        filters=applied,
        inferred=inferred,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        terms=keyword_terms(query),
        mentions=mentions,
        dropped_inferred=dropped,
        best_similarity=best,
        best_similarity_without_inferred=best_without,
        weak=(best is None or best < weak_similarity()) if measured else None,
    )


def _vectors(query: str, query_vector, mentions: list[Mention], needed: bool) -> tuple:
    """The question's vector (given or embedded) and its topic's: the same vector unless a
    used product-line mention can be taken out. Nothing is embedded when nothing is measured
    (keyword search with no inferred filter): the topic's vector is then None."""
    if not needed:
        return query_vector, None
    topic = question_topic(query=query, mentions=mentions)
    texts = ([query] if query_vector is None else []) + ([topic] if topic != query else [])
    vectors = list(embedding.embed(texts)) if texts else []
    if query_vector is None:
        query_vector = vectors.pop(0)
    return query_vector, (vectors[0] if vectors else query_vector)


def question_topic(*, query: str, mentions: list[Mention]) -> str:
    """The question without the product-line names that set a filter ("On the Enterprise
    plan, how…" → "On the, how…"); the question itself when nothing (or nothing else) is
    left."""
    topic = query
    for mention in mentions:
        if mention.used:
            topic = re.sub(
                rf"(?<![\w-]){re.escape(mention.text)}(?![\w-])", " ", topic, flags=re.IGNORECASE
            )
    topic = " ".join(topic.split())
    return topic if _WORD.search(topic) else query


def _best_under(vector, filters: Filters) -> float | None:
    return _best_similarity(vector_ranked(query_vector=vector, filters=filters, limit=1))


def _best_similarity(rows: list) -> float | None:
    return 1.0 - float(rows[0][2]) if rows else None


def _much_weaker(best: float | None, best_without: float | None) -> bool:
    if best_without is None:
        return False  # nothing outside the filter either
    if best is None:
        return True  # the filter leaves nothing at all
    return best_without - best > inferred_filter_margin()


def _fuse(vector_rows: list, keyword_rows: list, *, k: int) -> list[Hit]:
    """Reciprocal-rank fusion (with one list, just that list's order), then at most
    RETRIEVAL_MAX_CHUNKS_PER_DOCUMENT chunks of any one document, so the top k spans more
    documents instead of repeating the neighbours of one."""
    hits: dict[int, Hit] = {}
    documents: dict[int, int] = {}
    rrf_k = settings.RETRIEVAL_RRF_K
    for rank, (chunk_id, document_id, distance) in enumerate(vector_rows, start=1):
        hit = hits.setdefault(chunk_id, Hit(chunk=chunk_id, score=0.0))
        hit.vector_rank, hit.vector_similarity = rank, 1.0 - float(distance)
        hit.score += 1.0 / (rrf_k + rank)
        documents[chunk_id] = document_id
    for rank, (chunk_id, document_id, score) in enumerate(keyword_rows, start=1):
        hit = hits.setdefault(chunk_id, Hit(chunk=chunk_id, score=0.0))
        hit.keyword_rank, hit.keyword_score = rank, float(score)
        hit.score += 1.0 / (rrf_k + rank)
        documents[chunk_id] = document_id
    per_document: dict[int, int] = {}
    fused: list[Hit] = []
    for chunk_id, hit in sorted(hits.items(), key=lambda item: (-item[1].score, item[0])):
        document_id = documents[chunk_id]
        if per_document.get(document_id, 0) >= settings.RETRIEVAL_MAX_CHUNKS_PER_DOCUMENT:
            continue
        per_document[document_id] = per_document.get(document_id, 0) + 1
        fused.append(hit)
        if len(fused) == k:
            break
    return fused


# The columns a hit carries: what the search page and the retrieval evaluation read.
# A document's raw upload (up to 10 MB) and metadata, and a chunk's embedding and tsvector, stay
# in the database; reading one of them from a hit costs a query per hit, so add a field here
# before a caller starts using it.
HIT_FIELDS = (
    "document",
    "ordinal",
    "text",
    "heading_path",
    "token_count",
    "product_line",
    "error_codes",
    "error_categories",
    "source_updated_at",
    "document__title",
    "document__external_id",
    "document__format",
    "document__source_url",
    "document__source_updated_at",
    "document__product_line",
    "product_line__name",
    "product_line__slug",
)


def _attach_chunks(hits: list[Hit]) -> None:
    chunks = (
        Chunk.objects.select_related("document", "product_line")
        .only(*HIT_FIELDS)
        .in_bulk([hit.chunk for hit in hits])
    )
    for hit in hits:
        hit.chunk = chunks[hit.chunk]


# --- screens -----------------------------------------------------------------------------------


def documents_list(*, product_line: str = "", status: str = "", q: str = "") -> QuerySet:
    documents = Document.objects.select_related("product_line").defer("raw", "metadata")
    if product_line:
        documents = documents.filter(product_line__slug=product_line)
    if status:
        documents = documents.filter(status=status)
    if q:
        documents = documents.filter(Q(title__icontains=q) | Q(external_id__icontains=q))
    return documents.order_by("title")


def chunk_neighbours(*, chunk: Chunk, around: int = 1) -> list[Chunk]:
    return list(
        Chunk.objects.filter(
            document_id=chunk.document_id,
            ordinal__gte=chunk.ordinal - around,
            ordinal__lte=chunk.ordinal + around,
        ).order_by("ordinal")
    )


def ingest_job_progress(*, job: IngestJob) -> dict:
    counts = dict(job.items.values_list("status").annotate(n=Count("id")).order_by())
    labels = dict(IngestItem.Status.choices)
    total = sum(counts.values())
    finished = total - counts.get("pending", 0) - counts.get("running", 0)
    return {
        "total": total,
        "finished": finished,
        "percent": round(100 * finished / total) if total else 100,
        "counts": counts,
        # (status, label, count) in the order a job goes through them, for the badges.
        "labelled_counts": [
            (status, labels[status], counts[status]) for status in labels if counts.get(status)
        ],
        "failed": counts.get("failed", 0),
        "active": job.status in (IngestJob.Status.QUEUED, IngestJob.Status.RUNNING),
    }


def ingest_job_filing(*, job: IngestJob) -> dict:
    """How the documents this job stored or found unchanged were filed, when no product line
    was chosen for it: those left without one (searches and Q&A runs on a product line leave
    them out), the folders they came from (no product line has their name), and those a
    folder's name filed under an existing product line, which may not be the product they
    document."""
    if job.product_line_id is not None:
        return {"documents": 0, "folders": [], "by_folder": []}
    ids = job.items.filter(
        status__in=(IngestItem.Status.DONE, IngestItem.Status.SKIPPED, IngestItem.Status.PARTIAL)
    ).values_list("external_id", flat=True)
    documents = Document.objects.filter(external_id__in=ids).select_related("product_line")
    untagged, folders, by_folder = 0, set(), Counter()
    for document in documents.only("external_id", "product_line__name", "product_line__slug"):
        parts = document.external_id.split("/")[:-1]
        line = document.product_line
        if line is None:
            untagged += 1
            folders.update(parts)
            continue
        # The rule services._product_line_from applies: the line's name, or its slug.
        named = [f for f in parts if f.lower() == line.name.lower() or slugify(f) == line.slug]
        if named:
            by_folder[(line.name, named[-1])] += 1
    return {
        "documents": untagged,
        "folders": sorted(folders)[:10],
        "by_folder": [(name, folder, n) for (name, folder), n in sorted(by_folder.items())],
    }


def error_category_names() -> list[str]:
    return sorted(set(ErrorCategory.objects.values_list("name", flat=True)))


# --- evaluation runs ------------------------------------------------------------------------


def eval_runs_list(*, limit: int = 50) -> list[EvalRun]:
    """Recent runs with their summary figures as `overall`, `per_product_line` and `latency`.
    The per-question results (hundreds of rows a run) stay in the database: read
    run.results only on one run's own page."""
    return list(
        EvalRun.objects.defer("queries", "results")
        .select_related("created_by")
        .annotate(
            overall=KeyTransform("overall", "results"),
            per_product_line=KeyTransform("per_product_line", "results"),
            latency=KeyTransform("latency_ms", "results"),
        )[:limit]
    )


def eval_runs_product_lines(*, runs: list[EvalRun]) -> list[str]:
    """Every product line any of `runs` measured: a line one run lacks still gets a row."""
    return sorted({line for run in runs for line in (run.per_product_line or {})})


def eval_run_questions(*, run: EvalRun, missed_only: bool = False) -> list[dict]:
    """The run's questions with the gold document's rank (None: not found) and what came back
    first; the gold document's own entries are marked."""
    rows = []
    for row in (run.results or {}).get("per_query", []):
        if missed_only and row.get("rank") is not None:
            continue
        top = [{**hit, "is_gold": hit.get("id") == row.get("gold_doc_id")} for hit in row["top"]]
        rows.append({**row, "top": top})
    return rows


def eval_run_metrics(*, run: EvalRun) -> list[tuple[str, float | None]]:
    """The run's overall figures in the order its page shows them."""
    overall = (run.results or {}).get("overall", {})
    names = [f"hit@{k}" for k in run.ks] + ["mrr@10"]
    return [(name, overall.get(name)) for name in names]


def terms_unknown(*, terms: list[str]) -> list[str]:
    """The terms no chunk of the knowledge base contains (full-text, stemmed as the index is):
    a name a ticket asks about that the documentation never mentions."""
    unknown = []
    for term in dict.fromkeys(terms):
        words = keyword_terms(term)
        if not words:
            continue
        query = SearchQuery(" & ".join(words), search_type="raw", config="english")
        if not Chunk.objects.filter(search_vector=query).exists():
            unknown.append(term)
    return unknown


def document_same_content(
    *, content_hash: str, external_id: str, product_line: ProductLine | None
) -> Document | None:
    """A stored document of the same product line with these very bytes under another id: the
    same folder uploaded from another root ("docs/a.md" then "a.md")."""
    return (
        Document.objects.filter(
            content_hash=content_hash, product_line=product_line, status=Document.Status.READY
        )
        .exclude(external_id=external_id)
        .only("external_id", "title")
        .first()
    )
