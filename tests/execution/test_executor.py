import pytest

from mmagent.errors import ArgumentSchemaError, DuplicateTaskError, PlanLimitError
from mmagent.events import TaskFailed, TaskFinished, TaskProgress, TaskStarted
from mmagent.execution import Executor
from mmagent.plan import Plan
from tests.fakes import fake_registry


def run(store, tasks, inputs=None):
    events = []
    plan = Plan.model_validate({"tasks": [{"id": i, "tool": t, "args": a} for i, t, a in tasks]})
    result = Executor(fake_registry(), store).run(plan, inputs or {}, events.append)
    return result, events


def window(events, task_id):
    start = next(e.ts for e in events if isinstance(e, TaskStarted) and e.task_id == task_id)
    end = next(e.ts for e in events if isinstance(e, (TaskFinished, TaskFailed))
               and e.task_id == task_id)
    return start, end


def test_independent_branches_overlap(store):
    result, events = run(store, [("a", "fake_sleep", {"label": "A", "seconds": 0.4}),
                                 ("b", "fake_sleep", {"label": "B", "seconds": 0.4})])
    assert result.ok and result.outputs["a"]["text"] == "A"
    (a0, a1), (b0, b1) = window(events, "a"), window(events, "b")
    # Each started before the other finished: they ran at the same time.
    assert a0 < b1 and b0 < a1


def test_dependent_task_starts_after_its_input_and_receives_it(store):
    result, events = run(store, [("a", "fake_sleep", {"label": "A", "seconds": 0.1}),
                                 ("b", "fake_sleep", {"label": "$a.text", "after": "$a.text"})])
    assert result.outputs["b"]["text"] == "A"
    assert window(events, "a")[1] <= window(events, "b")[0]


def test_dataflow_does_not_wait_for_unrelated_slow_branch(store):
    # slow || (quick -> next): 'next' must start before 'slow' finishes.
    _, events = run(store, [("slow", "fake_sleep", {"label": "S", "seconds": 0.8}),
                            ("quick", "fake_sleep", {"label": "Q", "seconds": 0.05}),
                            ("next", "fake_sleep", {"label": "N", "after": "$quick.text",
                                                    "seconds": 0.05})])
    assert window(events, "next")[0] < window(events, "slow")[1]


def test_max_concurrency_one_runs_tasks_one_at_a_time(store):
    plan = Plan.model_validate({"tasks": [
        {"id": i, "tool": "fake_sleep", "args": {"label": i, "seconds": 0.1}} for i in "abc"]})
    events = []
    result = Executor(fake_registry(), store, max_concurrency=1).run(plan, {}, events.append)
    assert result.ok
    spans = sorted(window(events, t) for t in "abc")
    assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:], strict=False))


def test_failure_is_isolated_to_its_branch(store):
    result, events = run(store, [("bad", "fake_fail", {"text": "x"}),
                                 ("after_bad", "fake_sleep", {"label": "$bad.text"}),
                                 ("good", "fake_sleep", {"label": "G", "seconds": 0.05})])
    assert result.outputs["good"]["text"] == "G"
    assert result.failures["bad"].code == "tool.failed"
    assert "the fake model crashed" in result.failures["bad"].message
    assert result.skipped == ["after_bad"]
    assert any(isinstance(e, TaskFailed) and e.task_id == "bad" for e in events)


def test_progress_events_stream_from_tools(store):
    _, events = run(store, [("a", "fake_sleep", {"label": "A", "seconds": 0.04})])
    steps = [e.step for e in events if isinstance(e, TaskProgress) and e.task_id == "a"]
    assert steps == [1, 2, 3, 4]


def test_artifacts_cross_tasks_by_reference(store):
    from PIL import Image

    ref = store.put_image(Image.new("RGB", (7, 5)))
    result, events = run(store, [("t1", "fake_caption", {"image": "$input.image0"}),
                                 ("t2", "fake_speak", {"text": "$t1.text"})], {"image0": ref})
    assert result.outputs["t1"]["text"] == "a 7x5 picture"
    audio = result.outputs["t2"]["audio"]
    assert set(audio) >= {"id", "kind", "mime"} and audio["kind"] == "audio"
    assert store.path(store.get(audio["id"])).suffix == ".wav"


def test_a_plan_is_validated_before_anything_runs(store):
    # Executor.run must never run a plan it did not validate
    events = []
    plan = Plan.model_validate({"tasks": [
        {"id": "ok", "tool": "fake_sleep", "args": {"label": "x"}},
        {"id": "a", "tool": "fake_sleep", "args": {"label": "x", "seconds": 99}}]})
    with pytest.raises(ArgumentSchemaError) as e:
        Executor(fake_registry(), store).run(plan, {}, events.append)
    assert e.value.code == "plan.argument_schema" and e.value.task == "a"
    assert "'seconds' got 99" in e.value.message and events == []
    dup = Plan.model_validate({"tasks": [
        {"id": "a", "tool": "fake_sleep", "args": {"label": "x"}},
        {"id": "a", "tool": "fake_sleep", "args": {"label": "y"}}]})
    with pytest.raises(DuplicateTaskError):
        Executor(fake_registry(), store).run(dup, {}, events.append)
    assert events == []


def test_a_plan_over_limits_max_tasks_is_refused_first(store):
    from mmagent.artifacts import ArtifactStore, MediaLimits

    small = ArtifactStore(store.root, MediaLimits(max_tasks=3))
    plan = Plan.model_validate({"tasks": [
        {"id": f"t{i}", "tool": "no_such_tool", "args": {}} for i in range(4)]})
    with pytest.raises(PlanLimitError) as e:
        Executor(fake_registry(), small).run(plan, {})
    assert e.value.code == "plan.limit_exceeded"
    assert e.value.message == "got 4 tasks; expected at most 3 (limits.max_tasks)"


def test_completed_tasks_are_not_run_again_and_feed_their_dependents(store):
    tasks = [("a", "fake_caption", {"image": "$input.image0"}),
             ("b", "fake_speak", {"text": "$a.text"})]
    plan = Plan.model_validate({"tasks": [{"id": i, "tool": t, "args": a} for i, t, a in tasks]})
    events = []
    result = Executor(fake_registry(), store).run(
        plan, {}, events.append, completed={"a": {"text": "kept from before"}})
    assert [e.task_id for e in events if isinstance(e, TaskStarted)] == ["b"]
    assert result.outputs["a"] == {"text": "kept from before"}
    assert result.outputs["b"]["audio"]["kind"] == "audio"
