"""What the tiny random-weight builders share: a tokenizer trained in code on a few sentences,
so a tiny checkpoint needs no download.

Private to ``mmagent.tools``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["trained_tokenizer"]

_VOCAB = 300  # the tiny models size their embedding tables by it: it keeps them small


def trained_tokenizer(tokenizer_class: type, corpus: list[str]) -> Any:
    """A ``tokenizer_class`` (a transformers tokenizer backed by ``tokenizers``) trained on
    ``corpus``, quietly."""
    return tokenizer_class().train_new_from_iterator(corpus, vocab_size=_VOCAB,
                                                     show_progress=False)
