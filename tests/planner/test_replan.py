"""Partial re-planning after a task fails: only the failed sub-DAG is replaced, completed
results are reused, attempts are bounded."""

import json

import pytest
from PIL import Image

from mmagent import Agent, Config
from mmagent.errors import ToolExecutionError
from mmagent.events import Replanned, TaskFailed, TaskStarted
from mmagent.planner._replan import dependents
from tests.fakes import fake_registry
from tests.planner.test_planner import Scripted

FAILING = {"deliver": ["text", "audio"], "tasks": [
    {"id": "t1", "tool": "fake_caption", "args": {"image": "$input.image0"}},
    {"id": "t2", "tool": "fake_fail", "args": {"text": "$t1.text"}},
    {"id": "t3", "tool": "fake_speak", "args": {"text": "$t2.text"}},
    {"id": "t4", "tool": "fake_sleep", "args": {"label": "independent", "seconds": 0}},
]}
REPLACEMENT = {"deliver": ["text", "audio"], "tasks": [
    {"id": "t5", "tool": "fake_speak", "args": {"text": "$t1.text"}}]}


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.png"
    Image.new("RGB", (32, 24)).save(p)
    return p


def make_agent(tmp_path, backend, **planner):
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "c"), "router": {"mode": "plan"},
                            "planner": planner})
    return Agent(cfg, registry=fake_registry(), planner_backend=backend)


def test_failed_task_and_dependents_are_replaced_and_completed_results_reused(tmp_path, photo):
    backend = Scripted(json.dumps(FAILING), json.dumps(REPLACEMENT))
    result = make_agent(tmp_path, backend).run("Describe it and say it", images=[photo])
    assert result.ok and [t.id for t in result.plan.tasks] == ["t1", "t4", "t5"]
    assert result.outputs["t5"]["audio"]["kind"] == "audio"
    assert result.outputs["t1"]["text"] == "a 32x24 picture"
    started = [e.task_id for e in result.events if isinstance(e, TaskStarted)]
    assert started.count("t1") == 1 and started.count("t4") == 1  # not run again
    (failed,) = [e for e in result.events if isinstance(e, TaskFailed)]
    (replanned,) = [e for e in result.events if isinstance(e, Replanned)]
    assert failed.task_id == "t2"
    assert (replanned.failed, replanned.dropped, replanned.kept) == (["t2"], ["t2", "t3"],
                                                                     ["t1", "t4"])
    # the re-plan prompt names the failure and the kept result; its schema continues at t5,
    # offers the kept text and no longer the tool that failed
    ask = backend.calls[1]
    assert "t2 (fake_fail)" in ask["messages"][-1]["content"]
    assert '$t1.text (text) = "a 32x24 picture"' in ask["messages"][-1]["content"]
    tasks = ask["schema"]["properties"]["tasks"]  # one alternative per length, ending in audio
    first = tasks["anyOf"][0]["prefixItems"][0]
    variants = first.get("anyOf", [first])
    assert {v["properties"]["id"]["const"] for v in variants} == {"t5"}
    assert "fake_fail" not in {v["properties"]["tool"]["const"] for v in variants}
    assert "$t1.text" in json.dumps(first)


def test_attempts_are_bounded_and_the_failure_stays(tmp_path, photo):
    again = {"tasks": [{"id": "t5", "tool": "fake_fail", "args": {"text": "$t1.text"}},
                       {"id": "t6", "tool": "fake_speak", "args": {"text": "$t5.text"}}]}
    backend = Scripted(json.dumps(FAILING), json.dumps(again))
    with pytest.raises(ToolExecutionError) as e:
        make_agent(tmp_path, backend, replan_attempts=1, constrained=False).run(
            "x", images=[photo])
    assert "t5" in e.value.result.failures and len(backend.calls) == 2
    backend = Scripted(json.dumps(FAILING))
    with pytest.raises(ToolExecutionError):
        make_agent(tmp_path, backend, replan_attempts=0).run("x", images=[photo])
    assert len(backend.calls) == 1


def test_dependents_are_transitive():
    from mmagent.plan import Plan

    assert dependents(Plan.model_validate(FAILING), {"t2"}) == {"t2", "t3"}
