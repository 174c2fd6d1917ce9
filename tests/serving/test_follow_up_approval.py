"""Approval by a follow-up request on the same conversation, with the official ``openai``
client unchanged: chat completions (the paused assistant message, then "approve") and the
Responses API (``previous_response_id`` of the paused response and the input "approve", or
the paused answer replayed); the run resumes once, as a runs API run, and the answer is the
finished run's, with the outputs of the steps before the pause; another key cannot answer it;
"reject" cancels it."""

import openai
import pytest

from mmagent import Agent, Config
from mmagent import Client as RunsClient
from mmagent.serving.server import ServerThread, build_app
from tests.serving.conftest import KEY_A, KEY_B, png_data_url
from tests.serving.helpers import PlanByInputs, readme_example, serving_registry

ASK = "Describe it and say it aloud"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("follow")
    cfg = Config.from_dict({"cache_dir": str(root / "cache"),
                            "executor": {"cache": False, "approval": {"tools": ["fake_speak"]}},
                            "serving": {"api_keys": [KEY_A, KEY_B]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanByInputs())
    with ServerThread(build_app(agent=agent)) as srv:
        yield srv
        srv.server.config.app.state.runs.join(timeout=10)


def _openai(server, key=KEY_A) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=key, timeout=60)


def _run_id(answer: str) -> str:
    return answer.split("(run ", 1)[1].split(")")[0]


def _started(server, run_id) -> list[str]:
    with RunsClient(server.base_url, KEY_A) as c:
        return [e.task_id for _, e in c.runs.events(run_id) if e.type == "task_started"]


def _chat_ask(client):
    messages = [{"role": "user", "content": [
        {"type": "text", "text": ASK},
        {"type": "image_url", "image_url": {"url": png_data_url(30, 20)}}]}]
    paused = client.chat.completions.create(model="mmagent", messages=messages)
    return messages + [{"role": "assistant", "content": paused.choices[0].message.content}]


def test_chat_approve_by_replying_in_the_conversation(server):
    client = _openai(server)
    history = _chat_ask(client)
    paused = history[-1]["content"]
    assert "waits for approval" in paused and 'reply "approve"' in paused
    run_id = _run_id(paused)

    stolen = _openai(server, KEY_B)  # another key's run reads as unknown
    with pytest.raises(openai.NotFoundError):
        stolen.chat.completions.create(model="mmagent", messages=history + [
            {"role": "user", "content": "approve"}])

    done = client.chat.completions.create(model="mmagent", messages=history + [
        {"role": "user", "content": "approve"}])
    extras = done.model_extra["mmagent"]
    assert done.choices[0].finish_reason == "stop"
    assert "waits for approval" not in done.choices[0].message.content
    assert extras["outputs"]["t1"]["text"] == "a 30x20 picture"  # before the pause too
    assert extras["outputs"]["t2"]["audio"]["kind"] == "audio"
    assert "/v1/artifacts/" in done.choices[0].message.content

    again = client.chat.completions.create(model="mmagent", messages=history + [
        {"role": "user", "content": "Yes."}])  # a retry resumes nothing
    assert again.model_extra["mmagent"]["outputs"] == extras["outputs"]
    assert _started(server, run_id) == ["t2"]
    with RunsClient(server.base_url, KEY_A) as c:
        assert c.runs.get(run_id).status == "completed"


def test_chat_reject_cancels_and_streams(server):
    client = _openai(server)
    history = _chat_ask(client)
    run_id = _run_id(history[-1]["content"])
    stream = client.chat.completions.create(model="mmagent", stream=True, messages=history + [
        {"role": "user", "content": "reject"}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith(f"Cancelled: run {run_id} was not approved")
    with RunsClient(server.base_url, KEY_A) as c:
        run = c.runs.get(run_id)
    assert run.status == "cancelled" and "t2" not in run.outputs


def test_responses_approve_with_previous_response_id(server):
    client = _openai(server)
    paused = client.responses.create(model="mmagent", input=[{"role": "user", "content": [
        {"type": "input_text", "text": ASK},
        {"type": "input_image", "image_url": png_data_url(30, 20)}]}])
    assert 'reply "approve"' in paused.output_text
    run_id = _run_id(paused.output_text)

    with pytest.raises(openai.NotFoundError):  # another key cannot see the paused response
        _openai(server, KEY_B).responses.create(model="mmagent", input="approve",
                                                previous_response_id=paused.id)

    done = client.responses.create(model="mmagent", input="approve",
                                   previous_response_id=paused.id)
    assert done.status == "completed" and "waits for approval" not in done.output_text
    outputs = done.model_extra["mmagent"]["outputs"]
    assert outputs["t1"]["text"] == "a 30x20 picture"
    assert outputs["t2"]["audio"]["kind"] == "audio"
    assert _started(server, run_id) == ["t2"]


def test_responses_reject_with_the_paused_answer_replayed(server):
    client = _openai(server)
    paused = client.responses.create(model="mmagent", input=[{"role": "user", "content": [
        {"type": "input_text", "text": ASK},
        {"type": "input_image", "image_url": png_data_url(30, 20)}]}], store=False)
    run_id = _run_id(paused.output_text)
    stream = client.responses.create(model="mmagent", stream=True, input=[
        {"role": "assistant", "content": paused.output_text},
        {"role": "user", "content": "no"}])
    final = [e for e in stream if e.type == "response.completed"][0].response
    assert final.output_text.startswith(f"Cancelled: run {run_id} was not approved")
    with RunsClient(server.base_url, KEY_A) as c:
        assert c.runs.get(run_id).status == "cancelled"


@pytest.fixture
def asking_server(tmp_path):
    """Every plain prompt pauses: its one step (``fake_sleep``) needs approval."""
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "executor": {"cache": False, "approval": {"tools": ["fake_sleep"]}},
                            "serving": {"api_keys": [KEY_A]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanByInputs())
    with ServerThread(build_app(agent=agent)) as srv:
        yield srv
        srv.server.config.app.state.runs.join(timeout=10)


def test_readme_follow_up_example(asking_server):
    out = readme_example("tests/serving/test_follow_up_approval.py::"
                         "test_readme_follow_up_example", asking_server, KEY_A).splitlines()
    assert out[0].startswith("Paused: t1 (fake_sleep) waits for approval")
    assert out[1].endswith("fox") and out[2].endswith("fox")  # the approved step's answer
