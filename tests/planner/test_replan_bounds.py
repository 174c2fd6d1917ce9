"""Re-planning is bounded in time (planner.replan_timeout_s), says it is working (Replanning
events), and counts its tokens (on Replanned, and in the HTTP usage)."""

import json
import threading
import time

import pytest

import mmagent.planner._replan as replan_module
from mmagent.errors import ToolExecutionError
from mmagent.events import Replanned, Replanning, TaskFailed
from tests.planner.test_planner import Scripted
from tests.planner.test_replan import FAILING, REPLACEMENT, make_agent, photo  # noqa: F401


class SlowReplan(Scripted):
    """The first plan at once; the re-plan only when ``release`` is set (a stuck LLM)."""

    def __init__(self, *answers):
        super().__init__(*answers)
        self.release = threading.Event()

    def complete(self, messages, **kw):
        if self.calls:
            self.release.wait(30)
        return super().complete(messages, **kw)


def test_a_stuck_replan_ends_at_the_timeout_with_heartbeats(tmp_path, photo,  # noqa: F811
                                                            monkeypatch):
    monkeypatch.setattr(replan_module, "HEARTBEAT_S", 0.1)
    backend = SlowReplan(json.dumps(FAILING), json.dumps(REPLACEMENT))
    agent = make_agent(tmp_path, backend, replan_timeout_s=0.6)
    t0 = time.perf_counter()
    try:
        with pytest.raises(ToolExecutionError) as e:
            agent.run("Describe it and say it", images=[photo])
    finally:
        backend.release.set()
    assert time.perf_counter() - t0 < 10
    assert "t2" in e.value.result.failures  # the first failure stays what the user sees
    events = e.value.result.events
    beats = [ev for ev in events if isinstance(ev, Replanning)]
    assert len(beats) >= 3 and beats[0].failed == ["t2"] and beats[-1].elapsed_s > 0
    failed_at = next(i for i, ev in enumerate(events) if isinstance(ev, TaskFailed))
    assert any(isinstance(ev, Replanning) for ev in events[failed_at:])
    assert not any(isinstance(ev, Replanned) for ev in events)


def test_the_replan_tokens_are_counted(tmp_path, photo):  # noqa: F811
    backend = Scripted(json.dumps(FAILING), json.dumps(REPLACEMENT))
    result = make_agent(tmp_path, backend).run("Describe it and say it", images=[photo])
    (replanned,) = [e for e in result.events if isinstance(e, Replanned)]
    assert replanned.prompt_tokens > 0 and replanned.completion_tokens > 0


def test_http_usage_counts_the_replan(tmp_path, photo):  # noqa: F811
    from mmagent.serving._agent import RunSummary

    backend = Scripted(json.dumps(FAILING), json.dumps(REPLACEMENT))
    result = make_agent(tmp_path, backend).run("Describe it and say it", images=[photo])
    summary = RunSummary()
    for ev in result.events:
        summary.add(ev, lambda i: i)
    planned = sum(getattr(e, "prompt_tokens", 0) for e in result.events
                  if e.type in ("plan", "replanned"))
    assert summary.prompt_tokens == planned > 0
    assert summary.prompt_tokens > next(e.prompt_tokens for e in result.events
                                        if e.type == "plan")
