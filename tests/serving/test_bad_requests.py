"""Bad requests an outside tester sent to the embedded server: each gets the right
status and a short, clean message, and the server stays up."""

from __future__ import annotations

import base64
import struct
import zlib

import httpx

from tests.serving.conftest import KEY_A, wav_bytes

H = {"Authorization": f"Bearer {KEY_A}"}


def truncated_wav() -> bytes:
    good = wav_bytes(0.5)
    return good[: len(good) // 2]


def lying_wav() -> bytes:
    data = bytearray(wav_bytes(0.5))
    i = data.find(b"data")
    data[i + 4:i + 8] = struct.pack("<I", 0x7FFFFFFF)  # claims 2 GB of samples
    return bytes(data)


def bomb_png(side: int = 30_000) -> bytes:
    """A PNG header claiming side x side pixels (900 M), in a few dozen bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_truncated_and_lying_wavs_are_refused_at_the_door(server):
    for wav in (truncated_wav(), lying_wav()):
        upload = httpx.post(server.base_url + "/v1/files", headers=H,
                            files={"file": ("clip.wav", wav, "audio/wav")})
        assert upload.status_code == 400, upload.text
        err = upload.json()["error"]
        assert err["code"] == "input.invalid_media" and "truncated, or the header lies" in \
            err["message"]
        chat = httpx.post(server.base_url + "/v1/chat/completions", headers=H, timeout=60,
                          json={"messages": [{"role": "user", "content": [
                              {"type": "text", "text": "What is said?"},
                              {"type": "input_audio", "input_audio": {
                                  "data": base64.b64encode(wav).decode(), "format": "wav"}}]}]})
        assert chat.status_code == 400, chat.text
        assert chat.json()["error"]["code"] == "input.invalid_media"


def test_a_chunked_body_over_the_limit_is_413_not_a_parse_error(server):
    def body():  # no Content-Length: sent chunked, 6 MB against a 300 kB limit
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(6 * 64):
            yield b"x" * 16_384
        yield b'"}]}'

    r = httpx.post(server.base_url + "/v1/chat/completions", content=body(),
                   headers={**H, "content-type": "application/json"}, timeout=60)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["message"].endswith("(serving.max_body_bytes)")
    assert httpx.get(server.base_url + "/healthz").json()["status"] == "ok"


def test_a_decompression_bomb_png_gets_the_pixel_limit_413(server):
    png = bomb_png()
    assert len(png) < 200
    r = httpx.post(server.base_url + "/v1/files", headers=H,
                   files={"file": ("bomb.png", png, "image/png")})
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["code"] == "input.limit_exceeded"
    assert err["message"] == ("got an image of 900000000 pixels in bomb.png; expected at most "
                              "100000 pixels (limits.max_image_pixels)")


def test_error_messages_are_one_short_clean_line(server, tmp_path):
    bad = [
        # a workflow's inputs are wrong: the message names the file, not where it lives
        httpx.post(f"{server.base_url}/v1/workflows/describe_fake/runs", json={"inputs": {}},
                   headers=H),
        # a 5,000-character id
        httpx.get(server.base_url + "/v1/artifacts/" + "a" * 5000, headers=H),
        httpx.post(server.base_url + "/v1/chat/completions", headers=H, json={"messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {
                "url": "artifact://" + "b" * 5000}}]}]}),
        # bytes that are no image: Pillow's own message names a BytesIO object
        httpx.post(server.base_url + "/v1/files", headers=H,
                   files={"file": ("x.png", b"\x89PNG not really", "image/png")}),
        # a host the server does not fetch from: the allow-list stays private
        httpx.post(server.base_url + "/v1/chat/completions", headers=H, json={"messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {
                "url": "https://example.com/cat.png"}}]}]}),
    ]
    messages = [r.json()["error"]["message"] for r in bad]
    assert [r.status_code for r in bad] == [400, 404, 404, 400, 400], messages
    for m in messages:
        assert "\n" not in m and len(m) < 400, m
        assert "/tmp" not in m and str(tmp_path.parent) not in m and "object at 0x" not in m, m
        assert "a" * 81 not in m and "b" * 81 not in m, m
        assert "localhost" not in m, m  # the fixture's fetch_allow_hosts
    assert messages[0] == ("got no input 'image' for workflow 'describe_fake'; expected an image "
                           "(the photo)")


def test_mcp_error_results_are_scrubbed_as_http_errors_are(server):
    import asyncio

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        http = httpx2.AsyncClient(headers=H, timeout=60)
        async with http, Client(streamable_http_client(server.base_url + "/mcp",
                                                       http_client=http)) as client:
            return await client.call_tool("fake_caption", {"image": "artifact://" + "b" * 5000})

    result = asyncio.run(main())
    (text,) = [c.text for c in result.content]
    assert result.is_error and text.startswith("error[")
    assert "\n" not in text and len(text) < 400 and "b" * 81 not in text, text
