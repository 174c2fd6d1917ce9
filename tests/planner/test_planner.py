import json

import httpx
import pytest

from mmagent.artifacts import ImageRef
from mmagent.errors import PlanningError
from mmagent.planner import Completion, Planner
from mmagent.planner._openai import OpenAIChatBackend
from mmagent.planner._schema import plan_schema
from tests.fakes import fake_registry

IMAGE = ImageRef(id="a" * 64, mime="image/png", width=8, height=8)
GOOD = {"tasks": [{"id": "t1", "tool": "fake_caption", "args": {"image": "$input.image0"}},
                  {"id": "t2", "tool": "fake_speak", "args": {"text": "$t1.text"}}]}


class Scripted:
    """A chat backend that replays fixed plans and records what it was sent.

    The planner's first constrained call asks only what to deliver; it gets ``deliver``.
    """

    def __init__(self, *answers, deliver=("text",)):
        self.answers = list(answers)
        self.deliver = list(deliver)
        self.calls = []
        self.deliver_calls = []

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        if json_schema is not None and "tasks" not in json_schema["properties"]:
            self.deliver_calls.append(json_schema)
            return Completion(json.dumps({"deliver": self.deliver}), 10, 3)
        self.calls.append({"messages": messages, "schema": json_schema})
        return Completion(self.answers.pop(0), prompt_tokens=10, completion_tokens=5)


def test_valid_plan_first_time():
    backend = Scripted(json.dumps(GOOD))
    res = Planner(backend, fake_registry(), deliver_first=True).plan("describe and speak",
                                                                     {"image0": IMAGE})
    assert [t.tool for t in res.plan.tasks] == ["fake_caption", "fake_speak"]
    assert res.attempts == 1 and res.llm_calls == 2  # what to deliver, then the plan
    assert res.prompt_tokens == 20 and res.completion_tokens == 8
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
    # A literal cannot pass for a reference and is bounded (min 1 from the tool's Input).
    assert speak2["anyOf"][1] == {"type": "string", "pattern": r"^[^$][\s\S]{0,199}$"}
    assert variant(0, "fake_speak")["properties"]["args"]["properties"]["text"]["type"] == "string"


def test_delivering_audio_forces_a_plan_ending_in_an_audio_producer():
    backend = Scripted(json.dumps({"deliver": ["text", "audio"], **GOOD}),
                       deliver=["text", "audio"])
    Planner(backend, fake_registry(), deliver_first=True).plan("describe and speak",
                                                               {"image0": IMAGE})
    deliver_enum = backend.deliver_calls[0]["properties"]["deliver"]["items"]["enum"]
    assert deliver_enum == ["text", "audio"]  # no registered tool makes images or video
    schema = backend.calls[0]["schema"]
    assert schema["properties"]["deliver"] == {"const": ["text", "audio"]}
    for alternative in schema["properties"]["tasks"]["anyOf"]:
        last = alternative["prefixItems"][-1]
        tools = {v["properties"]["tool"]["const"] for v in last.get("anyOf", [last])}
        assert tools == {"fake_speak"}, "the last task must produce the audio"


def test_plan_that_does_not_deliver_what_it_promised_is_repaired():
    short = {"deliver": ["text", "audio"], "tasks": GOOD["tasks"][:1]}
    backend = Scripted(json.dumps(short), json.dumps(GOOD), deliver=["text", "audio"])
    res = Planner(backend, fake_registry(), constrained=False).plan("x", {"image0": IMAGE})
    assert res.attempts == 2
    assert "no task produces audio" in backend.calls[1]["messages"][-1]["content"]
    assert "fake_speak" in backend.calls[1]["messages"][-1]["content"]


def test_plan_ignoring_the_users_input_is_repaired():
    ignores = {"tasks": [{"id": "t1", "tool": "fake_speak", "args": {"text": "hi"}}]}
    backend = Scripted(json.dumps(ignores), json.dumps(GOOD))
    res = Planner(backend, fake_registry()).plan("x", {"image0": IMAGE})
    assert res.attempts == 2
    assert "$input.image0 is not used" in backend.calls[1]["messages"][-1]["content"]


def test_inputs_first_restricts_the_first_task_to_input_consumers():
    schema = plan_schema(fake_registry(), {"image0": "image"}, max_tasks=2, inputs_first=True)
    first = schema["properties"]["tasks"]["prefixItems"][0]
    assert first["properties"]["tool"]["const"] == "fake_caption"


def test_schema_can_offer_only_required_arguments():
    schema = plan_schema(fake_registry(), {}, max_tasks=1, optional_args=False)
    sleep = [v for v in schema["properties"]["tasks"]["prefixItems"][0]["anyOf"]
             if v["properties"]["tool"]["const"] == "fake_sleep"][0]
    assert list(sleep["properties"]["args"]["properties"]) == ["label"]


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
