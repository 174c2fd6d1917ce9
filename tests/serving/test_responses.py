"""``POST /v1/responses`` through the official ``openai`` package's ``responses.create``, plain
and streaming, against a real uvicorn server."""

import base64
from pathlib import Path

import httpx
import openai
import pytest

from tests.serving.conftest import KEY_A, png_data_url, wav_bytes


def client(server, key=KEY_A) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=key, max_retries=0)


def test_text_input(server):
    resp = client(server).responses.create(model="mmagent", input="Please echo mango")
    assert resp.object == "response" and resp.status == "completed"
    assert "mango" in resp.output_text
    assert resp.output[0].type == "message" and resp.output[0].role == "assistant"
    # the raw JSON passes the openai package's own (validating) model of a response
    raw = httpx.post(server.base_url + "/v1/responses", json={"input": "Please echo kiwi"},
                     headers={"Authorization": f"Bearer {KEY_A}"}).json()
    strict = openai.types.responses.Response.model_validate(raw)
    assert "kiwi" in strict.output_text
    assert list(raw)[:4] == ["id", "object", "created_at", "status"]


def test_image_in_text_and_artifact_links_out(server):
    resp = client(server).responses.create(model="mmagent", input=[{
        "role": "user", "content": [
            {"type": "input_text", "text": "Describe it and say it aloud"},
            {"type": "input_image", "image_url": png_data_url(32, 24)}]}])
    assert resp.status == "completed"
    text = resp.output_text
    assert "a 32x24 picture" in text
    (art,) = resp.mmagent["artifacts"]
    link = f"{server.base_url}/v1/artifacts/{art['id']}"
    (cite,) = resp.output[0].content[0].annotations
    assert cite.type == "url_citation" and cite.url == link
    assert text[cite.start_index:cite.end_index] == link
    got = httpx.get(link, headers={"Authorization": f"Bearer {KEY_A}"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("audio/")


def test_audio_and_uploaded_file_inputs(server):
    audio = base64.b64encode(wav_bytes(0.5)).decode()
    resp = client(server).responses.create(model="mmagent", input=[{
        "role": "user", "content": [
            {"type": "input_text", "text": "What did you hear?"},
            {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}}]}])
    assert "heard 0.5 seconds" in resp.output_text

    uploaded = client(server).files.create(file=("clip.wav", wav_bytes(1.0), "audio/wav"),
                                           purpose="user_data")
    resp = client(server).responses.create(model="mmagent", input=[{
        "role": "user", "content": [
            {"type": "input_text", "text": "What did you hear?"},
            {"type": "input_file", "file_id": uploaded.id}]}])
    assert "heard 1.0 seconds" in resp.output_text


def test_streaming_events(server):
    stream = client(server).responses.create(model="mmagent", stream=True, input=[{
        "role": "user", "content": [
            {"type": "input_text", "text": "Describe it and say it aloud"},
            {"type": "input_image", "image_url": png_data_url(20, 16)}]}])
    events = list(stream)
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    openai_types = [t for t in types if t != "mmagent.event"]
    assert openai_types == ["response.created", "response.in_progress",
                            "response.output_item.added", "response.content_part.added",
                            "response.output_text.delta", "response.output_text.done",
                            "response.content_part.done", "response.output_item.done",
                            "response.completed"]
    agent_events = [e.event["type"] for e in events if e.type == "mmagent.event"]
    assert agent_events[:2] == ["route", "plan"] and "artifact" in agent_events
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "a 20x16 picture" in text and "/v1/artifacts/" in text
    assert events[-1].response.output_text == text


def test_workflow_model(server):
    resp = client(server).responses.create(model="workflow:describe_fake", input=[{
        "role": "user", "content": [{"type": "input_image", "image_url": png_data_url(8, 8)}]}])
    assert "a 8x8 picture" in resp.output_text


def test_failed_task_is_not_reported_completed(server):
    resp = client(server).responses.create(model="mmagent", input="Please fail")
    assert resp.status == "failed" and resp.error.code == "tool.failed"
    events = list(client(server).responses.create(model="mmagent", input="Please fail",
                                                  stream=True))
    assert events[-1].type == "response.failed"


def test_bad_requests_get_openai_errors(server):
    with pytest.raises(openai.AuthenticationError):
        client(server, key="nope").responses.create(model="mmagent", input="hi")
    with pytest.raises(openai.NotFoundError) as info:
        client(server).responses.create(model="gpt-9", input="hi")
    assert "mmagent" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        client(server).responses.create(model="mmagent", input=[{
            "role": "user", "content": [{"type": "input_image", "image_url": "ftp://x/y.png"}]}])
    assert "ftp://x/y.png" in info.value.message
    with pytest.raises(openai.UnprocessableEntityError):
        client(server).responses.create(model="mmagent", input=[{
            "role": "user", "content": [{"type": "input_video", "video_url": "x"}]}])
    assert client(server).responses.create(model="mmagent", input="Please echo ok").status == \
        "completed"


def test_readme_responses_example(server):
    """The README's Responses example, pointed at the test server."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    marker = "<!-- run by tests/serving/test_responses.py::test_readme_responses_example -->"
    code = readme.split(marker, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("http://127.0.0.1:8000", server.base_url).replace("sk-local-1", KEY_A)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "picture" in proc.stdout and "/v1/artifacts/" in proc.stdout
    assert "response.completed" in proc.stdout


def test_stream_events_pass_openais_own_event_models(server):
    import json

    from pydantic import TypeAdapter

    body = {"model": "mmagent", "stream": True, "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "Describe it"},
        {"type": "input_image", "image_url": png_data_url(10, 10)}]}]}
    with httpx.stream("POST", server.base_url + "/v1/responses", json=body,
                      headers={"Authorization": f"Bearer {KEY_A}"}) as resp:
        datas = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: ")]
    adapter = TypeAdapter(openai.types.responses.ResponseStreamEvent)
    checked = [adapter.validate_python(d).type for d in datas if d["type"] != "mmagent.event"]
    assert checked[0] == "response.created" and checked[-1] == "response.completed"
    assert len(checked) == 9
