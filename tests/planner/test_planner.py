import json

import httpx
import pytest

from mmagent.artifacts import ImageRef
from mmagent.errors import PlanningError
from mmagent.planner.backends import Completion
from mmagent.planner.openai_backend import OpenAIChatBackend
from mmagent.planner.planner import Planner
from mmagent.planner.schema import plan_schema
from tests.fakes import fake_registry

IMAGE = ImageRef(id="a" * 64, mime="image/png", width=8, height=8)
GOOD = {"tasks": [{"id": "t1", "tool": "fake_caption", "args": {"image": "$input.image0"}},
                  {"id": "t2", "tool": "fake_speak", "args": {"text": "$t1.text"}}]}


class Scripted:
    """A chat backend that replays fixed answers and records what it was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        self.calls.append({"messages": messages, "schema": json_schema})
        return Completion(self.answers.pop(0), prompt_tokens=10, completion_tokens=5)


def test_valid_plan_first_time():
    backend = Scripted(json.dumps(GOOD))
    res = Planner(backend, fake_registry()).plan("describe and speak", {"image0": IMAGE})
    assert [t.tool for t in res.plan.tasks] == ["fake_caption", "fake_speak"]
    assert res.attempts == 1 and res.prompt_tokens == 10
    prompt = json.dumps(backend.calls[0]["messages"])
    assert "fake_caption" in prompt and "$input.image0 (image, image/png, 8x8)" in prompt


def test_validator_errors_go_back_to_the_llm_and_the_repair_is_used():
    bad = {"tasks": [{"id": "t1", "tool": "fake_painter", "args": {"image": "$input.image0"}}]}
    backend = Scripted(json.dumps(bad), "not json at all", json.dumps(GOOD))
    res = Planner(backend, fake_registry(), max_repairs=2).plan("x", {"image0": IMAGE})
    assert res.attempts == 3 and res.plan.tasks[1].tool == "fake_speak"
    repair = backend.calls[1]["messages"][-1]["content"]
    assert "got tool 'fake_painter'" in repair
    assert backend.calls[1]["messages"][-2] == {"role": "assistant", "content": json.dumps(bad)}
    assert "not valid JSON" in backend.calls[2]["messages"][-1]["content"]


def test_unrepairable_output_is_a_typed_planning_error():
    bad = json.dumps({"tasks": [{"id": "t1", "tool": "fake_caption",
                                 "args": {"image": "$input.audio0"}}]})
    backend = Scripted(bad, bad)
    with pytest.raises(PlanningError) as e:
        Planner(backend, fake_registry(), max_repairs=1).plan("x", {"image0": IMAGE})
    assert e.value.code == "planning.failed" and e.value.details["attempts"] == 2
    assert "$input.audio0" in str(e.value)


def test_schema_allows_only_earlier_outputs_of_the_right_type():
    schema = plan_schema(fake_registry(), {"image0": "image"}, max_tasks=3)
    positions = schema["properties"]["tasks"]["prefixItems"]
    assert schema["properties"]["tasks"]["items"] is False

    def variant(k, tool):
        for v in positions[k].get("anyOf", [positions[k]]):
            if v["properties"]["tool"]["const"] == tool:
                return v

    first_caption = variant(0, "fake_caption")
    assert first_caption["properties"]["id"] == {"const": "t1"}
    assert first_caption["properties"]["args"]["properties"]["image"] == {
        "enum": ["$input.image0"]}
    # Text fields: a literal, or the text outputs of earlier tasks only.
    speak2 = variant(1, "fake_speak")["properties"]["args"]["properties"]["text"]
    assert speak2["anyOf"][0] == {"enum": ["$t1.text"]}
    assert speak2["anyOf"][1]["type"] == "string" and speak2["anyOf"][1]["minLength"] == 1
    assert variant(0, "fake_speak")["properties"]["args"]["properties"]["text"]["type"] == "string"


def test_schema_leaves_out_tools_whose_inputs_cannot_exist_yet():
    schema = plan_schema(fake_registry(), {}, max_tasks=2)
    first = schema["properties"]["tasks"]["prefixItems"][0]
    tools = {v["properties"]["tool"]["const"] for v in first["anyOf"]}
    assert "fake_caption" not in tools and "fake_speak" in tools


def test_openai_compatible_endpoint_gets_the_schema_and_its_answer_is_planned():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.update(body, path=request.url.path, auth=request.headers["authorization"])
        return httpx.Response(200, json={
            "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "```json\n" + json.dumps(GOOD) + "\n```"}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}})

    backend = OpenAIChatBackend("planner-model", base_url="http://127.0.0.1:9/v1",
                                api_key="k-123",
                                http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    res = Planner(backend, fake_registry()).plan("describe and speak", {"image0": IMAGE})
    assert res.plan.tasks[0].tool == "fake_caption" and res.completion_tokens == 20
    assert seen["path"] == "/v1/chat/completions" and seen["auth"] == "Bearer k-123"
    assert seen["model"] == "planner-model" and seen["temperature"] == 0
    assert seen["response_format"]["type"] == "json_schema"
    assert "prefixItems" in json.dumps(seen["response_format"]["json_schema"]["schema"])


def test_openai_endpoint_failure_is_a_planning_error():
    def handler(request):
        return httpx.Response(500, json={"error": {"message": "boom"}})

    backend = OpenAIChatBackend("m", base_url="http://127.0.0.1:9/v1", max_retries=0,
                                http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(PlanningError, match="planner endpoint failed"):
        Planner(backend, fake_registry()).plan("x", {"image0": IMAGE})
