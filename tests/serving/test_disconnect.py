"""A client that goes away cancels its run: with a real uvicorn server and a
client that closes the connection while the request is being planned, no task runs and the
run is recorded as cancelled, for plain and streaming chat completions."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from mmagent import Agent, Config
from mmagent.planner import Completion
from mmagent.runs import RunStore
from mmagent.serving.server import ServerThread, build_app
from tests.serving.helpers import PlanByInputs, serving_registry

CHAIN = {"tasks": [
    {"id": "t1", "tool": "fake_sleep", "args": {"label": "a", "seconds": 0.3}},
    {"id": "t2", "tool": "fake_sleep", "args": {"label": "b", "seconds": 0.3, "after": "$t1.text"}},
]}


class SlowPlanner(PlanByInputs):
    """Takes three seconds to plan (like a real LLM, only shorter), then plans CHAIN: time
    for the server to see the client go, even on a loaded machine."""

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        if json_schema is not None and "tasks" not in json_schema.get("properties", {}):
            return super().complete(messages, json_schema=json_schema, max_tokens=max_tokens)
        time.sleep(3.0)
        return Completion(json.dumps(CHAIN), 1, 1)


@pytest.fixture
def slow_server(tmp_path):
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"), "executor": {"cache": False},
                            "serving": {"auth": False}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=SlowPlanner())
    with ServerThread(build_app(agent=agent)) as srv:
        yield srv, RunStore(tmp_path / "cache" / "runs.sqlite")


def _settled(runs: RunStore) -> tuple[str, dict]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        latest = runs.list(1)
        if latest and latest[0][1] != "running":
            run_id, status, _ = latest[0]
            return status, runs.results(run_id)[0]
        time.sleep(0.1)
    raise AssertionError("the run never finished")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streaming"])
def test_a_client_that_goes_away_cancels_its_run(slow_server, stream):
    server, runs = slow_server
    body = {"model": "mmagent", "stream": stream,
            "messages": [{"role": "user", "content": "Please echo this twice"}]}
    with pytest.raises(httpx.ReadTimeout):  # the client gives up while the run is planned
        with httpx.stream("POST", server.base_url + "/v1/chat/completions", json=body,
                          timeout=httpx.Timeout(5.0, read=0.4)) as r:
            for _ in r.iter_lines():
                pass
    status, done = _settled(runs)
    # the run stops when its client goes: a plain request is dropped while it is planned, so
    # nothing runs; a stream keeps the client reading until the plan's first events, so at
    # most the task running when it left finishes
    assert status == "cancelled" and ("t2" not in done if stream else done == {})
    # a client that stays gets the whole run
    r = httpx.post(server.base_url + "/v1/chat/completions", json={**body, "stream": False},
                   timeout=30)
    assert r.status_code == 200 and r.json()["mmagent"]["outputs"]["t2"] == {"text": "b"}
    assert _settled(runs)[0] == "completed"
