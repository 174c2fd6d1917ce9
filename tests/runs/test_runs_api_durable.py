"""Runs that wait for people, durably: an approved run whose server is SIGKILLed resumes once
from the recorded approval on the restarted server; a cancel sent while a run plans is kept."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from mmagent import Agent, Client, Config
from mmagent.serving.server import ServerThread, build_app
from tests.cli.test_cli import _planning_server
from tests.serving.conftest import KEY_A
from tests.serving.helpers import PlanByInputs, serving_registry

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "Transcribe this recording and draw a picture of what was said"
HEAR_AND_DRAW = {"tasks": [
    {"id": "t1", "tool": "speech_to_text", "args": {"audio": "$input.audio0"}},
    {"id": "t2", "tool": "image_generate", "args": {"prompt": "$t1.text"}}]}
# `mmagent serve` itself, with stand-ins for the two model tools (no weights on this machine)
SERVE = """
import sys
from mmagent.toolkit import _registry
from tests.serving.helpers import FakeDraw, FakeTranscribe
_registry.builtin_tools = lambda: (FakeTranscribe, FakeDraw)
from mmagent.cli._main import app
app(["serve", "--port", sys.argv[1], "--config", sys.argv[2]], prog_name="mmagent")
"""


@pytest.fixture
def planner():
    yield from _planning_server(HEAR_AND_DRAW)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One ``mmagent serve`` subprocess; killed by its own PID."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(self.port), str(config)],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"mmagent serve exited: {self.proc.stderr.read()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("mmagent serve did not answer /healthz in 120 s")
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_an_approved_run_killed_mid_step_resumes_once_on_the_restarted_server(
        tmp_path, planner):
    counter, hold = tmp_path / "calls.txt", tmp_path / "hold"
    config = tmp_path / "mmagent.yaml"
    config.write_text(
        f"cache_dir: {tmp_path / 'cache'}\nrouter: {{mode: plan}}\n"
        f"planner: {{backend: openai, model: m, base_url: {planner}}}\n"
        "executor: {cache: false, approval: {tools: [image_generate]}}\n"
        f"serving: {{api_keys: [{KEY_A}], runs: {{lease_s: 5}}}}\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "unused",
           "MMAGENT_TEST_COUNTER": str(counter), "MMAGENT_TEST_HOLD": str(hold)}
    first = Served(config, env)
    second = None
    try:
        with Client(first.url, KEY_A, download_dir=tmp_path) as c:
            run = c.runs.create(PROMPT, audio=[ROOT / "examples" / "speech.wav"])
            paused = c.runs.wait(run.id, timeout=60)
            assert paused.status == "awaiting_approval", paused
            assert [t["task_id"] for t in paused.pending_approval] == ["t2"]
            hold.touch()  # the picture is drawn until this goes: the kill lands inside it
            c.runs.approve(run.id, True)
            deadline = time.monotonic() + 60
            while "draw-started" not in _lines(counter):
                assert time.monotonic() < deadline, _lines(counter)
                time.sleep(0.05)
        first.kill()
        assert first.proc.returncode == -signal.SIGKILL
        hold.unlink()

        second = Served(config, env)
        with Client(second.url, KEY_A, download_dir=tmp_path) as c:
            done = c.runs.wait(run.id, timeout=90)  # taken over once the lease (5 s) runs out
            assert done.status == "completed", done
            assert done.pending_approval is None
            assert done.outputs["t1"]["text"].endswith("second speech")
            assert done.outputs["t2"]["image"]["kind"] == "image"
            (image,) = [a for a in done.artifacts if a["kind"] == "image"]
            assert c.download(image["id"], image["mime"]).stat().st_size > 0
            assert "waits for approval" not in done.answer
            # not asked again: the approval was recorded before the kill
            assert not [e for _, e in c.runs.events(run.id)
                        if e.type == "approval_requested"][1:]
        # the transcript ran once; the picture cut off by the kill ran again, and finished once
        assert _lines(counter) == ["transcribe", "draw-started", "draw-started", "draw"]
    finally:
        first.kill()
        if second is not None:
            second.kill()


class PlanSlowly(PlanByInputs):
    """PlanByInputs that holds every planning call until ``release`` is set."""

    def __init__(self) -> None:
        self.planning, self.release = threading.Event(), threading.Event()

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        if json_schema is not None and "tasks" in json_schema.get("properties", {}):
            self.planning.set()
            assert self.release.wait(30)
        return super().complete(messages, json_schema=json_schema, max_tokens=max_tokens)


def test_a_cancel_sent_while_the_run_plans_is_kept(tmp_path):
    backend = PlanSlowly()
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"), "router": {"mode": "plan"},
                            "executor": {"cache": False},
                            "serving": {"api_keys": [KEY_A]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=backend)
    with ServerThread(build_app(agent=agent)) as srv, Client(srv.base_url, KEY_A) as c:
        run = c.runs.create("Please echo banana")
        assert backend.planning.wait(30)
        asked = c.runs.cancel(run.id)
        assert asked.status == "running" and asked.cancel_requested
        backend.release.set()  # the plan comes back at once, its one task takes no time
        done = c.runs.wait(run.id, timeout=30)
        srv.server.config.app.state.runs.join(timeout=10)
    assert done.status == "cancelled", done
    assert done.outputs == {} and not done.cancel_requested


SPEAK = """\
version: 1
description: Caption an image, then say the caption (the speech needs approval).
inputs:
  image: {type: image, description: the photo}
nodes:
  caption: {tool: fake_caption, args: {image: $input.image}}
  say: {tool: fake_speak, args: {text: $caption.text}}
outputs:
  description: $caption.text
  speech: $say.audio
"""
NAP = """\
version: 1
description: Two naps in a row.
inputs:
  label: {type: text, description: what to echo}
nodes:
  first: {tool: fake_sleep, args: {label: $input.label, seconds: 3}}
  second: {tool: fake_sleep, args: {label: $first.text, seconds: 0}}
outputs:
  said: $second.text
"""


@pytest.fixture
def workflow_server(tmp_path):
    (tmp_path / "speak_fake.yaml").write_text(SPEAK)
    (tmp_path / "nap_fake.yaml").write_text(NAP)
    cfg = Config.from_dict({
        "cache_dir": str(tmp_path / "cache"),
        "workflows": {"paths": [str(tmp_path / "speak_fake.yaml"),
                                str(tmp_path / "nap_fake.yaml")]},
        "executor": {"cache": False, "approval": {"tools": ["fake_speak"]}},
        "serving": {"api_keys": [KEY_A]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanByInputs())
    with ServerThread(build_app(agent=agent)) as srv, Client(srv.base_url, KEY_A,
                                                             download_dir=tmp_path) as c:
        yield c
        srv.server.config.app.state.runs.join(timeout=10)


def test_a_workflow_run_pauses_for_approval_and_the_approved_run_finishes(workflow_server):
    from tests.serving.conftest import png_data_url

    c = workflow_server
    run = c.runs.create(workflow="speak_fake", inputs={"image": png_data_url(20, 10)})
    paused = c.runs.wait(run.id, timeout=30)
    assert paused.status == "awaiting_approval", paused
    assert [t["task_id"] for t in paused.pending_approval] == ["say"]
    assert paused.outputs["caption"]["text"] == "a 20x10 picture"
    assert "waits for approval" in paused.answer and "failed" not in paused.answer
    c.runs.approve(run.id, True)
    done = c.runs.wait(run.id, timeout=30)
    assert done.status == "completed", done
    assert done.outputs["say"]["audio"]["kind"] == "audio" and done.pending_approval is None
    started = [e.task_id for _, e in c.runs.events(run.id) if e.type == "task_started"]
    assert started == ["caption", "say"]  # the caption was not run again


def test_a_workflow_run_is_cancelled_mid_run(workflow_server):
    c = workflow_server
    run = c.runs.create(workflow="nap_fake", inputs={"label": "zz"})
    deadline = time.monotonic() + 30
    while c.runs.get(run.id).status == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # inside the first nap
    asked = c.runs.cancel(run.id)
    assert asked.cancel_requested or asked.status == "cancelled"
    done = c.runs.wait(run.id, timeout=30)
    assert done.status == "cancelled", done
    assert "second" not in done.outputs


@pytest.fixture
def approving_server(tmp_path):
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "executor": {"cache": False, "approval": {"tools": ["fake_speak"]}},
                            "serving": {"api_keys": [KEY_A]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanByInputs())
    with ServerThread(build_app(agent=agent)) as srv:
        yield srv
        srv.server.config.app.state.runs.join(timeout=10)


def _run_id_in(answer: str) -> str:
    import re

    found = re.search(r"POST \S*/v1/runs/(run_[0-9a-f]+)/approve", answer)
    assert found, answer
    return found.group(1)


def test_a_chat_or_responses_run_that_pauses_is_approved_over_the_runs_api(approving_server):
    from tests.serving.conftest import png_data_url

    h = {"Authorization": f"Bearer {KEY_A}"}
    image = png_data_url(30, 20)
    chat = httpx.post(approving_server.base_url + "/v1/chat/completions", headers=h, timeout=60,
                      json={"model": "mmagent", "messages": [{"role": "user", "content": [
                          {"type": "text", "text": "Describe it and say it aloud"},
                          {"type": "image_url", "image_url": {"url": image}}]}]}).json()
    answer = chat["choices"][0]["message"]["content"]
    responses = httpx.post(approving_server.base_url + "/v1/responses", headers=h, timeout=60,
                           json={"model": "mmagent", "input": [{"role": "user", "content": [
                               {"type": "input_text", "text": "Describe it and say it aloud"},
                               {"type": "input_image", "image_url": image}]}]}).json()
    texts = [c["text"] for o in responses["output"] if o["type"] == "message"
             for c in o["content"] if c["type"] == "output_text"]
    with Client(approving_server.base_url, KEY_A) as c:
        for text in (answer, " ".join(texts)):
            assert "mmagent resume" not in text and "waits for approval" in text
            run_id = _run_id_in(text)
            paused = c.runs.get(run_id)
            assert paused.status == "awaiting_approval"
            assert [t["task_id"] for t in paused.pending_approval] == ["t2"]
            c.runs.approve(run_id, True)
            done = c.runs.wait(run_id, timeout=30)
            assert done.status == "completed", done
            assert done.outputs["t2"]["audio"]["kind"] == "audio"
            assert any(a["kind"] == "audio" for a in done.artifacts)
            # what ran before the pause is part of the finished run too
            assert done.outputs["t1"]["text"] == "a 30x20 picture"
            assert done.plan["tasks"][0]["id"] == "t1"


def test_an_mcp_tool_call_that_needs_approval_names_the_run_to_approve(approving_server):
    from tests.serving.test_mcp_server import call

    async def fn(client):
        return await client.call_tool("fake_speak", {"text": "may I?"})

    waiting = call(approving_server, fn)
    text = waiting.content[0].text
    assert waiting.is_error and "waits for approval" in text and "mmagent resume" not in text
    with Client(approving_server.base_url, KEY_A) as c:
        run_id = _run_id_in(text)
        assert c.runs.get(run_id).status == "awaiting_approval"
        c.runs.approve(run_id, True)
        done = c.runs.wait(run_id, timeout=30)
        assert done.status == "completed", done
        assert done.outputs["t1"]["audio"]["kind"] == "audio"
