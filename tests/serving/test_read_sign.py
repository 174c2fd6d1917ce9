"""The sign read aloud over HTTP, on the offline profile's real tools (PP-OCRv4, hibari), as an
OpenAI client sends it: the answer holds the sign's words, the linked audio speaks them."""

import base64
from pathlib import Path

import httpx
import pytest

from mmagent import Agent, Config
from mmagent.serving.server import ServerThread, build_app
from tests.cli.test_read_sign import heard

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-read-sign"
AUTH = {"Authorization": f"Bearer {KEY}"}
pytest.importorskip("rapidocr_onnxruntime")
pytest.importorskip("hibari")


def test_http_chat_reads_the_sign_aloud(tmp_path):
    agent = Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                                    "serving": {"api_keys": [KEY]}}, profile="offline"))
    sign = base64.b64encode((ROOT / "examples" / "sign.png").read_bytes()).decode()
    body = {"model": "mmagent", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Read the sign in this photo aloud."},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{sign}"}}]}]}
    with ServerThread(build_app(agent=agent)) as srv:
        r = httpx.post(srv.base_url + "/v1/chat/completions", json=body, headers=AUTH, timeout=300)
        assert r.status_code == 200, r.text
        reply = r.json()
        assert [t["tool"] for t in reply["mmagent"]["plan"]["tasks"]] == ["ocr_read",
                                                                           "text_to_speech"]
        assert "Welcome to Riverside" in reply["choices"][0]["message"]["content"]
        (audio,) = [a for a in reply["mmagent"]["artifacts"] if a["kind"] == "audio"]
        wav = httpx.get(audio["url"], headers=AUTH, timeout=60)
        assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    (tmp_path / "sign.wav").write_bytes(wav.content)
    words = heard(str(tmp_path / "sign.wav")).lower()
    assert "riverside" in words and "library" in words, words
