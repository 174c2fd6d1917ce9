"""Failure policy (retry, timeout, isolation), cancellation and the result cache."""

import json

from PIL import Image

from mmagent.events import ArtifactCreated, TaskFinished, TaskRetrying, TaskStarted
from mmagent.execution import Executor, ResultCache, TaskPolicy
from mmagent.plan import Plan
from mmagent.runs import RunStore
from tests.fakes import policy_registry
from tests.runs.test_journal import make_agent


def plan(*tasks):
    return Plan.model_validate({"tasks": [{"id": i, "tool": t, "args": a} for i, t, a in tasks]})


def run(executor, p, inputs=None, **kw):
    events = []
    return executor.run(p, inputs or {}, events.append, **kw), events


def test_retry_with_backoff_recovers_a_flaky_task(store, tmp_path):
    ex = Executor(policy_registry(), store, policy=TaskPolicy(retries=2, backoff_s=0))
    counter = tmp_path / "calls"
    result, events = run(ex, plan(("f", "fake_flaky", {"label": "ok", "counter": str(counter),
                                                       "failures": 2})))
    assert result.status == "completed" and result.outputs["f"]["text"] == "ok"
    retries = [e for e in events if isinstance(e, TaskRetrying)]
    assert [r.attempt for r in retries] == [1, 2] and "flaky failure 1" in retries[0].error
    assert len(counter.read_text().split()) == 3


def test_failure_for_good_is_isolated_and_reported(store, tmp_path):
    ex = Executor(policy_registry(), store, tool_policies={
        "fake_flaky": TaskPolicy(retries=1, backoff_s=0)})
    result, events = run(ex, plan(
        ("bad", "fake_flaky", {"label": "x", "counter": str(tmp_path / "c"), "failures": 9}),
        ("after", "fake_sleep", {"label": "$bad.text", "seconds": 0}),
        ("good", "fake_sleep", {"label": "G", "seconds": 0.05})))
    assert result.status == "failed"
    assert result.outputs["good"]["text"] == "G"  # the independent branch finished
    assert result.failures["bad"].code == "tool.failed"
    assert "flaky failure 2" in result.failures["bad"].message  # the last attempt's error
    assert result.skip_reasons == {"after": "bad, which it needs, was failed"}
    assert len((tmp_path / "c").read_text().split()) == 2


def test_a_task_past_its_timeout_fails_and_the_rest_go_on(store, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()  # the tool waits while this exists: longer than the limit
    ex = Executor(policy_registry(), store, tool_policies={"fake_count": TaskPolicy(
        timeout_s=0.3, retries=3)})
    try:
        result, events = run(ex, plan(
            ("slow", "fake_count", {"label": "s", "counter": str(tmp_path / "c"),
                                    "hold": str(hold)}),
            ("next", "fake_sleep", {"label": "$slow.text", "seconds": 0}),
            ("other", "fake_sleep", {"label": "O", "seconds": 0})))
    finally:
        hold.unlink()
    assert result.failures["slow"].code == "tool.timeout"
    assert "0.3 s limit" in result.failures["slow"].message
    assert result.outputs["other"]["text"] == "O" and result.skipped == ["next"]
    assert not any(isinstance(e, TaskRetrying) for e in events)  # timeouts are not retried
    assert len((tmp_path / "c").read_text().split()) == 1


def test_cancel_lets_running_tasks_finish_and_starts_nothing_new(tmp_path):
    counter, hold = tmp_path / "c", tmp_path / "hold"
    hold.touch()
    p = {"tasks": [
        {"id": "t1", "tool": "fake_count", "args": {"label": "one", "counter": str(counter),
                                                    "hold": str(hold)}},
        {"id": "t2", "tool": "fake_count", "args": {"label": "two", "counter": str(counter),
                                                    "after": "$t1.text"}}]}
    agent = make_agent(tmp_path / "cache", json.dumps(p))
    events = []
    for ev in agent.stream("count", run_id="run-c"):
        events.append(ev)
        if isinstance(ev, TaskStarted) and ev.task_id == "t1":
            assert agent.cancel("run-c")
            hold.unlink()  # t1 may now finish
    finished = [e.task_id for e in events if isinstance(e, TaskFinished)]
    assert finished == ["t1"] and counter.read_text().split() == ["one"]
    assert events[-1].text.startswith("Cancelled")
    assert agent.cancel("run-c") is False  # no longer active
    # a cancelled run can be continued later
    result = agent.resume("run-c")
    assert result.status == "completed" and counter.read_text().split() == ["one", "two"]


def test_cache_hit_miss_and_bypass(store, tmp_path):
    counter = tmp_path / "c"
    cache = ResultCache(tmp_path / "results.sqlite")
    p = plan(("t", "fake_count", {"label": "x", "counter": str(counter)}))
    first, _ = run(Executor(policy_registry(), store, cache=cache), p)
    again, events = run(Executor(policy_registry(), store, cache=cache), p)
    assert again.outputs == first.outputs and again.cached == ["t"]
    (fin,) = [e for e in events if isinstance(e, TaskFinished)]
    assert fin.cached is True
    assert counter.read_text().split() == ["x"]  # served, not recomputed
    changed, _ = run(Executor(policy_registry(), store, cache=cache),
                     plan(("t", "fake_count", {"label": "y", "counter": str(counter)})))
    assert changed.cached == [] and counter.read_text().split() == ["x", "y"]  # a miss
    bypass, events = run(Executor(policy_registry(), store, cache=None), p)
    assert bypass.cached == [] and counter.read_text().split() == ["x", "y", "x"]


def test_a_run_without_the_cache_computes_and_leaves_it_untouched(store, tmp_path):
    counter = tmp_path / "c"
    ex = Executor(policy_registry(), store, cache=ResultCache(None))
    p = plan(("t", "fake_count", {"label": "x", "counter": str(counter)}))
    assert run(ex, p, use_cache=False)[0].cached == []
    assert run(ex, p)[0].cached == []  # the uncached run stored nothing
    assert run(ex, p, use_cache=False)[0].cached == []  # nor reads what is stored
    assert counter.read_text().split() == ["x", "x", "x"]
    assert run(ex, p)[0].cached == ["t"]


def test_a_run_not_recorded_leaves_the_run_store_empty(store, tmp_path):
    ex = Executor(policy_registry(), store, runs=RunStore(tmp_path / "runs.sqlite"))
    result, _ = run(ex, plan(("t", "fake_count", {"label": "x", "counter": str(tmp_path / "c")})),
                    record=False)
    assert result.status == "completed" and ex.runs is not None and ex.runs.list() == []


def test_cache_key_follows_input_artifact_content(store):
    cache = ResultCache(None)
    ex = Executor(policy_registry(), store, cache=cache)
    p = plan(("t", "fake_caption", {"image": "$input.image0"}))
    a = store.put_image(Image.new("RGB", (3, 2)))
    b = store.put_image(Image.new("RGB", (5, 4)))
    assert run(ex, p, {"image0": a})[0].cached == []
    assert run(ex, p, {"image0": a})[0].cached == ["t"]
    other, _ = run(ex, p, {"image0": b})
    assert other.cached == [] and other.outputs["t"]["text"] == "a 5x4 picture"


def test_cache_skips_tools_that_are_not_deterministic(store):
    ex = Executor(policy_registry(), store, cache=ResultCache(None))
    p = plan(("r", "fake_random", {"label": "x"}))
    first, second = run(ex, p)[0], run(ex, p)[0]
    assert second.cached == [] and first.outputs != second.outputs


def test_cache_entry_whose_artifact_is_gone_is_a_miss(store):
    ex = Executor(policy_registry(), store, cache=ResultCache(None))
    p = plan(("s", "fake_speak", {"text": "hi"}))
    first, _ = run(ex, p)
    store.path(store.get(first.outputs["s"]["audio"]["id"])).unlink()
    assert run(ex, p)[0].cached == []


def test_agent_use_cache_false_recomputes(tmp_path):
    counter = tmp_path / "c"
    p = json.dumps({"tasks": [{"id": "t", "tool": "fake_count",
                               "args": {"label": "x", "counter": str(counter)}}]})
    make_agent(tmp_path / "cache", p).run("count")
    assert make_agent(tmp_path / "cache", p).run("count").cached == ["t"]
    from mmagent import Agent, Config
    from tests.fakes import policy_registry as reg
    from tests.planner.test_planner import Scripted

    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "planner": {"inputs_first": False}})
    fresh = Agent(cfg, registry=reg(), planner_backend=Scripted(p), use_cache=False).run("count")
    assert fresh.cached == [] and counter.read_text().split() == ["x", "x"]



def test_a_cached_result_still_announces_its_artifacts(store):
    ex = Executor(policy_registry(), store, cache=ResultCache(None))
    p = plan(("s", "fake_speak", {"text": "hi"}))
    first, _ = run(ex, p)
    again, events = run(ex, p)
    assert again.cached == ["s"]
    (made,) = [e for e in events if isinstance(e, ArtifactCreated)]
    assert made.artifact.id == first.outputs["s"]["audio"]["id"] and made.field == "audio"
