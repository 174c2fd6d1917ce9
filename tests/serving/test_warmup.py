"""The embedded server's warm-up: it plans a typical request over a photo-like picture, loads
that plan's tools and runs the plan once (computed, not cached, recorded nowhere), and says what
it did; a step that fails is logged, not fatal."""

import base64
import io

import httpx

from mmagent import Agent, Config
from mmagent.serving._warmup import warm_image, warm_up
from mmagent.serving.server import ServerThread, build_app
from mmagent.toolkit import ToolRegistry
from tests.fakes import FakeCaption, FakeSpeak
from tests.serving.conftest import KEY_A
from tests.serving.helpers import PlanByInputs


class CountedCaption(FakeCaption):
    """fake_caption, counting the images it described (their sizes, call by call)."""

    seen: list[tuple[int, int]] = []

    def run(self, inputs, ctx):
        self.seen.extend((i.image.width, i.image.height) for i in inputs)
        return super().run(inputs, ctx)


class BrokenCaption(FakeCaption):
    def run(self, inputs, ctx):
        raise RuntimeError("the weights are corrupt")


def warm_agent(tmp_path, caption=CountedCaption, **settings) -> Agent:
    registry = ToolRegistry()
    for cls in (caption, FakeSpeak):
        registry.register(cls)
    cfg = Config.from_dict({"cache_dir": str(tmp_path), **settings})
    return Agent(cfg, registry=registry, planner_backend=PlanByInputs())


def test_warm_up_runs_its_plan_once_on_a_photo_and_records_no_run(tmp_path):
    CountedCaption.seen.clear()
    agent = warm_agent(tmp_path)
    lines: list[str] = []
    warm_up(agent, lines.append)
    assert lines[0].startswith("warm-up: planner (embeddings, tool index) in ")
    assert lines[1].startswith("warm-up: tools of its plan: fake_caption, fake_speak in ")
    assert lines[2].startswith("warm-up: one run of its plan: fake_caption, fake_speak in ")
    assert all(agent.registry.get(n)._loaded for n in ("fake_caption", "fake_speak"))
    assert CountedCaption.seen == [(256, 256)]
    assert agent.executor.runs is not None and agent.executor.runs.list() == []
    # the fake backend cannot answer a bare chat message: logged, and the warm-up goes on
    assert lines[3].startswith("warm-up: planner LLM failed (IndexError")
    assert lines[-1].startswith("warm-up done in ")


def test_a_request_on_the_warm_up_image_computes_and_no_run_is_listed(tmp_path):
    CountedCaption.seen.clear()
    agent = warm_agent(tmp_path, serving={"api_keys": [KEY_A]})
    warm_up(agent, lambda _line: None)
    buf = io.BytesIO()
    warm_image().save(buf, format="PNG")
    body = {"model": "mmagent", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Describe it and say it aloud"},
        {"type": "image_url", "image_url": {
            "url": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}}]}]}
    with ServerThread(build_app(agent=agent)) as server, httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {KEY_A}"}) as http:
        assert http.get("/v1/runs").json()["data"] == []
        for _ in range(2):
            answer = http.post("/v1/chat/completions", json=body).json()
            assert "a 256x256 picture" in answer["choices"][0]["message"]["content"]
    # the first request computed (the warm-up left no cache entry); the second was a cache hit
    assert CountedCaption.seen == [(256, 256), (256, 256)]


def test_a_failing_run_is_logged_and_the_warm_up_goes_on(tmp_path):
    lines: list[str] = []
    warm_up(warm_agent(tmp_path, caption=BrokenCaption), lines.append)
    assert lines[1].startswith("warm-up: tools of its plan: fake_caption, fake_speak in ")
    assert lines[2].startswith("warm-up: one run of its plan failed (ToolExecutionError: task "
                               "'t1' (fake_caption) failed: the weights are corrupt)")
    assert lines[-1].startswith("warm-up done in ")


def test_a_tool_that_asks_for_approval_is_not_run_by_the_warm_up(tmp_path):
    CountedCaption.seen.clear()
    lines: list[str] = []
    warm_up(warm_agent(tmp_path, executor={"approval": {"tools": ["fake_speak"]}}),
            lines.append)
    assert lines[2].startswith("warm-up: one run of its plan: fake_caption (not run, as they "
                               "ask for approval: fake_speak) in ")
    assert CountedCaption.seen == [(256, 256)]
