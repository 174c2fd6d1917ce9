"""A request's media into the artifact store: files, PIL images or artifact references in,
validated :class:`~mmagent.artifacts.ArtifactRef` out, named ``image0``, ``audio0``, ``video0``…

>>> import tempfile
>>> from mmagent.artifacts import ArtifactStore
>>> ingest(ArtifactStore(tempfile.mkdtemp()), (), (), ())
{}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mmagent.artifacts._described import kind_phrase
from mmagent.artifacts._store import ArtifactKind, ArtifactRef, ArtifactStore
from mmagent.errors import WrongKindError

__all__ = ["MediaInput", "ingest", "put_media"]

MediaInput = str | os.PathLike[str] | ArtifactRef | Any  # Any: a PIL image


def ingest(store: ArtifactStore, images: Any, audio: Any, video: Any) -> dict[str, ArtifactRef]:
    """Validate and store the request's media; names are image0.., audio0.., video0.."""
    inputs: dict[str, ArtifactRef] = {}
    kinds: tuple[tuple[ArtifactKind, Any], ...] = (("image", images), ("audio", audio),
                                                ("video", video))
    for kind, items in kinds:
        if isinstance(items, (str, os.PathLike)):
            items = [items]
        for i, item in enumerate(items):
            inputs[f"{kind}{i}"] = put_media(store, item, kind)
    return inputs


def put_media(store: ArtifactStore, item: MediaInput, kind: ArtifactKind) -> ArtifactRef:
    """One media input, stored (an :class:`ArtifactRef` must already be in ``store``)."""
    if isinstance(item, ArtifactRef):
        if item.kind != kind:
            raise WrongKindError(f"got artifact {item.id}, {kind_phrase(item.kind)} "
                                 f"({item.mime}); expected {kind_phrase(kind)}")
        return store.get(item.id)
    if isinstance(item, (str, os.PathLike)):
        return store.put_file(Path(item), kind)
    if kind == "image" and hasattr(item, "save") and hasattr(item, "size"):
        return store.put_image(item)
    raise WrongKindError(f"got a {type(item).__name__} as {kind_phrase(kind)}; expected a file "
                         "path, an ArtifactRef" + (" or a PIL image" if kind == "image" else ""))
