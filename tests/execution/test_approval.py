"""Human approval: a run pauses before chosen tools, continues on yes, ends cleanly on no."""

import json

from mmagent.events import ApprovalRequested, TaskStarted
from tests.runs.test_journal import make_agent

# t1 (cheap) -> t2 (fake_big, needs approval) -> t3; t4 is independent of t2
PLAN = {"tasks": [
    {"id": "t1", "tool": "fake_sleep", "args": {"label": "A", "seconds": 0}},
    {"id": "t2", "tool": "fake_big", "args": {"label": "$t1.text"}},
    {"id": "t3", "tool": "fake_sleep", "args": {"label": "$t2.text", "seconds": 0}},
    {"id": "t4", "tool": "fake_sleep", "args": {"label": "D", "seconds": 0}}]}


def agent(tmp_path, **approval):
    return make_agent(tmp_path / "cache", json.dumps(PLAN), cache=False,
                      approval=approval or {"tools": ["fake_big"]})


def started(events):
    return [e.task_id for e in events if isinstance(e, TaskStarted)]


def test_approved_run_continues(tmp_path):
    asked = []
    result = agent(tmp_path).run("go", approve=lambda req: asked.append(req.task_ids) or True)
    assert asked == [["t2"]]
    assert result.status == "completed" and result.outputs["t3"]["text"] == "A"
    (req,) = [e for e in result.events if isinstance(e, ApprovalRequested)]
    assert req.tasks[0]["tool"] == "fake_big" and "needs approval" in req.tasks[0]["reason"]
    json.dumps(req.model_dump(mode="json"))  # serialisable for the HTTP stream


def test_rejected_run_ends_cleanly_and_reports_what_was_skipped(tmp_path):
    result = agent(tmp_path).run("go", approve=lambda req: False)  # no exception
    assert result.status == "completed"
    assert result.rejected == ["t2"]
    assert result.skipped == {"t3": "t2, which it needs, was rejected"}
    assert result.outputs["t4"]["text"] == "D" and "t2" not in result.outputs
    assert not result.failures
    assert "t2" not in started(result.events) and "rejected" in result.answer


def test_without_a_callback_the_run_pauses_and_resumes_later(tmp_path):
    paused = agent(tmp_path).run("go")
    assert paused.status == "awaiting_approval"
    assert [t["task_id"] for t in paused.pending_approval["tasks"]] == ["t2"]
    assert set(paused.outputs) == {"t1", "t4"}  # what could run without approval did
    assert f"mmagent resume {paused.run_id}" in paused.answer
    # a fresh agent (as after a restart) continues it from the checkpoint database
    result = agent(tmp_path).resume(paused.run_id, approve=True)
    assert result.status == "completed" and result.outputs["t3"]["text"] == "A"
    assert started(result.events) == ["t2", "t3"]  # t1 and t4 were not run again


def test_two_approvals_in_one_run_get_their_own_answers(tmp_path):
    plan = {"tasks": [
        {"id": "a", "tool": "fake_big", "args": {"label": "first"}},
        {"id": "b", "tool": "fake_big", "args": {"label": "$a.text"}}]}
    ag = make_agent(tmp_path / "cache", json.dumps(plan), approval={"tools": ["fake_big"]})
    first = ag.run("go")
    assert first.pending_approval["tasks"][0]["task_id"] == "a"
    second = ag.resume(first.run_id, approve=True)
    assert second.status == "awaiting_approval" and second.outputs["a"]["text"] == "first"
    assert second.pending_approval["tasks"][0]["task_id"] == "b"
    done = ag.resume(first.run_id, approve=False)
    assert done.status == "completed" and done.rejected == ["b"]
    assert started(done.events) == []  # a was not run again


def test_gpu_memory_threshold_selects_the_costly_tools(tmp_path):
    asked = []
    result = agent(tmp_path, gpu_memory_gb=16).run(
        "go", approve=lambda req: asked.extend(t["reason"] for t in req.tasks) or True)
    assert result.status == "completed"
    assert len(asked) == 1 and "24 GB" in asked[0]  # fake_big only; fake_sleep declares 0
