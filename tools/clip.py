"""Zero-shot labels and text-to-image search on one CLIP/SigLIP vision-text encoder.

Both tools load the checkpoint the same way (:class:`ClipEncoder`): ``AutoModel`` plus the
checkpoint's tokenizer and PIL image processor, so CLIP, SigLIP and SigLIP 2 ids all work. In one
process the two tools share the loaded weights when they name the same checkpoint.

- ``image_classify`` scores an image against the given labels: a softmax over the labels for
  CLIP (contrastive training), an independent sigmoid per label for SigLIP.
- ``image_search`` ranks images (given, or every image in a folder) by cosine similarity to a
  text query. Image embeddings are cached by the sha256 of the file's bytes, in memory and on disk
  under ``<cache_dir>/embeddings``, so a second search of a folder embeds only new files.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts._store import ArtifactStore
>>> from mmagent.tool._base import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> ref = store.put_image(PIL.Image.new("RGB", (64, 48), (200, 30, 30)))
>>> tool = ImageClassify(checkpoint="tiny", device="cpu")
>>> tool.ensure_loaded()
>>> out = tool.run([tool.parse_input({"image": ref, "labels": ["cat", "dog"]})], ToolContext(store))
>>> sorted(out[0].labels), round(sum(out[0].scores), 3)
(['cat', 'dog'], 1.0)
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mmagent.artifacts import ImageRef
from mmagent.errors import ToolInputError
from mmagent.tool import Resources, Tool, ToolContext

__all__ = ["ImageClassify", "ImageSearch", "ClipEncoder", "MAX_LABELS", "MAX_SEARCH_IMAGES"]

logger = logging.getLogger(__name__)

MAX_LABELS = 64
"""Most candidate labels one image is scored against."""
MAX_SEARCH_IMAGES = 1000
"""Most images one search ranks (given as a list, or found in a folder)."""
MAX_TOP_K = 100
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}

# Label-like English for the tiny model's BPE vocabulary (build_tiny).
_TINY_CORPUS = [
    "a photo of a cat", "a photo of a dog", "a photo of a bird", "a red car on the street",
    "a blue boat on a lake", "a bowl of fruit", "a green field", "a city at night",
    "a person riding a bicycle", "a plate of food", "a mountain covered in snow", "a flower",
    "a black and white picture", "a painting of a landscape", "an airplane in the sky",
]


# -- the shared encoder ------------------------------------------------------------------------


class ClipEncoder:
    """A loaded CLIP/SigLIP checkpoint: L2-normalised image and text embeddings.

    Use :meth:`get` rather than the constructor: tools naming the same checkpoint, device and
    dtype get the same instance, which lives as long as one of them holds it.
    """

    _live: weakref.WeakValueDictionary[tuple[str, str, str], ClipEncoder] = (
        weakref.WeakValueDictionary())
    _live_lock = threading.Lock()

    def __init__(self, path: str, device: str, dtype: Any) -> None:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        self.path, self.device, self.dtype = path, device, dtype
        # The model first: an unreachable hub id fails here with a plain OSError.
        self.model = AutoModel.from_pretrained(path, dtype=dtype).to(device).eval()
        if not hasattr(self.model, "get_image_features"):
            raise ValueError(f"{path} is a {type(self.model).__name__}; expected a CLIP or "
                             "SigLIP dual encoder (with get_image_features)")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        # backend="pil": the torchvision image processors need torchvision; the PIL ones read
        # the same preprocessor config.
        self.image_processor = AutoImageProcessor.from_pretrained(path, backend="pil")
        self.model_type = self.model.config.model_type
        self.sigmoid = self.model_type.startswith("siglip")
        self.key = hashlib.sha256(
            f"{Path(path).resolve() if Path(path).exists() else path}|{dtype}".encode()
        ).hexdigest()[:16]

    @classmethod
    def get(cls, path: str, device: str, dtype: Any) -> ClipEncoder:
        key = (path, device, str(dtype))
        with cls._live_lock:
            enc = cls._live.get(key)
            if enc is None:
                enc = cls(path, device, dtype)
                cls._live[key] = enc
            return enc

    def embed_images(self, images: list) -> np.ndarray:
        """``(n, d)`` float32, unit length."""
        import torch

        pixel_values = self.image_processor(images, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            out = self.model.get_image_features(
                pixel_values=pixel_values.to(self.device, self.dtype))
        return _unit(_pooled(out))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` float32, unit length."""
        import torch

        # SigLIP was trained on text padded to 64 tokens and has no attention mask: pad alike.
        kw = ({"padding": "max_length", "max_length": 64} if self.sigmoid else {"padding": True})
        enc = self.tokenizer(texts, truncation=True, return_tensors="pt", **kw)
        enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            out = self.model.get_text_features(**enc)
        return _unit(_pooled(out))

    def logits(self, similarity: np.ndarray) -> np.ndarray:
        """Cosine similarities to the model's logits (its learnt scale, and bias for SigLIP)."""
        scale = float(self.model.logit_scale.detach().exp())
        bias = getattr(self.model, "logit_bias", None)
        bias = 0.0 if bias is None else float(bias.detach())
        return similarity * scale + bias


def _pooled(out: Any):
    # transformers 5 returns a ModelOutput whose pooler_output is the projected embedding.
    return out if hasattr(out, "float") else out.pooler_output


def _unit(t) -> np.ndarray:
    a = t.float().cpu().numpy()
    return a / np.linalg.norm(a, axis=-1, keepdims=True).clip(min=1e-12)


class _ClipTool(Tool):
    """Loading and the tiny model, shared by :class:`ImageClassify` and :class:`ImageSearch`."""

    default_checkpoint = "openai/clip-vit-base-patch32"
    # 151M parameters: ~0.3 GB of weights in fp16, plus activations for batches of 224x224.
    resources = Resources(num_gpus=0.1, num_cpus=1.0, gpu_memory_gb=1.0)
    worker = True  # runs on its own long-lived thread, batching concurrent calls

    def load(self) -> None:
        self.encoder = ClipEncoder.get(self.checkpoint_path(), self.device(), self.torch_dtype())
        logger.info("%s: loaded %s on %s (%s)", self.name, self.encoder.path,
                    self.encoder.device, self.encoder.dtype)

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight CLIP (~0.3 MB) with a BPE tokenizer trained in code."""
        import torch
        from transformers import (
            CLIPConfig,
            CLIPImageProcessorPil,
            CLIPModel,
            CLIPProcessor,
            CLIPTokenizer,
        )

        tokenizer = CLIPTokenizer().train_new_from_iterator(_TINY_CORPUS, vocab_size=300,
                                                            show_progress=False)
        tokenizer.model_max_length = 77
        image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32},
                                                crop_size={"height": 32, "width": 32})
        config = CLIPConfig(
            text_config={
                "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 37,
                "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 77,
                "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                "pad_token_id": tokenizer.pad_token_id,
            },
            vision_config={
                "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                "num_attention_heads": 4, "image_size": 32, "patch_size": 8,
            },
            projection_dim=16,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = CLIPModel(config)
        model.save_pretrained(path)
        CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)


# -- image_classify ----------------------------------------------------------------------------


class ImageClassify(_ClipTool):
    """Zero-shot classification: which of the given labels fits the image best.

    Each label is embedded as ``label_template.format(label)`` (tool option, default
    ``"a photo of a {}."``, as in CLIP's paper). Scores are probabilities, best first.

    >>> ImageClassify.card()["outputs"]["scores"]["type"]
    'list[number]'
    """

    name = "image_classify"
    description = (
        "Zero-shot image classification: scores an image against a list of candidate text "
        "labels and returns the best label and all labels sorted by score."
    )

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")

        image: ImageRef = Field(description="the image to classify")
        labels: list[str] = Field(
            min_length=1, max_length=MAX_LABELS,
            description=f"candidate labels, e.g. ['cat', 'dog'] (1 to {MAX_LABELS}, distinct)")

        @field_validator("labels")
        @classmethod
        def _labels_distinct_and_short(cls, labels: list[str]) -> list[str]:
            for i, label in enumerate(labels):
                if not label.strip() or len(label) > 100:
                    raise ValueError(f"got label {i} {label!r}; expected 1 to 100 characters")
            if len(set(labels)) != len(labels):
                raise ValueError(f"got repeated labels in {labels!r}; expected distinct labels")
            return labels

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")

        label: str = Field(description="the best-scoring label")
        labels: list[str] = Field(description="every label, best first")
        scores: list[float] = Field(description="each label's probability, in the order of "
                                    "labels (best first)")

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        template = self.options.get("label_template", "a photo of a {}.")
        # 1. every image in one forward pass; every distinct label in another
        images = [ctx.store.load_image(inp.image) for inp in inputs]
        image_emb = self.encoder.embed_images(images)
        texts = sorted({label for inp in inputs for label in inp.labels})
        text_emb = dict(zip(texts, self.encoder.embed_texts([template.format(t) for t in texts]),
                            strict=True))

        # 2. per image: logits against its own labels, then softmax (CLIP) or sigmoid (SigLIP)
        outputs = []
        for emb, inp in zip(image_emb, inputs, strict=True):
            logits = self.encoder.logits(np.stack([text_emb[t] for t in inp.labels]) @ emb)
            if self.encoder.sigmoid:
                probs = 1.0 / (1.0 + np.exp(-logits))
            else:
                probs = np.exp(logits - logits.max())
                probs /= probs.sum()
            order = np.argsort(-probs, kind="stable")
            outputs.append(self.Output(label=inp.labels[order[0]],
                                       labels=[inp.labels[i] for i in order],
                                       scores=[round(float(probs[i]), 6) for i in order]))
        return outputs


# -- image_search ------------------------------------------------------------------------------


class ImageSearch(_ClipTool):
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

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")

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

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")

        images: list[ImageRef] = Field(description="the best-matching images, best first")
        scores: list[float] = Field(description="cosine similarity of each image to the query, "
                                    "in [-1, 1], best first")

    @classmethod
    def example_inputs(cls, store) -> list[dict[str, Any]]:
        """Queries over a set of three sample pictures (the ports alone give no image set)."""
        from mmagent.tool import WORDS, sample_image

        images = [sample_image(store, i).model_dump(mode="json") for i in range(3)]
        return [{"query": w, "images": images, "top_k": 2} for w in WORDS[:3]]

    def load(self) -> None:
        super().load()
        cache_root = self.options.get("embedding_cache_dir") or self.cache_dir / "embeddings"
        self.cache = EmbeddingCache(Path(cache_root) / self.encoder.key)
        self.embedded = 0  # images run through the encoder since load (the cache's misses)

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        # 1. list each search's candidates (content hash + a way to open it); bounds first
        candidates = [self._candidates(inp, ctx) for inp in inputs]

        # 2. embed every candidate no cache knows, once across the batch
        missing: dict[str, Any] = {}
        for cands in candidates:
            for digest, source in cands:
                if digest not in missing and self.cache.get(digest) is None:
                    missing[digest] = source
        self._embed_missing(missing, ctx)

        # 3. all queries in one text pass; rank each search's candidates
        queries = self.encoder.embed_texts([inp.query for inp in inputs])
        outputs = []
        for inp, cands, q in zip(inputs, candidates, queries, strict=True):
            emb = np.stack([self.cache.get(d) for d, _ in cands])
            sims = emb @ q
            order = np.argsort(-sims, kind="stable")[: inp.top_k]
            refs = [self._as_ref(cands[i][1], ctx) for i in order]
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
