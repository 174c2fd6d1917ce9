import json

import pytest
import soundfile as sf
from PIL import Image

from mmagent import Agent, Config
from mmagent.errors import InputError, InputNotFoundError, InvalidMediaError, ToolExecutionError
from mmagent.events import (
    AnswerReady,
    ArtifactCreated,
    PlanCreated,
    RouteChosen,
    TaskFinished,
    TaskStarted,
)
from tests.fakes import fake_registry
from tests.planner.test_planner import GOOD, Scripted


@pytest.fixture
def agent(tmp_path):
    def make(*answers):
        # a failed task stays failed here (re-planning: tests/planner/test_replan.py)
        cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                                "planner": {"replan_attempts": 0}})
        return Agent(cfg, registry=fake_registry(), planner_backend=Scripted(*answers))
    return make


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), (0, 128, 255)).save(p)
    return p


def test_run_returns_answer_plan_and_artifacts(agent, photo):
    result = agent(json.dumps(GOOD)).run("Describe it and say it aloud", images=[photo])
    assert [t.tool for t in result.plan.tasks] == ["fake_caption", "fake_speak"]
    assert result.outputs["t1"]["text"] == "a 32x24 picture"
    (audio,) = result.artifacts
    assert audio.kind == "audio" and audio.mime == "audio/wav" and audio.task == "t2"
    assert sf.info(audio.path).samplerate == 16000
    assert f"artifact://{audio.id}" in result.answer and "a 32x24 picture" in result.answer
    kinds = [type(e) for e in result.events]
    assert kinds[:2] == [RouteChosen, PlanCreated] and kinds[-1] is AnswerReady
    assert TaskStarted in kinds and TaskFinished in kinds and ArtifactCreated in kinds
    out = result.to_json_dict()
    assert set(out) == {"answer", "plan", "artifacts"}
    assert set(out["artifacts"][0]) == {"id", "kind", "path", "mime"}


def test_stream_yields_events_in_order(agent, photo):
    events = list(agent(json.dumps(GOOD)).stream("Describe it and say it aloud", images=[photo]))
    assert isinstance(events[0], RouteChosen) and events[0].route == "plan"
    assert isinstance(events[1], PlanCreated) and isinstance(events[-1], AnswerReady)
    started = [e.task_id for e in events if isinstance(e, TaskStarted)]
    assert started == ["t1", "t2"]


def test_task_failure_raises_with_partial_result(agent, photo):
    plan = {"tasks": [{"id": "t1", "tool": "fake_caption", "args": {"image": "$input.image0"}},
                      {"id": "t2", "tool": "fake_fail", "args": {"text": "x"}}]}
    with pytest.raises(ToolExecutionError) as e:
        agent(json.dumps(plan)).run("x", images=[photo])
    assert e.value.result.outputs["t1"]["text"] == "a 32x24 picture"
    assert "t2" in e.value.result.failures


def test_bad_inputs_are_typed_and_leave_the_store_clean(agent, tmp_path):
    a = agent(json.dumps(GOOD))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(InvalidMediaError):
        a.run("describe", images=[bad])
    with pytest.raises(InputNotFoundError):
        a.run("describe", images=[tmp_path / "missing.png"])
    with pytest.raises(InputError, match="empty prompt"):
        a.run("  ")
    assert not any(p.is_file() for p in (a.store.root / "objects").rglob("*"))


def test_pil_images_are_accepted(agent):
    result = agent(json.dumps(GOOD)).run("describe", images=[Image.new("RGB", (5, 5))])
    assert result.outputs["t1"]["text"] == "a 5x5 picture"
