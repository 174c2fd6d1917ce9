"""Re-planning is bounded in time (planner.replan_timeout_s: past it, or on a cancel, the LLM
stops generating), says it is working (Replanning events), and counts its tokens (on Replanned
or ReplanFailed, and in the HTTP usage)."""

import json
import threading
import time

import pytest

import mmagent.planner._replan as replan_module
from mmagent.errors import PlanningStoppedError, ToolExecutionError
from mmagent.events import ReplanFailed, Replanned, Replanning, TaskFailed
from mmagent.planner._backends import stop_reason, stop_when
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


class Babbling(Scripted):
    """The first plan at once; the re-plan never ends by itself: a token every 10 ms, with
    the stop check before each that LocalChatBackend makes before each forward pass."""

    def __init__(self, *answers):
        super().__init__(*answers)
        self.tokens = 0
        self.babbling = threading.Event()

    def complete(self, messages, **kw):
        if not self.calls:
            return super().complete(messages, **kw)
        self.babbling.set()
        written = 0
        while (reason := stop_reason()) is None:
            time.sleep(0.01)
            written += 1
            self.tokens += 1
        raise PlanningStoppedError(f"stopped after {written} tokens: {reason}", reason=reason,
                                   prompt_tokens=100, completion_tokens=written)


def _replan_threads():
    return [t for t in threading.enumerate() if t.name.startswith("mmagent-replan")]


def test_a_replan_past_its_time_stops_generating(tmp_path, photo):  # noqa: F811
    backend = Babbling(json.dumps(FAILING))
    agent = make_agent(tmp_path, backend, replan_timeout_s=0.5)
    t0 = time.perf_counter()
    with pytest.raises(ToolExecutionError) as e:
        agent.run("Describe it and say it", images=[photo])
    assert time.perf_counter() - t0 < 10
    assert "t2" in e.value.result.failures  # the first failure stays what the user sees
    (gave_up,) = [ev for ev in e.value.result.events if isinstance(ev, ReplanFailed)]
    assert gave_up.code == "planning.stopped" and "0.5 s (planner.replan_timeout_s)" in \
        gave_up.message
    assert 0.5 <= gave_up.elapsed_s < 3
    assert gave_up.prompt_tokens == 100 and gave_up.completion_tokens > 0  # counted
    # nothing goes on generating behind the finished run
    assert not _replan_threads()
    written = backend.tokens
    time.sleep(0.3)
    assert backend.tokens == written


def test_a_cancel_stops_the_replan_generating(tmp_path, photo):  # noqa: F811
    backend = Babbling(json.dumps(FAILING))
    agent = make_agent(tmp_path, backend, replan_timeout_s=600)
    cancel = threading.Event()
    threading.Thread(target=lambda: backend.babbling.wait(30) and cancel.set(),
                     daemon=True).start()
    t0 = time.perf_counter()
    with pytest.raises(ToolExecutionError) as e:
        agent.run("Describe it and say it", images=[photo], cancel=cancel)
    assert time.perf_counter() - t0 < 10
    (gave_up,) = [ev for ev in e.value.result.events if isinstance(ev, ReplanFailed)]
    assert gave_up.message.endswith("the run was cancelled")
    assert not _replan_threads()


def test_http_usage_counts_a_replan_that_gave_up(tmp_path, photo):  # noqa: F811
    from mmagent.serving._agent import RunSummary

    backend = Babbling(json.dumps(FAILING))
    with pytest.raises(ToolExecutionError) as e:
        make_agent(tmp_path, backend, replan_timeout_s=0.3).run("Describe it and say it",
                                                                images=[photo])
    summary = RunSummary()
    for ev in e.value.result.events:
        summary.add(ev, lambda i: i)
    (gave_up,) = [ev for ev in e.value.result.events if isinstance(ev, ReplanFailed)]
    (planned,) = [ev for ev in e.value.result.events if ev.type == "plan"]
    assert gave_up.prompt_tokens == 100 and gave_up.completion_tokens > 0
    assert summary.prompt_tokens == planned.prompt_tokens + 100  # the plan's, the re-plan's
    assert summary.completion_tokens == planned.completion_tokens + gave_up.completion_tokens


def test_a_planner_told_to_stop_makes_no_further_llm_call():
    from mmagent.planner import Planner
    from tests.fakes import fake_registry

    backend = Scripted(json.dumps(REPLACEMENT))
    with stop_when(lambda: "time is up"), pytest.raises(PlanningStoppedError) as e:
        Planner(backend, fake_registry()).plan("describe and speak", {})
    assert not backend.calls and e.value.message.endswith("time is up")
