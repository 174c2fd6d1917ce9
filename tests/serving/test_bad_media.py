"""Media that is not what it should be, sent to every endpoint that takes media (uploads,
chat completions, the Responses API, the runs API, workflow runs): the error says in words what
arrived and what was expected, keeps its code and status, shows no Python object repr, and
nothing is run."""

from __future__ import annotations

import base64
import random

import httpx
import pytest

from tests.serving.conftest import KEY_A, wav_bytes

H = {"Authorization": f"Bearer {KEY_A}"}
NOISE = random.Random(22).randbytes(512)  # no format's header: no image, audio or video
WAV = wav_bytes(0.5)
IMAGES = "PNG, JPEG, WebP, GIF, BMP or TIFF"


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def no_image(source: str) -> str:
    return (f"got a file of 512 bytes ({source}) that is not a readable image ({IMAGES}); "
            "expected an image")


def chat(*parts: dict) -> dict:
    return {"path": "/v1/chat/completions", "json": {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, *parts]}]}}


def responses(*parts: dict) -> dict:
    return {"path": "/v1/responses", "json": {"model": "mmagent", "input": [{
        "role": "user", "content": [{"type": "input_text", "text": "What is this?"}, *parts]}]}}


def upload(name: str, data: bytes, mime: str) -> dict:
    return {"path": "/v1/files", "files": {"file": (name, data, mime)}}


NOT_READABLE = {
    "upload declared an image": (upload("noise.png", NOISE, "image/png"), no_image("noise.png")),
    "upload of no declared type": (
        upload("noise.bin", NOISE, "application/octet-stream"),
        "got a file of 512 bytes (noise.bin) that is not a readable image, audio file or video; "
        f"expected media ({IMAGES}; WAV, FLAC, OGG or MP3; MP4, WebM, GIF or AVI)"),
    "chat image_url": (chat({"type": "image_url", "image_url": {
        "url": data_url("image/png", NOISE)}}), no_image("a data URL")),
    "chat input_audio": (
        chat({"type": "input_audio", "input_audio": {
            "data": base64.b64encode(NOISE).decode(), "format": "wav"}}),
        "got a file of 512 bytes (an input_audio part) that is not a readable audio file (WAV, "
        "FLAC, OGG or MP3); expected an audio file"),
    "chat video_url": (
        chat({"type": "video_url", "video_url": {"url": data_url("video/mp4", NOISE)}}),
        "got a file of 512 bytes (a data URL) that is not a readable video (MP4, WebM, GIF or "
        "AVI); expected a video"),
    "responses input_image": (responses({"type": "input_image",
                                         "image_url": data_url("image/png", NOISE)}),
                              no_image("a data URL")),
    "responses input_file": (responses({"type": "input_file", "filename": "scan.png",
                                        "file_data": data_url("image/png", NOISE)}),
                             no_image("scan.png")),
    "runs API prompt image": ({"path": "/v1/runs", "json": {
        "prompt": "What is this?", "images": [data_url("image/png", NOISE)]}},
        no_image("a data URL")),
    "runs API workflow input": ({"path": "/v1/runs", "json": {
        "workflow": "describe_fake", "inputs": {"image": data_url("image/png", NOISE)}}},
        "input 'image' of workflow 'describe_fake': " + no_image("a data URL")),
    "workflow run": ({"path": "/v1/workflows/describe_fake/runs", "json": {
        "inputs": {"image": data_url("image/png", NOISE)}}},
        "input 'image' of workflow 'describe_fake': " + no_image("a data URL")),
}

OTHER_KIND = {
    "upload of a WAV declared an image": (
        upload("voice.png", WAV, "image/png"),
        f"got a WAV audio file of {len(WAV)} bytes (voice.png); expected an image ({IMAGES})"),
    "chat image_url holding a WAV": (
        chat({"type": "image_url", "image_url": {"url": data_url("image/png", WAV)}}),
        f"got a WAV audio file of {len(WAV)} bytes (a data URL); expected an image ({IMAGES})"),
}


def run_ids(server) -> set[str]:
    listed = httpx.get(server.base_url + "/v1/runs", headers=H, timeout=30)
    assert listed.status_code == 200, listed.text
    return {r["id"] for r in listed.json()["data"]}


def send(server, request: dict) -> httpx.Response:
    request = dict(request)
    return httpx.post(server.base_url + request.pop("path"), headers=H, timeout=60, **request)


@pytest.mark.parametrize("request_, message", NOT_READABLE.values(), ids=NOT_READABLE)
def test_bytes_that_are_no_media_are_refused_in_words(server, request_, message):
    before = run_ids(server)
    r = send(server, request_)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert (err["code"], err["type"]) == ("input.invalid_media", "invalid_request_error")
    assert err["message"] == message
    assert "<" not in err["message"] and "BytesIO" not in err["message"]
    assert run_ids(server) == before


@pytest.mark.parametrize("request_, message", OTHER_KIND.values(), ids=OTHER_KIND)
def test_media_of_another_kind_is_named_for_what_it_is(server, request_, message):
    r = send(server, request_)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "input.wrong_kind"
    assert r.json()["error"]["message"] == message


def test_a_damaged_image_says_what_it_is_and_why_it_does_not_decode(server):
    from tests.serving.conftest import png_data_url

    png = base64.b64decode(png_data_url(64, 48).split(",", 1)[1])
    cut = png[: len(png) // 2]
    r = send(server, upload("cut.png", cut, "image/png"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "input.invalid_media"
    assert r.json()["error"]["message"] == (
        f"got a PNG image of {len(cut)} bytes (cut.png) that does not decode (image file is "
        f"truncated); expected a complete image ({IMAGES})")
