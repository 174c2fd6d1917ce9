"""Provenance: produced images, audio and video carry the workflow that made them.

Like ComfyUI's embedded workflows: a PNG gets an ``iTXt`` chunk, a WAV a ``LIST/INFO``
chunk (``ICMT``), an MP4 a ``comment`` tag (ffmpeg, stream copy), each holding one JSON
document (keyword / prefix ``mmagent``)::

    {"format": "mmagent.artifacts._provenance/1", "workflow": "<workflow YAML>", "inputs": {...},
     "prompt": "...", "task": "t2", "field": "audio"}

``workflow`` is YAML that ``mmagent workflow run`` takes: the workflow file that ran, or the
LLM's plan written as a workflow (as ``mmagent run --save-plan`` does); ``inputs`` the values
it ran on (media as artifact references). ``mmagent workflow run FILE.png`` runs it again.

**Not part of the stored bytes.** The artifact store stays addressed by the hash of the media
alone, so the result cache and de-duplication are unaffected by which plan made an artifact.
The provenance goes into an *exported copy*, written by :class:`ProvenanceExporter` the moment
the artifact is announced (before any consumer sees the ``artifact`` event): the SDK's
``ProducedArtifact.path``, the CLI's artifact list and ``GET /v1/artifacts/{id}`` give that
copy. Formats other than PNG, WAV and MP4 are exported unchanged.

>>> import io, PIL.Image
>>> buf = io.BytesIO(); PIL.Image.new("RGB", (2, 2)).save(buf, format="PNG")
>>> tagged = embed(buf.getvalue(), "image/png", {"workflow": "version: 1"})
>>> read(tagged)["workflow"]
'version: 1'
>>> PIL.Image.open(io.BytesIO(tagged)).size
(2, 2)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import tempfile
import threading
import zlib
from pathlib import Path
from typing import Any

from mmagent.artifacts._store import ArtifactRef, ArtifactStore, atomic_write
from mmagent.errors import InputError, InputNotFoundError

__all__ = ["embed", "read", "read_file", "ProvenanceExporter", "ProvenanceTap", "from_media",
           "embedded_workflow",
           "plan_document", "workflow_document", "FORMAT", "KEY", "SUFFIXES"]

logger = logging.getLogger(__name__)
FORMAT = "mmagent.artifacts._provenance/1"
KEY = "mmagent"
SUFFIXES = (".png", ".wav", ".mp4")
"""File types that carry provenance (``mmagent workflow run FILE`` reads them)."""
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_MAX_DOC_BYTES = 4 * 2**20


def embed(data: bytes, mime: str, doc: dict[str, Any]) -> bytes:
    """``data`` (media of type ``mime``) with ``doc`` embedded; other types unchanged."""
    text = json.dumps({"format": FORMAT, **doc}, separators=(",", ":"), ensure_ascii=False)
    if mime == "image/png" and data.startswith(_PNG_SIG):
        return _png_embed(data, text)
    if mime == "audio/wav" and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return _wav_embed(data, text)
    if mime == "video/mp4":
        return _mp4_embed(data, text)
    return data


def read(data: bytes) -> dict[str, Any] | None:
    """The provenance document in PNG, WAV or MP4 bytes; None if there is none."""
    if data.startswith(_PNG_SIG):
        text = _png_read(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        text = _wav_read(data)
    elif data[4:8] == b"ftyp":
        text = _mp4_read(data)
    else:
        text = None
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance of a PNG, WAV or MP4 file; :class:`InputError` if it carries none."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputNotFoundError(f"could not read {str(p)!r}: {e.strerror}; expected a PNG, "
                                 "WAV or MP4 file made by mmagent", path=str(p)) from e
    doc = read(data)
    if doc is None or not isinstance(doc.get("workflow"), str):
        raise InputError(f"got {str(p)!r}, which carries no mmagent workflow; expected a PNG, "
                         "WAV or MP4 written by mmagent with runtime.embed_provenance on",
                         path=str(p))
    return doc


# -- PNG: an iTXt chunk before IEND (the pixels' bytes are untouched) ------------------------


def _png_chunks(data: bytes):
    pos = len(_PNG_SIG)
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        yield pos, ctype, data[pos + 8:pos + 8 + length]
        pos += 12 + length


def _png_embed(data: bytes, text: str) -> bytes:
    # keyword, NUL, compressed flag 1, method 0, empty language tag and translated keyword
    body = KEY.encode() + b"\0\x01\x00\0\0" + zlib.compress(text.encode())
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + \
        struct.pack(">I", zlib.crc32(b"iTXt" + body))
    for pos, ctype, _ in _png_chunks(data):
        if ctype == b"IEND":
            return data[:pos] + chunk + data[pos:]
    return data


def _png_read(data: bytes) -> str | None:
    for _pos, ctype, body in _png_chunks(data):
        if ctype == b"iTXt" and body.startswith(KEY.encode() + b"\0"):
            rest = body[len(KEY) + 1:]
            compressed, _method = rest[0], rest[1]
            rest = rest[2:]
            rest = rest[rest.index(b"\0") + 1:]  # language tag
            rest = rest[rest.index(b"\0") + 1:]  # translated keyword
            raw = zlib.decompressobj().decompress(rest, _MAX_DOC_BYTES) if compressed else rest
            return raw.decode("utf-8", errors="replace")
    return None


# -- WAV: a LIST/INFO chunk with ICMT (comment) after the data --------------------------------


def _wav_embed(data: bytes, text: str) -> bytes:
    comment = KEY.encode() + b":" + text.encode() + b"\0"
    if len(comment) % 2:
        comment += b"\0"
    info = b"INFO" + b"ICMT" + struct.pack("<I", len(comment)) + comment
    chunk = b"LIST" + struct.pack("<I", len(info)) + info
    body = data[12:]
    if len(body) % 2:
        body += b"\0"
    return b"RIFF" + struct.pack("<I", 4 + len(body) + len(chunk)) + b"WAVE" + body + chunk


def _wav_read(data: bytes) -> str | None:
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"LIST" and body[:4] == b"INFO":
            sub = 4
            while sub + 8 <= len(body):
                sid, ssize = body[sub:sub + 4], struct.unpack("<I", body[sub + 4:sub + 8])[0]
                value = body[sub + 8:sub + 8 + ssize].rstrip(b"\0")
                if sid == b"ICMT" and value.startswith(KEY.encode() + b":"):
                    return value[len(KEY) + 1:].decode("utf-8", errors="replace")
                sub += 8 + ssize + (ssize % 2)
        pos += 8 + size + (size % 2)
    return None


# -- MP4: a comment tag written by ffmpeg (streams copied, not re-encoded) --------------------


def _mp4_embed(data: bytes, text: str) -> bytes:
    from mmagent.artifacts._video import _BITEXACT, MediaDecodeError, _run_ffmpeg

    with tempfile.TemporaryDirectory(prefix="mmagent-prov-") as tmp:
        src, dst = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        src.write_bytes(data)
        flags = [f for f in _BITEXACT if f not in ("-map_metadata", "-1")]
        try:
            _run_ffmpeg(["-i", str(src), "-map", "0", "-c", "copy", *flags,
                         "-metadata", f"comment={KEY}:{text}", "-movflags", "+faststart",
                         str(dst)], "add the provenance comment")
        except MediaDecodeError:
            return data  # not an MP4 ffmpeg can copy: leave it as it is
        return dst.read_bytes()


def _mp4_read(data: bytes) -> str | None:
    import subprocess

    from mmagent.artifacts._video import ffmpeg_exe

    with tempfile.TemporaryDirectory(prefix="mmagent-prov-") as tmp:
        src = Path(tmp) / "in.mp4"
        src.write_bytes(data)
        proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(src),
                               "-f", "ffmetadata", "-"], capture_output=True, timeout=60,
                              check=False)
    for line in proc.stdout.decode("utf-8", errors="replace").splitlines():
        if line.startswith(f"comment={KEY}:"):
            # ffmetadata escapes '=', ';', '#', '\' and newlines with a backslash
            return re.sub(r"\\(.)", r"\1", line[len(f"comment={KEY}:"):])
    return None


# -- exported copies -----------------------------------------------------------------------


class ProvenanceExporter:
    """Writes and finds the exported, provenance-carrying copies of stored artifacts.

    Copies live in ``root/<id[:2]>/<id>-<hash of the document><ext>``; ``<id>.latest`` names
    the newest copy of an artifact (what a download by id gives).
    """

    def __init__(self, store: ArtifactStore, root: str | os.PathLike[str]) -> None:
        self.store = store
        self.root = Path(root).expanduser()
        self._lock = threading.Lock()

    def export(self, ref: ArtifactRef, doc: dict[str, Any]) -> Path:
        """The copy of ``ref`` carrying ``doc`` (written once per artifact and document)."""
        key = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
        src = self.store.path(ref)
        folder = self.root / ref.id[:2]
        path = folder / f"{ref.id}-{key}{src.suffix}"
        with self._lock:
            if not path.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                data = embed(self.store.read_bytes(ref), ref.mime, doc)
                atomic_write(path, data)
            atomic_write(folder / f"{ref.id}.latest", path.name.encode())
        return path

    def latest(self, artifact_id: str) -> Path | None:
        """The newest exported copy of an artifact, if any."""
        pointer = self.root / artifact_id[:2] / f"{artifact_id}.latest"
        try:
            path = pointer.parent / pointer.read_text().strip()
        except OSError:
            return None
        return path if path.is_file() and path.parent == pointer.parent else None




# -- the run side: export as artifacts are announced; the CLI side: run it again ------------


class ProvenanceTap:
    """Wraps a run's ``emit``: each announced artifact is exported with the run's workflow
    before the ``artifact`` event goes on. ``describe(plan)`` gives the document's workflow
    and inputs for the plan as it stands (a re-plan replaces it)."""

    def __init__(self, exporter: ProvenanceExporter, emit, describe) -> None:
        self.exporter, self.emit, self.describe = exporter, emit, describe
        self.plan = None

    def __call__(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind in ("plan", "replanned"):
            self.plan = event.plan
        elif kind == "artifact" and self.plan is not None:
            try:
                doc = {**self.describe(self.plan), "task": event.task_id, "field": event.field}
                self.exporter.export(event.artifact, doc)
            except Exception:  # a missing copy must not fail the run; the stored one is there
                logger.warning("could not export artifact %s with its provenance",
                               event.artifact.id, exc_info=True)
        self.emit(event)


def plan_document(plan: Any, prompt: str, inputs: dict[str, ArtifactRef],
                  registry: Any) -> dict[str, Any]:
    """The provenance of an LLM plan: the plan as a workflow, and the request's media."""
    from mmagent.workflows._convert import plan_to_workflow

    text = plan_to_workflow(plan, {n: r.kind for n, r in inputs.items()}, registry,
                            description=prompt)
    return {"prompt": prompt, "workflow": text,
            "inputs": {n: r.model_dump(mode="json") for n, r in inputs.items()}}


def workflow_document(wf: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The provenance of a workflow run: its YAML and the values it ran on."""
    import yaml

    text = None
    try:
        if wf.file and Path(wf.file).is_file():
            text = Path(wf.file).read_text()
    except OSError:
        text = None
    if text is None:
        text = yaml.safe_dump(wf.model_dump(mode="json", by_alias=True, exclude_none=True),
                              sort_keys=False, allow_unicode=True)
    return {"workflow": text, "inputs": values}


def embedded_workflow(path: str | os.PathLike[str], doc: dict[str, Any] | None = None):
    """The workflow a PNG/WAV/MP4 carries, parsed (errors name the file)."""
    from mmagent.workflows._parse import parse_workflow

    p = Path(path)
    doc = doc or read_file(p)
    return parse_workflow(doc["workflow"], file=f"{p} (embedded workflow)",
                          default_name=p.stem)


def from_media(path: str | os.PathLike[str], store: ArtifactStore,
               given: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """The workflow embedded in a PNG/WAV/MP4 and its inputs: the embedded values, media
    from ``store`` by id, with ``given`` values taking precedence."""
    doc = read_file(path)
    p = Path(path)
    wf = embedded_workflow(path, doc)
    given = dict(given or {})
    values: dict[str, Any] = {}
    for name, value in (doc.get("inputs") or {}).items():
        if name not in wf.inputs or name in given:
            continue
        try:
            values[name] = _stored(value, store)
        except InputNotFoundError as e:
            raise InputError(f"{p}: input {name!r} was artifact {e.details.get('artifact')}, "
                             f"which is not in this store ({store.root}); expected it given "
                             f"again (--input {name}=FILE)", path=str(p), input=name) from e
    return wf, {**values, **given}


def _stored(value: Any, store: ArtifactStore) -> Any:
    if isinstance(value, list):
        return [_stored(v, store) for v in value]
    if isinstance(value, dict) and set(value) >= {"id", "kind", "mime"}:
        return store.get(value["id"])
    return value
