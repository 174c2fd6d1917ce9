"""``Client.runs``: the runs API (``/v1/runs``) from Python.

>>> from mmagent import Client                                            # doctest: +SKIP
>>> client = Client("http://127.0.0.1:8000", "sk-local-1")                # doctest: +SKIP
>>> run = client.runs.create("Describe it", images=["photo.png"])         # doctest: +SKIP
>>> for event_id, event in client.runs.events(run.id):                    # doctest: +SKIP
...     print(event_id, event.type)
>>> client.runs.get(run.id).status                                        # doctest: +SKIP
'completed'
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from mmagent.artifacts._store import ArtifactRef
from mmagent.errors import RunError
from mmagent.events import EVENT_ADAPTER, Event
from mmagent.runs._protocol import RunInfo
from mmagent.runs._status import STOPPED

__all__ = ["Runs"]


class Runs:
    """The verbs: ``create``, ``get``, ``list``, ``events``, ``wait``, ``cancel``, ``approve``.

    Each returns a :class:`~mmagent.runs.RunInfo` (``events`` yields ``(event_id,
    event)``); server errors raise the mmagent error with the same code, as ``Client.run``.
    """

    def __init__(self, client: Any) -> None:  # an mmagent.Client (its http and _check)
        self._client = client

    def create(self, prompt: str | None = None, images: Sequence[Any] = (),
               audio: Sequence[Any] = (), video: Sequence[Any] = (), *,
               workflow: str | None = None, inputs: dict[str, Any] | None = None) -> RunInfo:
        """Queue a run of ``prompt`` over media (paths, PIL images or ArtifactRefs: uploaded
        first), or of ``workflow`` with ``inputs`` (media as ArtifactRefs, paths or data URLs).
        Returns at once (status ``queued`` or ``running``)."""
        if workflow is not None:
            body: dict[str, Any] = {"workflow": workflow, "inputs": {
                k: self._media(v, None) for k, v in (inputs or {}).items()}}
        else:
            body = {"prompt": prompt}
            for field, kind, items in (("images", "image", images), ("audio", "audio", audio),
                                       ("video", "video", video)):
                if isinstance(items, (str, os.PathLike)):
                    items = [items]
                body[field] = [self._media(i, kind) for i in items]
        created = self._client._check(self._client.http.post("/v1/runs", json=body)).json()
        return self.get(created["id"])

    def get(self, run_id: str) -> RunInfo:
        resp = self._client._check(self._client.http.get(f"/v1/runs/{run_id}"))
        return RunInfo.model_validate(resp.json())

    def list(self) -> list[RunInfo]:
        """This API key's runs, newest first."""
        resp = self._client._check(self._client.http.get("/v1/runs"))
        return [RunInfo.model_validate(r) for r in resp.json()["data"]]

    def events(self, run_id: str, after: int | None = None) -> Iterator[tuple[int, Event]]:
        """``(event_id, event)`` from the start (or after ``after``, an event id seen before)
        until the run ends or pauses for approval."""
        headers = {"Last-Event-ID": str(after)} if after is not None else {}
        with self._client.http.stream("GET", f"/v1/runs/{run_id}/events", headers=headers,
                                      timeout=None) as resp:
            if resp.status_code >= 400:
                resp.read()
                self._client._check(resp)
            for name, event_id, data in read_sse(resp.iter_lines()):
                if name == "end":
                    return
                if name == "mmagent":
                    yield int(event_id), EVENT_ADAPTER.validate_json(data)

    def wait(self, run_id: str, timeout: float = 600.0, poll_s: float = 0.2) -> RunInfo:
        """Poll until the run ends or pauses for approval; RunError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (info := self.get(run_id)).status not in STOPPED:
            if time.monotonic() > deadline:
                raise RunError(f"run {run_id} is still {info.status} after {timeout:g} s; "
                               "expected it to end sooner (raise timeout)", run_id=run_id)
            time.sleep(poll_s)
        return info

    def cancel(self, run_id: str) -> RunInfo:
        return RunInfo.model_validate(self._client._check(
            self._client.http.post(f"/v1/runs/{run_id}/cancel")).json())

    def approve(self, run_id: str, approve: bool | dict[str, bool] = True) -> RunInfo:
        """Answer a paused run: True/False for every waiting task, or {task_id: bool}."""
        return RunInfo.model_validate(self._client._check(self._client.http.post(
            f"/v1/runs/{run_id}/approve", json={"approve": approve})).json())

    def _media(self, item: Any, kind: str | None) -> Any:
        if isinstance(item, ArtifactRef):
            return item.uri
        if isinstance(item, str) and item.startswith(("data:", "artifact://", "http")):
            return item
        if kind is None and not (isinstance(item, os.PathLike) or hasattr(item, "save")):
            return item  # a workflow's text or number input
        if kind is None:
            kind = "image" if hasattr(item, "save") else _kind_of(item)
        return self._client.upload(item, kind).uri


def _kind_of(path: Any) -> str:
    import mimetypes

    major = (mimetypes.guess_type(str(path))[0] or "").split("/")[0]
    return major if major in ("image", "audio", "video") else "image"


def read_sse(lines) -> Iterator[tuple[str | None, str | None, str]]:
    """(event name, id, data) of each server-sent event; comments and pings are skipped."""
    name = event_id = None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield name, event_id, "\n".join(data)
            name, event_id, data = None, None, []
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "id":
                event_id = value
            elif key == "data":
                data.append(value)
    if data:
        yield name, event_id, "\n".join(data)
