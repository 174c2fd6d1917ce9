"""The client's functions in a run: a call pauses the run (``awaiting_client``, no thread
waits), is recorded in the run journal, and the answer resumes it once, also from a second
agent on the same journal (another process); a second answer and an unknown call are typed
errors; a cancelled run waiting for its client ends ``cancelled``."""

import json
import threading

import pytest

from mmagent.errors import CallAnsweredError, RunError, UnknownCallError
from mmagent.events import ClientCallRequested, TaskStarted
from mmagent.toolkit import ClientFunction, client_tools
from tests.runs.test_journal import make_agent

WEATHER = ClientFunction(name="GetWeather", description="The weather in a city",
                         parameters={"type": "object", "properties": {
                             "city": {"type": "string"}}, "required": ["city"]})
# t1 asks the client, t2 echoes its answer, t3 is independent of both
PLAN = {"tasks": [
    {"id": "t1", "tool": "get_weather", "args": {"city": "Paris"}},
    {"id": "t2", "tool": "fake_sleep", "args": {"label": "$t1.text", "seconds": 0}},
    {"id": "t3", "tool": "fake_sleep", "args": {"label": "free", "seconds": 0}}]}


def agent(tmp_path):
    return make_agent(tmp_path / "cache", json.dumps(PLAN), cache=False)


def test_a_call_of_the_client_pauses_the_run_and_its_answer_finishes_it(tmp_path):
    paused = agent(tmp_path).run("weather?", tools=client_tools([WEATHER]))
    assert paused.status == "awaiting_client"
    (call,) = paused.pending_calls
    assert (call["task_id"], call["name"], call["arguments"]) == ("t1", "GetWeather",
                                                                  {"city": "Paris"})
    assert set(paused.outputs) == {"t3"}  # what does not need the answer ran
    assert call["call_id"] in paused.answer and "waits for the client" in paused.answer
    (event,) = [e for e in paused.events if isinstance(e, ClientCallRequested)]
    assert event.call_id == call["call_id"]

    # a second agent on the same journal: the functions come from the run's record
    done = agent(tmp_path).resume(paused.run_id, outputs={call["call_id"]: "sunny, 21 C"})
    assert done.status == "completed" and done.pending_calls == []
    assert done.outputs["t1"] == {"text": "sunny, 21 C"}
    assert done.outputs["t2"] == {"text": "sunny, 21 C"}
    started = [e.task_id for e in done.events if isinstance(e, TaskStarted)]
    assert started == ["t1", "t2"]  # t3 is not run again
    assert not [e for e in done.events if isinstance(e, ClientCallRequested)]


def test_a_call_is_answered_once_and_only_by_its_own_id(tmp_path):
    paused = agent(tmp_path).run("weather?", tools=client_tools([WEATHER]))
    call_id = paused.pending_calls[0]["call_id"]
    with pytest.raises(UnknownCallError) as e:
        agent(tmp_path).resume(paused.run_id, outputs={"call_nope": "x"})
    assert e.value.code == "run.unknown_call" and "call_nope" in e.value.message
    agent(tmp_path).resume(paused.run_id, outputs={call_id: "rain"})
    with pytest.raises(CallAnsweredError) as e:
        agent(tmp_path).resume(paused.run_id, outputs={call_id: "snow"})
    assert e.value.code == "run.call_answered" and "answered already" in e.value.message


def test_a_resume_without_the_answer_pauses_again_on_the_same_call(tmp_path):
    paused = agent(tmp_path).run("weather?", tools=client_tools([WEATHER]))
    again = agent(tmp_path).resume(paused.run_id)
    assert again.status == "awaiting_client"
    assert again.pending_calls == paused.pending_calls  # the same call id, asked once


def test_outputs_for_a_run_that_waits_for_no_client_are_refused(tmp_path):
    paused = agent(tmp_path).run("weather?", tools=client_tools([WEATHER]))
    a = agent(tmp_path)
    a.executor.runs.set_status(paused.run_id, "cancelled")
    with pytest.raises(RunError, match="cancelled; expected a run awaiting"):
        a.resume(paused.run_id, outputs={paused.pending_calls[0]["call_id"]: "x"})


def test_a_cancelled_run_waiting_for_its_client_ends_cancelled(tmp_path):
    paused = agent(tmp_path).run("weather?", tools=client_tools([WEATHER]))
    cancel = threading.Event()
    cancel.set()
    call_id = paused.pending_calls[0]["call_id"]
    done = agent(tmp_path).resume(paused.run_id, outputs={call_id: "fog"}, cancel=cancel)
    assert done.status == "cancelled" and "t1" not in done.outputs


def test_any_agent_cancels_a_run_waiting_for_its_client(tmp_path):
    paused = agent(tmp_path).run("weather?", tools=client_tools([WEATHER]))
    other = agent(tmp_path)  # another process, on the same journal
    assert other.cancel(paused.run_id)
    assert other.executor.runs.get(paused.run_id).status == "cancelled"
    assert not other.cancel(paused.run_id)  # it waits no more
    with pytest.raises(RunError, match="cancelled; expected a run awaiting"):
        other.resume(paused.run_id, outputs={paused.pending_calls[0]["call_id"]: "late"})
    assert not other.cancel("no-such-run")


def test_a_client_tool_outside_a_run_says_it_needs_one(store):
    from mmagent.errors import ToolExecutionError
    from mmagent.toolkit import ToolContext

    (cls,) = client_tools([WEATHER])
    with pytest.raises(ToolExecutionError, match="outside a run"):
        cls().run([cls.Input(city="Oslo")], ToolContext(store))


def test_the_readme_client_tools_example(tmp_path):
    """The README's SDK example of the client's functions, on a scripted planner."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Function calling and structured output", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    plan = {"tasks": [{"id": "t1", "tool": "get_weather", "args": {"city": "Paris"}}]}
    scope = {"scripted": lambda: make_agent(tmp_path / "cache", json.dumps(plan), cache=False)}
    exec(compile(code.replace("Agent()", "scripted()"), "README.md", "exec"), scope)
    assert scope["paused"].status == "awaiting_client"
    assert scope["done"].status == "completed"
    assert scope["done"].outputs["t1"] == {"text": "sunny, 21 C"}
