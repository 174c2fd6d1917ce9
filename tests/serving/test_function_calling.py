"""OpenAI function calling and structured output against a real uvicorn server: a client's
function joins the planner's tools, the answer is its call, the client's tool message resumes
the run; ``response_format`` gets JSON that conforms to its schema, or a typed 422. Driven by
the official ``openai`` package and by ``langchain-openai`` (``bind_tools``,
``with_structured_output``)."""

import json

import httpx
import openai
import pytest
from pydantic import BaseModel, Field

from mmagent import Agent, Config
from mmagent.planner import Completion
from mmagent.serving.server import ServerThread, build_app
from tests.serving.conftest import KEY_A, KEY_B
from tests.serving.helpers import PlanByInputs, serving_registry

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city, in words",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "the city"}}, "required": ["city"]}}}


class PlanWeather(PlanByInputs):
    """Plans the client's ``get_weather`` (then echoes its output) when asked about weather,
    and fills any other JSON Schema from the answer it is shown."""

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        props = (json_schema or {}).get("properties", {})
        last = messages[-1]["content"]
        if json_schema is not None and "tasks" not in props and "deliver" not in props:
            answer = last.split("Answer: ", 1)[-1].split("\n")[0]
            return Completion(json.dumps(_fill(json_schema, answer)), 1, 1)
        tools = " ".join(m["content"] for m in messages)
        if json_schema is not None and "tasks" in props and "weather" in last \
                and ("GetWeather" in tools or "get_weather" in tools):
            name = "get_weather"
            plan = {"tasks": [{"id": "t1", "tool": name, "args": {"city": "Paris"}},
                              {"id": "t2", "tool": "fake_sleep",
                               "args": {"label": "$t1.text", "seconds": 0.0}}]}
            return Completion(json.dumps(plan), 1, 1)
        return super().complete(messages, json_schema=json_schema, max_tokens=max_tokens)


def _fill(schema, answer):
    if schema.get("type") == "object":
        return {k: _fill(v, answer) for k, v in schema.get("properties", {}).items()}
    if schema.get("type") == "integer":
        return 21
    if schema.get("type") == "array":
        return []
    return answer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc")
    cfg = Config.from_dict({"cache_dir": str(root / "cache"),
                            "serving": {"api_keys": [KEY_A, KEY_B]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanWeather())
    with ServerThread(build_app(agent=agent)) as srv:
        yield srv


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=KEY_A, max_retries=0)


def test_openai_client_function_call_round_trip(server):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client(server).chat.completions.create(model="mmagent", messages=messages,
                                                   tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny and 21 C"}]
    final = client(server).chat.completions.create(model="mmagent", messages=messages,
                                                   tools=[WEATHER])
    assert final.choices[0].finish_reason == "stop"
    assert "sunny and 21 C" in final.choices[0].message.content
    assert final.mmagent["outputs"]["t1"] == {"text": "sunny and 21 C"}
    # the same call answered twice: refused, the run took its one answer
    with pytest.raises(openai.ConflictError) as e:
        client(server).chat.completions.create(model="mmagent", messages=messages)
    assert e.value.body["code"] == "run.call_answered"
    # a call id no run made
    messages[-1] = {**messages[-1], "tool_call_id": "call_" + "0" * 24}
    with pytest.raises(openai.NotFoundError) as e:
        client(server).chat.completions.create(model="mmagent", messages=messages)
    assert e.value.body["code"] == "run.unknown_call"


def test_a_run_waiting_for_its_client_is_cancelled_over_the_runs_api(server):
    from mmagent import Client

    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client(server).chat.completions.create(model="mmagent", messages=messages,
                                                   tools=[WEATHER])
    (call,) = first.choices[0].message.tool_calls
    with Client(server.base_url, KEY_A) as c:
        (run,) = [r for r in c.runs.list() if r.status == "awaiting_client"
                  and r.pending_calls[0]["call_id"] == call.id]
        assert run.pending_calls[0]["arguments"] == {"city": "Paris"}
        assert c.runs.cancel(run.id).status == "cancelled"
        messages += [first.choices[0].message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": "hail"}]
        with pytest.raises(openai.ConflictError) as e:
            client(server).chat.completions.create(model="mmagent", messages=messages)
        assert "cancelled" in e.value.body["message"]
        assert c.runs.get(run.id).status == "cancelled" and "t1" not in c.runs.get(run.id).outputs


def test_a_run_answered_by_an_instance_that_died_before_queueing_it_still_resumes(server):
    from mmagent import Client

    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client(server).chat.completions.create(model="mmagent", messages=messages,
                                                   tools=[WEATHER])
    (call,) = first.choices[0].message.tool_calls
    executor = server.server.config.app.state.runs.shared.agent.executor
    executor.answer(executor.runs.client_call(call.id).run_id, {call.id: "dust, 30 C"})
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "dust, 30 C"}]
    with Client(server.base_url, KEY_A) as c:
        (run,) = [r for r in c.runs.list() if r.status == "awaiting_client"
                  and r.pending_calls[0]["call_id"] == call.id]
        with pytest.raises(openai.ConflictError) as e:  # the client's retry: answered already
            client(server).chat.completions.create(model="mmagent", messages=messages)
        assert e.value.body["code"] == "run.call_answered"
        done = c.runs.wait(run.id, timeout=30)  # but the run went on, with the recorded answer
    assert done.status == "completed" and done.outputs["t1"] == {"text": "dust, 30 C"}


def test_tools_the_plan_does_not_reach_leave_the_answer_plain(server):
    resp = client(server).chat.completions.create(
        model="mmagent", messages=[{"role": "user", "content": "Please echo mango"}],
        tools=[WEATHER])
    assert resp.choices[0].finish_reason == "stop" and "mango" in resp.choices[0].message.content


def test_response_format_json_schema(server):
    class Echo(BaseModel):
        said: str = Field(description="what was echoed")
        count: int

    resp = client(server).chat.completions.parse(
        model="mmagent", messages=[{"role": "user", "content": "Please echo mango"}],
        response_format=Echo)
    parsed = resp.choices[0].message.parsed
    assert isinstance(parsed, Echo) and "mango" in parsed.said and parsed.count == 21


def test_response_format_that_cannot_be_met_is_a_typed_error(server):
    schema = {"type": "object", "properties": {"said": {"type": "string", "maxLength": 2}},
              "required": ["said"]}
    with pytest.raises(openai.UnprocessableEntityError) as e:
        client(server).chat.completions.create(
            model="mmagent", messages=[{"role": "user", "content": "Please echo mango"}],
            response_format={"type": "json_schema", "json_schema": {"name": "short",
                                                                    "schema": schema}})
    assert e.value.body["code"] == "output.schema_mismatch"
    bad = httpx.post(server.base_url + "/v1/chat/completions", headers={
        "Authorization": f"Bearer {KEY_A}"}, json={
        "messages": [{"role": "user", "content": "Please echo mango"}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "x", "schema": {"type": "nonsense"}}}})
    assert bad.status_code == 422 and "not valid" in bad.json()["error"]["message"]


def test_langchain_bind_tools_round_trip(server):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_openai import ChatOpenAI

    class GetWeather(BaseModel):
        """The weather in a city, in words"""

        city: str = Field(description="the city")

    llm = ChatOpenAI(model="mmagent", base_url=server.base_url + "/v1", api_key=KEY_A,
                     max_retries=0).bind_tools([GetWeather])
    history = [HumanMessage("What is the weather in Paris?")]
    ai = llm.invoke(history)
    (call,) = ai.tool_calls
    assert call["name"] == "GetWeather" and call["args"] == {"city": "Paris"}
    history += [ai, ToolMessage("rain, 12 C", tool_call_id=call["id"])]
    final = llm.invoke(history)
    assert "rain, 12 C" in final.content and not final.tool_calls


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_with_structured_output(server, method):
    from langchain_openai import ChatOpenAI

    class Echo(BaseModel):
        """What the agent echoed."""

        said: str = Field(description="what was echoed")
        count: int = Field(description="a number")

    llm = ChatOpenAI(model="mmagent", base_url=server.base_url + "/v1", api_key=KEY_A,
                     max_retries=0).with_structured_output(Echo, method=method)
    got = llm.invoke("Please echo papaya")
    assert isinstance(got, Echo) and "papaya" in got.said and got.count == 21


RESPONSES_WEATHER = {"type": "function", **WEATHER["function"]}


def test_responses_function_call_round_trip_and_stored_responses(server):
    first = client(server).responses.create(model="mmagent", tools=[RESPONSES_WEATHER],
                                            input="What is the weather in Paris?")
    (call,) = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    # as OpenAI's clients continue: the previous response and the call's output
    final = client(server).responses.create(
        model="mmagent", tools=[RESPONSES_WEATHER], previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id,
                "output": "foggy, 9 C"}])
    assert final.status == "completed" and "foggy, 9 C" in final.output_text
    assert final.previous_response_id == first.id
    # both are stored, for this key only
    got = client(server).responses.retrieve(final.id)
    assert got.output_text == final.output_text and got.id == final.id
    assert client(server).responses.retrieve(first.id).output[0].type == "function_call"
    other = openai.OpenAI(base_url=server.base_url + "/v1", api_key=KEY_B, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(final.id)
    with pytest.raises(openai.NotFoundError) as e:
        client(server).responses.retrieve("resp_" + "0" * 32)
    assert e.value.body["code"] == "input.unknown_response"


def test_responses_unknown_previous_response_is_404(server):
    with pytest.raises(openai.NotFoundError):
        client(server).responses.create(model="mmagent", input="Please echo fig",
                                        previous_response_id="resp_nope")


def test_responses_text_format_json_schema(server):
    class Echo(BaseModel):
        said: str
        count: int

    resp = client(server).responses.parse(model="mmagent", input="Please echo lime",
                                          text_format=Echo)
    assert isinstance(resp.output_parsed, Echo) and "lime" in resp.output_parsed.said
    assert client(server).responses.retrieve(resp.id).output_text == resp.output_text


def test_streamed_function_call_round_trip(server):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="mmagent", base_url=server.base_url + "/v1", api_key=KEY_A,
                     max_retries=0, streaming=True).bind_tools([WEATHER])
    history = [HumanMessage("What is the weather in Paris?")]
    ai = llm.invoke(history)  # assembled from the stream's chunks
    (call,) = ai.tool_calls
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
    history += [ai, ToolMessage("hail, 3 C", tool_call_id=call["id"])]
    chunks = list(llm.stream(history))
    assert "hail, 3 C" in "".join(c.content for c in chunks)
