"""The CLI as a user meets it: output shapes, exit codes, one-line errors."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from mmagent.cli import main


def cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["mmagent", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tools_json_lists_tools_with_types(monkeypatch, capsys):
    code, out, _ = cli(monkeypatch, capsys, "tools", "--json")
    assert code == 0
    cards = {c["name"]: c for c in json.loads(out)}
    assert cards["image_caption"]["inputs"]["image"]["type"] == "image"
    assert cards["image_caption"]["outputs"]["text"]["type"] == "text"
    assert cards["text_to_speech"]["outputs"]["audio"]["type"] == "audio"
    assert cards["image_caption"]["checkpoint"] == "tiny"  # the offline profile


def test_tools_table(monkeypatch, capsys):
    code, out, _ = cli(monkeypatch, capsys, "tools", "--profile", "default")
    assert code == 0 and "image_caption" in out and "Salesforce/blip" in out


def test_missing_image_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    code, out, err = cli(monkeypatch, capsys, "run", "describe", "--image",
                         str(tmp_path / "nope.png"), "--json")
    assert code == 2 and out == ""
    assert err.startswith("error[input.not_found]: ") and "nope.png" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_corrupt_image_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code, _, err = cli(monkeypatch, capsys, "run", "describe", "--image", str(bad))
    assert code == 2 and err.startswith("error[input.invalid_media]: ")
    assert err.count("\n") == 1


def test_bad_config_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text("planner:\n  backend: telepathy\n")
    code, _, err = cli(monkeypatch, capsys, "tools", "--config", str(cfg))
    assert code == 2 and err.startswith("error[config.invalid]: ") and "planner.backend" in err


@pytest.fixture
def bad_planner_server():
    """An OpenAI-compatible server whose model always plans an unknown tool."""
    plan = {"tasks": [{"id": "t1", "tool": "paint_masterpiece", "args": {}}]}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            body = json.dumps({
                "id": "x", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": json.dumps(plan)}}],
            }).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_unrepairable_plan_is_one_line_exit_3(monkeypatch, capsys, tmp_path, bad_planner_server):
    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(f"planner:\n  backend: openai\n  model: m\n  base_url: {bad_planner_server}\n"
                   "  max_repairs: 1\n")
    img = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(img)
    code, _, err = cli(monkeypatch, capsys, "run", "describe", "--image", str(img),
                       "--config", str(cfg))
    assert code == 3 and err.startswith("error[planning.failed]: ")
    assert "2 attempts" in err and "paint_masterpiece" in err and err.count("\n") == 1
