"""Text-to-image search on a CLIP/SigLIP vision-text encoder.

Ranks images (given, or every image in a folder) by cosine similarity to a text query. Image
embeddings are cached by the sha256 of the file's bytes, in memory and on disk under
``<cache_dir>/embeddings``, so a second search of a folder embeds only new files. With
``image_classify`` on the same checkpoint it shares the loaded weights.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> red, blue = (store.put_image(PIL.Image.new("RGB", (64, 48), c)) for c in ("red", "blue"))
>>> tool = ImageSearch(checkpoint="tiny", device="cpu", embedding_cache_dir=tempfile.mkdtemp())
>>> tool.ensure_loaded()
>>> out = tool(ToolContext(store), query="a red car", images=[red, blue], top_k=1)
>>> len(out.images), -1 <= out.scores[0] <= 1
(1, True)
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from mmagent.artifacts import ImageRef
from mmagent.errors import ToolInputError
from mmagent.toolkit import WORDS, Ports, ToolContext, sample_image
from mmagent.tools._clip import ClipTool

__all__ = ["ImageSearch", "EmbeddingCache", "MAX_SEARCH_IMAGES"]

MAX_SEARCH_IMAGES = 1000
"""Most images one search ranks (given as a list, or found in a folder)."""
MAX_TOP_K = 100
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@dataclass
class _Search:
    """One search and its candidates: (sha256 of the image, an ImageRef or a file path)."""

    inp: Any
    candidates: list[tuple[str, Any]]


class ImageSearch(ClipTool):
    """Rank images by how well they match a text query (cosine similarity, best first).

    Give either ``images`` or a ``folder`` (searched recursively for image files). Folder
    images are embedded once: the embedding is cached under the sha256 of the file's bytes, so
    later searches (with any query) embed only files that are new or changed. The returned
    images are stored as artifacts.

    >>> ImageSearch.card()["inputs"]["folder"]["required"]
    False
    """

    name = "image_search"
    description = (
        "Text-to-image search: ranks a list of images, or every image in a folder, by how well "
        "each matches a text query, and returns the best matches with their scores."
    )

    class Input(Ports):
        query: str = Field(min_length=1, max_length=300,
                           description="what to look for, e.g. 'a dog on a beach'")
        images: list[ImageRef] | None = Field(
            None, min_length=1, max_length=MAX_SEARCH_IMAGES,
            description="the images to rank (give this or folder)")
        folder: str | None = Field(
            None, min_length=1, description="a local folder whose image files are ranked "
            "(give this or images)")
        top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="how many best matches to return")

        @field_validator("folder")
        @classmethod
        def _folder_exists(cls, folder: str | None) -> str | None:
            if folder is not None and not Path(folder).expanduser().is_dir():
                raise ValueError(f"got {folder!r}, which is not an existing folder; expected "
                                 "a directory of images")
            return folder

        @model_validator(mode="after")
        def _images_or_folder(self):
            if (self.images is None) == (self.folder is None):
                raise ValueError("expected exactly one of images or folder; got "
                                 + ("both" if self.images is not None else "neither"))
            return self

    class Output(Ports):
        images: list[ImageRef] = Field(description="the best-matching images, best first")
        scores: list[float] = Field(description="cosine similarity of each image to the query, "
                                    "in [-1, 1], best first")

    @classmethod
    def example_inputs(cls, store) -> list[dict[str, Any]]:
        """Queries over a set of three sample pictures (the ports alone give no image set)."""

        images = [sample_image(store, i).model_dump(mode="json") for i in range(3)]
        return [{"query": w, "images": images, "top_k": 2} for w in WORDS[:3]]

    def load(self) -> None:
        super().load()
        cache_root = self.options.get("embedding_cache_dir") or self.cache_dir / "embeddings"
        self.cache = EmbeddingCache(Path(cache_root) / self.encoder.key)
        self.embedded = 0  # images run through the encoder since load (the cache's misses)

    def prepare(self, inputs: list[BaseModel], ctx: ToolContext) -> list[_Search]:
        # each search's candidates (content hash + a way to open it); bounds first
        return [_Search(inp, self._candidates(inp, ctx)) for inp in inputs]

    def encode(self, rows: list[_Search], ctx: ToolContext) -> dict[str, Any]:
        # every candidate no cache knows, once across the batch, and every query
        missing: dict[str, Any] = {}
        for row in rows:
            for digest, source in row.candidates:
                if digest not in missing and self.cache.get(digest) is None:
                    missing[digest] = source
        return {"missing": missing, "queries": [row.inp.query for row in rows]}

    def forward(self, encoded: dict[str, Any], ctx: ToolContext) -> np.ndarray:
        self._embed_missing(encoded["missing"], ctx)
        return self.encoder.embed_texts(encoded["queries"])

    def decode(self, queries: np.ndarray, rows: list[_Search],
               ctx: ToolContext) -> list[BaseModel]:
        # rank each search's candidates by cosine similarity to its query
        outputs = []
        for row, q in zip(rows, queries, strict=True):
            emb = np.stack([self.cache.get(d) for d, _ in row.candidates])
            sims = emb @ q
            order = np.argsort(-sims, kind="stable")[: row.inp.top_k]
            refs = [self._as_ref(row.candidates[i][1], ctx) for i in order]
            outputs.append(self.Output(images=refs,
                                       scores=[round(float(sims[i]), 6) for i in order]))
        return outputs

    # -- steps ------------------------------------------------------------------------------

    def _candidates(self, inp: BaseModel, ctx: ToolContext) -> list[tuple[str, Any]]:
        if inp.images is not None:
            return [(ref.id, ref) for ref in inp.images]
        folder = Path(inp.folder).expanduser()
        if not folder.is_dir():  # it may have gone since the input was parsed
            raise ToolInputError(f"tool {self.name!r}, argument 'folder': got {inp.folder!r}, "
                                 "which is not an existing folder", tool=self.name, arg="folder")
        files = []
        for p in sorted(folder.rglob("*")):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                files.append(p)
                if len(files) > MAX_SEARCH_IMAGES:
                    raise ToolInputError(
                        f"tool {self.name!r}, argument 'folder': got {inp.folder!r} with more "
                        f"than {MAX_SEARCH_IMAGES} image files; expected at most "
                        f"{MAX_SEARCH_IMAGES} (search a smaller folder)",
                        tool=self.name, arg="folder", value=inp.folder, limit=MAX_SEARCH_IMAGES)
        if not files:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise ToolInputError(f"tool {self.name!r}, argument 'folder': got {inp.folder!r}, "
                                 f"which holds no image files ({suffixes})",
                                 tool=self.name, arg="folder", value=inp.folder)
        return [(self.cache.digest(p), p) for p in files]

    def _embed_missing(self, missing: dict[str, Any], ctx: ToolContext) -> None:
        from PIL import Image

        batch_size = int(self.options.get("batch_size", 32))
        items = list(missing.items())
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            images = []
            for _digest, source in chunk:
                if isinstance(source, ImageRef):
                    images.append(ctx.store.load_image(source))
                else:
                    with Image.open(source) as im:
                        images.append(im.convert("RGB"))
            for (digest, _), emb in zip(chunk, self.encoder.embed_images(images), strict=True):
                self.cache.put(digest, emb)
            self.embedded += len(chunk)
            ctx.progress(min(start + batch_size, len(items)), len(items), "embedding images")

    def _as_ref(self, source: Any, ctx: ToolContext) -> ImageRef:
        return source if isinstance(source, ImageRef) else ctx.store.put_file(source, "image")


class EmbeddingCache:
    """Unit embeddings by the sha256 of an image file's bytes: in memory, and one ``.npy`` per
    image under ``root`` (written atomically), so a later process reuses them too.

    File digests are remembered by (path, size, mtime), so an unchanged folder is not re-read.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._mem: dict[str, np.ndarray] = {}
        self._digests: dict[tuple[str, int, int], str] = {}

    def digest(self, path: Path) -> str:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in self._digests:
            self._digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._digests[key]

    def get(self, digest: str) -> np.ndarray | None:
        emb = self._mem.get(digest)
        if emb is None:
            f = self._file(digest)
            if f.is_file():
                emb = self._mem[digest] = np.load(f)
        return emb

    def put(self, digest: str, emb: np.ndarray) -> None:
        self._mem[digest] = emb = np.asarray(emb, dtype=np.float32)
        f = self._file(digest)
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, emb)
        os.replace(tmp, f)

    def _file(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.npy"
