"""The embedded server through the official ``openai`` package (and raw HTTP where OpenAI's
client has no call for it)."""

import base64
import io
import json

import httpx
import openai
import pytest
import soundfile as sf

from tests.serving.conftest import KEY_A, KEY_B, png_data_url, wav_bytes


def client(server, key=KEY_A) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=key, max_retries=0)


def test_text_only(server):
    resp = client(server).chat.completions.create(
        model="mmagent", messages=[{"role": "user", "content": "Please echo banana"}])
    assert "banana" in resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"


def test_image_part_answers_with_artifact_links_and_audio(server):
    resp = client(server).chat.completions.create(
        model="mmagent", modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "wav"},
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "Describe it and say it aloud"},
            {"type": "image_url", "image_url": {"url": png_data_url()}}]}])
    message = resp.choices[0].message
    assert "a 32x24 picture" in message.content
    (art,) = resp.mmagent["artifacts"]
    link = f"{server.base_url}/v1/artifacts/{art['id']}"
    assert link in message.content and "saved at" not in message.content
    wav = base64.b64decode(message.audio.data)
    assert sf.info(io.BytesIO(wav)).samplerate == 16000
    got = httpx.get(link, headers={"Authorization": f"Bearer {KEY_A}"})
    assert got.status_code == 200 and got.content == wav


def test_audio_part(server):
    audio = base64.b64encode(wav_bytes(0.5)).decode()
    resp = client(server).chat.completions.create(
        model="mmagent", messages=[{"role": "user", "content": [
            {"type": "text", "text": "What did you hear?"},
            {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}}]}])
    assert "heard 0.5 seconds" in resp.choices[0].message.content


def test_streaming_text_and_plan_events(server):
    stream = client(server).chat.completions.create(
        model="mmagent", stream=True, messages=[{"role": "user", "content": [
            {"type": "text", "text": "Describe it and say it aloud"},
            {"type": "image_url", "image_url": {"url": png_data_url()}}]}])
    # a plain OpenAI client loop: event-carrying chunks have no choices, so they add nothing
    text = "".join(choice.delta.content or "" for chunk in stream for choice in chunk.choices)
    assert "a 32x24 picture" in text and "/v1/artifacts/" in text

    body = {"model": "mmagent", "stream": True,
            "messages": [{"role": "user", "content": "Please echo kiwi"}]}
    with httpx.stream("POST", server.base_url + "/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {KEY_A}"}) as resp:
        lines = list(resp.iter_lines())
    events = [json.loads(lines[i + 1].removeprefix("data: "))["mmagent_event"]["type"]
              for i, line in enumerate(lines) if line == "event: mmagent"]
    assert events[:2] == ["route", "plan"] and "task_started" in events
    assert events[-1] == "answer"
    assert [line for line in lines if line.startswith("data:")][-1] == "data: [DONE]"


def test_workflow_model(server):
    models = [m.id for m in client(server).models.list()]
    assert "mmagent" in models and "workflow:describe_fake" in models
    assert "workflow:caption_and_speak" in models  # the shipped graphs too
    resp = client(server).chat.completions.create(
        model="workflow:describe_fake", messages=[{"role": "user", "content": [
            {"type": "text", "text": "Describe it"},
            {"type": "image_url", "image_url": {"url": png_data_url()}}]}])
    content = resp.choices[0].message.content
    assert "a 32x24 picture" in content and "/v1/artifacts/" in content
    assert [t["tool"] for t in resp.mmagent["plan"]["tasks"]] == ["fake_caption", "fake_speak"]


def test_models_lists_the_agent(server):
    assert "mmagent" in [m.id for m in client(server).models.list()]


def test_wrong_or_missing_key_is_401(server):
    with pytest.raises(openai.AuthenticationError) as e:
        client(server, key="sk-wrong").chat.completions.create(
            model="mmagent", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401 and e.value.code == "auth.invalid_key"
    assert httpx.get(server.base_url + "/v1/models").status_code == 401


def test_oversized_body_is_413(server):
    big = "data:image/png;base64," + "A" * 400_000
    with pytest.raises(openai.APIStatusError) as e:
        client(server).chat.completions.create(model="mmagent", messages=[
            {"role": "user", "content": [{"type": "text", "text": "x"},
                                         {"type": "image_url", "image_url": {"url": big}}]}])
    assert e.value.status_code == 413


def test_too_many_pixels_is_413(server):
    with pytest.raises(openai.APIStatusError) as e:
        client(server).chat.completions.create(model="mmagent", messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "x"},
                {"type": "image_url", "image_url": {"url": png_data_url(400, 300)}}]}])
    assert e.value.status_code == 413 and "max_image_pixels" in e.value.message


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/healthz", "http://localhost:1/x.png",
                                 "http://[::1]/x.png", "http://169.254.169.254/latest"])
def test_image_url_to_a_local_address_is_refused(server, url):
    url = url.format(port=server.port)
    with pytest.raises(openai.BadRequestError) as e:
        client(server).chat.completions.create(model="mmagent", messages=[
            {"role": "user", "content": [{"type": "text", "text": "x"},
                                         {"type": "image_url", "image_url": {"url": url}}]}])
    assert e.value.code == "input.url_refused"


def test_artifacts_are_readable_only_with_the_key_that_made_them(server):
    a, b = client(server, KEY_A), client(server, KEY_B)
    upload = a.files.create(file=("photo.png", base64.b64decode(png_data_url().split(",")[1])),
                            purpose="user_data")
    link = f"{server.base_url}/v1/artifacts/{upload.id}"
    assert httpx.get(link, headers={"Authorization": f"Bearer {KEY_A}"}).status_code == 200
    assert httpx.get(link, headers={"Authorization": f"Bearer {KEY_B}"}).status_code == 404
    message = {"role": "user", "content": [
        {"type": "text", "text": "Describe it"},
        {"type": "image_url", "image_url": {"url": f"artifact://{upload.id}"}}]}
    assert "a 32x24 picture" in a.chat.completions.create(
        model="mmagent", messages=[message]).choices[0].message.content
    with pytest.raises(openai.NotFoundError):
        b.chat.completions.create(model="mmagent", messages=[message])


def test_bad_requests_do_not_take_the_server_down(server):
    h = {"Authorization": f"Bearer {KEY_A}"}
    url = server.base_url + "/v1/chat/completions"
    bad = [
        httpx.post(url, content=b"{not json", headers={**h, "content-type": "application/json"}),
        httpx.post(url, json={"model": "mmagent", "messages": []}, headers=h),
        httpx.post(url, json={"model": "nope", "messages": [{"role": "user", "content": "x"}]},
                   headers=h),
        httpx.post(url, json={"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}]}]},
            headers=h),
        httpx.post(url, json={"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "%%%"}}]}]}, headers=h),
        httpx.post(url, json={"messages": [{"role": "user", "content": "   "}]}, headers=h),
        httpx.post(server.base_url + "/v1/files", files={"file": ("x.txt", b"hello")}, headers=h),
        httpx.get(server.base_url + "/v1/artifacts/../../etc/passwd", headers=h),
    ]
    assert [r.status_code for r in bad] == [422, 422, 404, 400, 400, 400, 400, 404]
    assert all("message" in r.json()["error"] for r in bad)
    assert httpx.get(server.base_url + "/healthz").json()["status"] == "ok"
    resp = client(server).chat.completions.create(
        model="mmagent", messages=[{"role": "user", "content": "Please echo still-alive"}])
    assert "still-alive" in resp.choices[0].message.content


def test_a_failing_task_is_reported_not_fatal(server):
    resp = client(server).chat.completions.create(
        model="mmagent", messages=[{"role": "user", "content": "Please fail"}])
    assert "fake model crashed" in resp.choices[0].message.content
    assert resp.mmagent["failures"]


def test_metrics_count_requests_and_tool_calls(server):
    client(server).chat.completions.create(
        model="mmagent", messages=[{"role": "user", "content": "Please echo metric"}])
    text = httpx.get(server.base_url + "/metrics").text
    assert 'mmagent_tool_calls_total{tool="fake_sleep"}' in text
    assert 'route="/v1/chat/completions"' in text and "mmagent_http_request_seconds" in text


def test_workflow_run_endpoint(server):
    h = {"Authorization": f"Bearer {KEY_A}"}
    r = httpx.post(f"{server.base_url}/v1/workflows/describe_fake/runs",
                   json={"inputs": {"image": png_data_url(12, 10)}}, headers=h, timeout=60)
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["workflow"] == "describe_fake" and "a 12x10 picture" in run["answer"]
    (speech,) = run["artifacts"]
    assert httpx.get(speech["url"], headers=h).status_code == 200
    missing = httpx.post(f"{server.base_url}/v1/workflows/nope/runs", json={}, headers=h)
    assert missing.status_code == 404
    bad = httpx.post(f"{server.base_url}/v1/workflows/describe_fake/runs", json={"inputs": {}},
                     headers=h)
    assert bad.status_code == 400 and bad.json()["error"]["code"].startswith("input")
