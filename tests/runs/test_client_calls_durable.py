"""OpenAI function calls that wait durably: a chat request (and a Responses request) with
``tools`` gets the client's calls, the ``mmagent serve`` process is SIGKILLed and started again
on the same state store (SQLite, then PostgreSQL), and the client's tool message resumes the
run there, once: the answer carries the client's output; a second answer to the same call is
409 ``run.call_answered``, an unknown call id 404 ``run.unknown_call``."""

import json
import os
import signal

import httpx
import pytest

from tests.runs.test_runs_api_durable import Served, _lines
from tests.serving.conftest import KEY_A

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city, in words",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "the city"}}, "required": ["city"]}}}
# the client's weather, then a picture of it (a tool of the server: it runs once, after the answer)
WEATHER_THEN_DRAW = {"tasks": [
    {"id": "t1", "tool": "get_weather", "args": {"city": "Paris"}},
    {"id": "t2", "tool": "image_generate", "args": {"prompt": "$t1.text"}}]}
H = {"Authorization": f"Bearer {KEY_A}"}


@pytest.fixture
def planner():
    from tests.cli.test_cli import _planning_server

    yield from _planning_server(WEATHER_THEN_DRAW)


@pytest.fixture(params=["sqlite", "postgres"])
def state(request):
    """The ``stores.state`` section both servers share."""
    if request.param == "sqlite":
        yield "{backend: sqlite}"
        return
    from tests.stores.servers import Postgres, postgres_bin

    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; make system-deps)")
    server = Postgres()
    try:
        yield f"{{backend: postgres, dsn: '{server.new_database()}'}}"
    finally:
        server.stop()


def _chat(url: str, messages: list[dict]) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", headers=H, timeout=60,
                      json={"model": "mmagent", "messages": messages, "tools": [WEATHER]})


def _responses(url: str, body: dict) -> httpx.Response:
    return httpx.post(url + "/v1/responses", headers=H, timeout=60,
                      json={"model": "mmagent", "tools": [{"type": "function",
                                                           **WEATHER["function"]}], **body})


def test_a_function_call_survives_a_killed_server_and_is_answered_once(tmp_path, planner,
                                                                       state):
    counter = tmp_path / "calls.txt"
    config = tmp_path / "mmagent.yaml"
    config.write_text(
        f"cache_dir: {tmp_path / 'cache'}\nrouter: {{mode: plan}}\n"
        f"planner: {{backend: openai, model: m, base_url: {planner}}}\n"
        f"executor: {{cache: false}}\nstores: {{state: {state}}}\n"
        f"serving: {{api_keys: [{KEY_A}]}}\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "unused",
           "MMAGENT_TEST_COUNTER": str(counter)}
    first, second = Served(config, env), None
    try:
        messages = [{"role": "user", "content": "What is the weather in Paris? Draw it."}]
        asked = _chat(first.url, messages).json()
        choice = asked["choices"][0]
        assert choice["finish_reason"] == "tool_calls", asked
        (call,) = choice["message"]["tool_calls"]
        assert call["function"]["name"] == "get_weather"
        assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
        first_response = _responses(first.url, {"input": "What is the weather in Paris?"}).json()
        (fn_call,) = first_response["output"]
        assert fn_call["type"] == "function_call" and fn_call["name"] == "get_weather"
        # both runs wait, recorded: no thread of the server holds them
        waiting = httpx.get(first.url + "/v1/runs", headers=H).json()["data"]
        assert sorted(r["status"] for r in waiting) == ["awaiting_client"] * 2
        assert {r["pending_calls"][0]["call_id"] for r in waiting} == {call["id"],
                                                                      fn_call["call_id"]}
        first.kill()
        assert first.proc.returncode == -signal.SIGKILL
        assert "draw" not in _lines(counter)

        second = Served(config, env)
        messages += [{"role": "assistant", "content": None, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": call["id"], "content": "sunny and 21 C"}]
        done = _chat(second.url, messages)
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["choices"][0]["finish_reason"] == "stop"
        assert "sunny and 21 C" in body["choices"][0]["message"]["content"]
        assert body["mmagent"]["outputs"]["t1"] == {"text": "sunny and 21 C"}
        assert body["mmagent"]["outputs"]["t2"]["image"]["kind"] == "image"

        again = _chat(second.url, messages)
        assert again.status_code == 409 and again.json()["error"]["code"] == "run.call_answered"
        messages[-1] = {**messages[-1], "tool_call_id": "call_" + "0" * 24}
        unknown = _chat(second.url, messages)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "run.unknown_call"

        output = [{"type": "function_call_output", "call_id": fn_call["call_id"],
                   "output": "foggy, 9 C"}]
        final = _responses(second.url, {"previous_response_id": first_response["id"],
                                        "input": output})
        assert final.status_code == 200, final.text
        assert final.json()["status"] == "completed"
        assert "foggy, 9 C" in final.json()["output"][0]["content"][0]["text"]
        twice = _responses(second.url, {"input": output})
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "run.call_answered"
        # each picture was drawn once, after its answer
        assert _lines(counter) == ["draw-started", "draw", "draw-started", "draw"]
        runs = httpx.get(second.url + "/v1/runs", headers=H).json()["data"]
        assert sorted(r["status"] for r in runs) == ["completed"] * 2
    finally:
        first.kill()
        if second is not None:
            second.kill()
