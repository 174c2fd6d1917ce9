"""Ray Serve: tiny tools as deployments and the ingress, on one local Ray instance per module
(Ray takes ~10 s to start and ~6 s to stop, so every test here shares it)."""

import os
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from mmagent import Config
from mmagent.toolkit import ToolRegistry
from tests.fakes import FakeCaption, FakeSleep, FakeSpeak
from tests.serving.conftest import KEY_A, png_data_url
from tests.serving.helpers import FakePicky, PlanByInputs, replica_pids, sse_events

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]
SLEEPY = """\
version: 1
description: Sleep a little, then echo the label.
inputs:
  label: {type: text, description: echoed back}
nodes:
  nap: {tool: fake_sleep, args: {label: $input.label, seconds: 0.25}}
outputs:
  text: $nap.text
"""
SLOW = SLEEPY.replace("seconds: 0.25", "seconds: 3")
PICKY = """\
version: 1
description: Echo a word of even length.
inputs:
  word: {type: text, description: the word}
nodes:
  echo: {tool: fake_picky, args: {word: $input.word}}
outputs:
  text: $echo.text
"""


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory):
    from ray import serve

    from mmagent.serving.ray.deployments import build_ray_app, start_ray
    from mmagent.serving.server import free_port

    root = tmp_path_factory.mktemp("ray")
    (root / "sleepy.yaml").write_text(SLEEPY)
    (root / "picky.yaml").write_text(PICKY)
    (root / "slow.yaml").write_text(SLOW)
    start_ray(temp_dir=tempfile.mkdtemp(prefix="ray-", dir="/tmp"), num_cpus=2,
              runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                                        "MMAGENT_API_KEYS": KEY_A}})
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    # The executor retries fake_picky's failures twice: an error that lost its type on the way
    # back from a replica would be retried, a ToolInputError must not be. Other tools keep the
    # default policy (no retries), so only the Ray path's own resends can save their calls.
    cfg = Config.from_dict({
        "cache_dir": str(root / "cache"),
        "workflows": {"paths": [str(root / n) for n in ("sleepy.yaml", "picky.yaml",
                                                        "slow.yaml")]},
        "executor": {"tool_policies": {"fake_picky": {"retries": 2, "backoff_s": 0.05}}},
        "serving": {"runs": {"lease_s": 2},
                    "ray": {"ingress_num_cpus": 0.2, "retry_backoff_s": 0.2,
                            "ingress_replicas": 2,
                            "defaults": {"num_cpus": 0.2, "max_batch_size": 4}}}})
    reg = ToolRegistry()
    for cls in (FakeCaption, FakeSpeak, FakeSleep, FakePicky):
        reg.register(cls)
    serve.run(build_ray_app(cfg, reg, planner_backend=PlanByInputs()), name="mmagent",
              route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        import ray

        serve.shutdown()
        ray.shutdown()


def test_two_step_plan_through_tool_deployments(ray_server):
    from ray import serve

    deployments = serve.status().applications["mmagent"].deployments
    assert {"tool_fake_caption", "tool_fake_speak", "ingress"} <= set(deployments)
    client = openai.OpenAI(base_url=ray_server + "/v1", api_key=KEY_A, max_retries=0)
    resp = client.chat.completions.create(model="mmagent", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Describe it and say it aloud"},
        {"type": "image_url", "image_url": {"url": png_data_url()}}]}])
    content = resp.choices[0].message.content
    assert "a 32x24 picture" in content
    assert [t["tool"] for t in resp.mmagent["plan"]["tasks"]] == ["fake_caption", "fake_speak"]
    (audio,) = resp.mmagent["artifacts"]
    got = httpx.get(audio["url"], headers={"Authorization": f"Bearer {KEY_A}"})
    assert got.status_code == 200 and got.content[:4] == b"RIFF"
    assert os.environ.get("MMAGENT_API_KEYS") != KEY_A  # the key went only to the replicas


def test_emit_config_is_a_valid_serve_config(tmp_path, monkeypatch):
    import yaml
    from ray.serve.schema import ServeDeploySchema
    from typer.testing import CliRunner

    from mmagent.cli import app

    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(yaml.safe_dump({"serving": {"api_keys": ["sk-secret"], "ray": {"tools": {
        "image_caption": {"num_gpus": 0.5, "max_batch_size": 16,
                          "autoscaling": {"min_replicas": 1, "max_replicas": 4}}}}}}))
    out = tmp_path / "serve.yaml"
    res = CliRunner().invoke(app, ["serve", "--ray", "--emit-config", str(out), "-c", str(cfg)])
    assert res.exit_code == 0, res.output
    schema = ServeDeploySchema.model_validate(yaml.safe_load(out.read_text()))
    (application,) = schema.applications
    assert application.import_path == "mmagent.serving.ray.deployments:app_builder"
    caption = next(d for d in application.deployments if d.name == "tool_image_caption")
    assert caption.ray_actor_options.num_gpus == 0.5
    assert caption.autoscaling_config["max_replicas"] == 4
    assert caption.max_ongoing_requests >= 16 and caption.user_config["max_batch_size"] == 16
    assert "sk-secret" not in out.read_text()


def _stream_workflow(base: str, name: str, inputs: dict) -> list[dict]:
    with httpx.stream("POST", f"{base}/v1/workflows/{name}/runs", timeout=120,
                      json={"inputs": inputs, "stream": True},
                      headers={"Authorization": f"Bearer {KEY_A}"}) as resp:
        assert resp.status_code == 200, resp.read()
        return list(sse_events(resp))


def test_a_killed_tool_replica_loses_no_request(ray_server):
    """16 runs at concurrency 8; the only fake_sleep replica is SIGKILLed while it works. Every
    run completes (its call is sent again once Serve has replaced the replica)."""
    (pid,) = replica_pids("mmagent", "tool_fake_sleep")
    busy = threading.Event()

    def one(i: int) -> list[dict]:
        with httpx.stream("POST", f"{ray_server}/v1/workflows/sleepy/runs", timeout=120,
                          json={"inputs": {"label": f"r{i}"}, "stream": True},
                          headers={"Authorization": f"Bearer {KEY_A}"}) as resp:
            events = []
            for event in sse_events(resp):
                if event["type"] == "task_started":
                    busy.set()
                events.append(event)
            return events

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(16)]
        assert busy.wait(60)
        time.sleep(0.3)  # batches of 4 naps of 0.25 s: the replica is mid-batch
        os.kill(pid, signal.SIGKILL)
        runs = [f.result() for f in futures]

    for i, events in enumerate(runs):
        assert not [e for e in events if e["type"] == "task_failed"], events
        finished = [e for e in events if e["type"] == "task_finished"]
        assert [e["output"]["text"] for e in finished] == [f"r{i}"]
    # on a loaded machine the kill can land between two batches, when no call is in flight:
    # then nothing needs resending, and no run may be lost all the same
    retried = [e for run in runs for e in run if e["type"] == "task_retrying"]
    assert {e["tool"] for e in retried} <= {"fake_sleep"}
    assert all("replica died" in e["error"] or "unreachable" in e["error"] for e in retried)
    assert replica_pids("mmagent", "tool_fake_sleep") not in ([], [pid])  # Serve replaced it


def test_a_tool_refusing_its_input_keeps_the_error_type_and_is_not_retried(ray_server):
    events = _stream_workflow(ray_server, "picky", {"word": "odd"})
    (failed,) = [e for e in events if e["type"] == "task_failed"]
    assert failed["code"] == "tool.bad_input"
    assert "got 'odd' (3 letters) for word; expected an even number of letters" in \
        failed["message"]
    assert not [e for e in events if e["type"] == "task_retrying"]
    ok = _stream_workflow(ray_server, "picky", {"word": "even"})
    assert [e["output"]["text"] for e in ok if e["type"] == "task_finished"] == ["even"]


def test_a_run_whose_ingress_replica_dies_mid_run_is_taken_over_by_the_other(ray_server):
    from ray._private import state

    http = httpx.Client(base_url=ray_server, timeout=30,
                        headers={"Authorization": f"Bearer {KEY_A}"})
    created = http.post("/v1/runs", json={"workflow": "slow", "inputs": {"label": "kept"}})
    assert created.status_code == 200, created.text
    run_id, holder = created.json()["id"], created.headers["x-mmagent-replica"]
    deadline = time.monotonic() + 60
    while http.get(f"/v1/runs/{run_id}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1)  # mid-nap
    (pid,) = [a["Pid"] for a in state.actors(actor_state_name="ALIVE").values()
              if a["Name"] == f"SERVE_REPLICA::mmagent#ingress#{holder}"]
    os.kill(pid, signal.SIGKILL)

    deadline = time.monotonic() + 90
    while (info := http.get(f"/v1/runs/{run_id}").json())["status"] not in \
            ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, info
        time.sleep(0.3)
    assert info["status"] == "completed" and info["outputs"]["nap"]["text"] == "kept", info
    with http.stream("GET", f"/v1/runs/{run_id}/events") as resp:
        events = list(sse_events(resp))
    kinds = [e.get("type") for e in events]
    # begun on the dead replica, taken over and finished by the other (a workflow run restarts:
    # it records no executor run id to resume from)
    assert kinds.count("task_started") == 2 and kinds.count("task_finished") == 1, kinds


def test_mcp_and_responses_through_the_ray_ingress(ray_server):
    """/mcp (SDK client) and /v1/responses (openai) answer from the Serve ingress too."""
    import asyncio

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60)
        async with http, Client(streamable_http_client(ray_server + "/mcp",
                                                       http_client=http)) as client:
            return await client.call_tool("fake_caption", {"image": png_data_url(6, 4)})

    assert asyncio.run(main()).content[0].text == "a 6x4 picture"
    client = openai.OpenAI(base_url=ray_server + "/v1", api_key=KEY_A, max_retries=0)
    resp = client.responses.create(model="mmagent", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "Describe it"},
        {"type": "input_image", "image_url": png_data_url(6, 4)}]}])
    assert "a 6x4 picture" in resp.output_text
