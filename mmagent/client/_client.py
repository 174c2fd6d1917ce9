"""The remote SDK: :class:`Client` has the ``run`` and ``stream`` of :class:`mmagent.Agent`,
over HTTP, and returns the same :class:`~mmagent.RunResult` and event types.

>>> from mmagent import Client                                      # doctest: +SKIP
>>> client = Client("http://127.0.0.1:8000", api_key="sk-local")    # doctest: +SKIP
>>> result = client.run("Describe it and say it aloud.", images=["photo.png"])  # doctest: +SKIP
>>> [a.path for a in result.artifacts]        # downloaded files    # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from mmagent import errors as _errors
from mmagent.agent._agent import MediaInput, ProducedArtifact, RunResult
from mmagent.artifacts._store import ArtifactRef
from mmagent.client._runs import Runs, read_sse
from mmagent.errors import InputError, MMAgentError, ServingError
from mmagent.events import EVENT_ADAPTER, AnswerReady, Event
from mmagent.plan._ir import Plan
from mmagent.toolkit._base import default_cache_dir

__all__ = ["Client"]

_PART = {"image": "image_url", "audio": "audio_url", "video": "video_url"}


class Client:
    """Talks to ``mmagent serve`` (embedded or Ray). Produced artifacts are downloaded into
    ``download_dir`` (default ``$MMAGENT_CACHE/client``), so ``RunResult.artifacts[i].path``
    is a local file, as with :class:`~mmagent.Agent`."""

    def __init__(self, base_url: str, api_key: str | None = None, *, model: str = "mmagent",
                 timeout: float = 600.0, download_dir: str | os.PathLike[str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout,
                                 transport=transport)
        self.download_dir = Path(download_dir or default_cache_dir() / "client").expanduser()
        self.runs = Runs(self)
        """The runs API: ``create``, ``get``, ``list``, ``events``, ``wait``, ``cancel``,
        ``approve`` (see :class:`mmagent.client.Runs`)."""

    # -- the Agent API -------------------------------------------------------------------------

    def run(self, prompt: str, images: Sequence[MediaInput] = (),
            audio: Sequence[MediaInput] = (), video: Sequence[MediaInput] = ()) -> RunResult:
        """Plan and run remotely; raises :class:`ToolExecutionError` (with ``.result``) if a
        task failed, like ``Agent.run``."""
        events: list[Any] = []
        extras: dict[str, Any] = {}
        for event in self._stream(prompt, images, audio, video, extras):
            events.append(event)
        answer = extras.get("answer", "")
        arts = [ProducedArtifact(id=a["id"], kind=a["kind"], mime=a["mime"], task=a["task"],
                                 path=str(self.download(a["id"], a["mime"])))
                for a in extras.get("artifacts", [])]
        result = RunResult(answer=answer, plan=Plan.model_validate(extras.get("plan") or {}),
                           artifacts=arts, outputs=extras.get("outputs", {}),
                           failures=extras.get("failures", {}))
        result.events = events
        return result.raise_for_failures()

    def stream(self, prompt: str, images: Sequence[MediaInput] = (),
               audio: Sequence[MediaInput] = (), video: Sequence[MediaInput] = ()
               ) -> Iterator[Event]:
        """Yield the server's events as they happen; the last one is ``AnswerReady``."""
        yield from self._stream(prompt, images, audio, video, {})

    # -- files ---------------------------------------------------------------------------------

    def upload(self, item: MediaInput, kind: str) -> ArtifactRef:
        """Upload a file path or PIL image; returns the stored artifact's reference."""
        if isinstance(item, (str, os.PathLike)):
            path = Path(item)
            if not path.is_file():
                raise _errors.InputNotFoundError(f"got {str(item)!r} for the {kind} file; "
                                                 "expected an existing, readable file")
            name, data = path.name, path.read_bytes()
        elif hasattr(item, "save") and hasattr(item, "size"):
            buf = io.BytesIO()
            item.save(buf, format="PNG")
            name, data = "image.png", buf.getvalue()
        else:
            raise InputError(f"got a {type(item).__name__} as a {kind} input; expected a file "
                             "path, an ArtifactRef or a PIL image")
        resp = self._check(self.http.post("/v1/files", files={"file": (name, data)},
                                          data={"purpose": "user_data"}))
        body = resp.json()
        return ArtifactRef(id=body["id"], kind=body["kind"], mime=body["mime"],
                           size_bytes=body["bytes"])

    def download(self, artifact_id: str, mime: str = "") -> Path:
        """Fetch an artifact (once) into ``download_dir``."""
        from mmagent.artifacts._store import _EXT

        target = self.download_dir / (artifact_id + _EXT.get(mime, ".bin"))
        if not target.is_file():
            resp = self._check(self.http.get(f"/v1/artifacts/{artifact_id}"))
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".part")
            tmp.write_bytes(resp.content)
            tmp.replace(target)
        return target

    def models(self) -> list[str]:
        return [m["id"] for m in self._check(self.http.get("/v1/models")).json()["data"]]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _stream(self, prompt, images, audio, video, extras: dict[str, Any]) -> Iterator[Event]:
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
        for kind, items in (("image", images), ("audio", audio), ("video", video)):
            if isinstance(items, (str, os.PathLike)):
                items = [items]
            for item in items:
                ref = item if isinstance(item, ArtifactRef) else self.upload(item, kind)
                content.append({"type": _PART[kind], _PART[kind]: {"url": ref.uri}})
        body = {"model": self.model, "stream": True,
                "messages": [{"role": "user", "content": content}]}
        with self.http.stream("POST", "/v1/chat/completions", json=body) as resp:
            if resp.status_code >= 400:
                resp.read()
                self._check(resp)
            for name, _id, data in read_sse(resp.iter_lines()):
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if "error" in chunk:
                    raise _error_from(chunk, resp.status_code)
                if name == "mmagent" and "mmagent_event" in chunk:
                    event = EVENT_ADAPTER.validate_python(chunk["mmagent_event"])
                    if isinstance(event, AnswerReady):
                        extras["answer_event"] = event
                        continue  # re-sent below with the links the server made
                    yield event
                for choice in chunk.get("choices", []):
                    text = choice.get("delta", {}).get("content")
                    if text:
                        extras["answer"] = extras.get("answer", "") + text
                if "mmagent" in chunk:
                    extras.update(chunk["mmagent"])
        final = extras.get("answer_event")
        yield AnswerReady(text=extras.get("answer", ""),
                          artifacts=final.artifacts if final is not None else [])

    def _check(self, resp: httpx.Response) -> httpx.Response:
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {"error": {"message": resp.text[:200], "code": None}}
            raise _error_from(body, resp.status_code)
        return resp


def _error_classes() -> dict[str, type[MMAgentError]]:
    from mmagent import errors as serving_errors  # noqa: F401  (registers the serving subclasses)

    found: dict[str, type[MMAgentError]] = {}
    todo: list[type[MMAgentError]] = [MMAgentError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo += cls.__subclasses__()
    return found


def _error_from(body: dict[str, Any], status: int) -> MMAgentError:
    """The server's OpenAI-shaped error as the mmagent error class with the same code."""
    err = body.get("error") or {}
    code, message = err.get("code"), err.get("message") or f"HTTP {status}"
    cls = _error_classes().get(code or "", ServingError)
    e = cls.__new__(cls)
    MMAgentError.__init__(e, message, status=status)
    if isinstance(e, _errors.PlanValidationError):
        e.task = e.arg = None
    return e
