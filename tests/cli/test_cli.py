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


def _planning_server(plan):
    """An OpenAI-compatible chat server on 127.0.0.1 whose model always answers ``plan``."""

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


@pytest.fixture
def bad_planner_server():
    """An OpenAI-compatible server whose model always plans an unknown tool."""
    plan = {"tasks": [{"id": "t1", "tool": "paint_masterpiece", "args": {}}]}
    yield from _planning_server(plan)


def test_unrepairable_plan_is_one_line_exit_3(monkeypatch, capsys, tmp_path, bad_planner_server):
    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(f"planner:\n  backend: openai\n  model: m\n  base_url: {bad_planner_server}\n"
                   "  max_repairs: 1\nrouter:\n  mode: plan\n")
    img = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(img)
    code, _, err = cli(monkeypatch, capsys, "run", "describe", "--image", str(img),
                       "--config", str(cfg))
    assert code == 3 and err.startswith("error[planning.failed]: ")
    assert "2 attempts" in err and "paint_masterpiece" in err and err.count("\n") == 1


# --- workflows ------------------------------------------------------------------------------


def test_workflow_validate_ok_and_bad(monkeypatch, capsys, tmp_path):
    code, out, _ = cli(monkeypatch, capsys, "workflow", "validate",
                       "graphs/caption_and_speak.yaml")
    assert code == 0 and "caption_and_speak.yaml: 2 nodes" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nnodes:\n  a:\n    tool: image_caption\n    args:\n"
                   "      image: $input.photo\noutputs:\n  o: $a.text\n")
    code, _, err = cli(monkeypatch, capsys, "workflow", "validate", str(bad))
    assert code == 2
    assert err.startswith(f"error[plan.unresolved_reference]: {bad}:6: node 'a': ")


def test_workflow_run_json(monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", "caption_and_speak",
                         "--input", "image=examples/photo.png", "--input", "speak=false",
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"answer", "plan", "artifacts", "outputs", "run_id", "status"}
    assert result["status"] == "completed" and len(result["run_id"]) == 32
    assert isinstance(result["outputs"]["description"], str)
    assert result["outputs"]["speech"] is None and result["artifacts"] == []


def test_workflow_run_bad_input_is_one_line_exit_2(monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", "caption_and_speak",
                         "--input", "image=examples/photo.png", "--input", "speak=maybe")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err == ("error[input.wrong_kind]: input 'speak' of workflow 'caption_and_speak': "
                   "got 'maybe'; expected a boolean\n")


def test_workflow_run_with_a_missing_unknown_or_wrong_kind_input_says_which(monkeypatch, capsys,
                                                                         tmp_path):
    from tests.workflows.test_inputs import MISSING, UNKNOWN, audio_for_image, wav_file

    code, out, err = cli(monkeypatch, capsys, "workflow", "run", "caption_and_speak")
    assert (code, out, err) == (2, "", f"error[input.missing]: {MISSING}\n")
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", "caption_and_speak", "--input",
                         "image=examples/photo.png", "--input", "picture=examples/photo.png")
    assert (code, out, err) == (2, "", f"error[input.unknown]: {UNKNOWN}\n")
    wav = wav_file(tmp_path / "voice.wav")
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", "caption_and_speak", "--input",
                         f"image={wav}", "--json")
    assert (code, out) == (2, "")
    assert err == f"error[input.wrong_kind]: {audio_for_image(str(wav), wav.stat().st_size)}\n"


@pytest.fixture
def planner_server():
    """An OpenAI-compatible server whose model plans caption -> speech."""
    plan = {"tasks": [{"id": "t1", "tool": "image_caption", "args": {"image": "$input.image0"}},
                      {"id": "t2", "tool": "text_to_speech", "args": {"text": "$t1.text"}}]}
    yield from _planning_server(plan)


def test_run_save_plan_then_workflow_run_without_the_llm(monkeypatch, capsys, tmp_path,
                                                         planner_server):
    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(f"planner:\n  backend: openai\n  model: m\n  base_url: {planner_server}\n"
                   "  deliver_first: false\n")
    saved = tmp_path / "saved.yaml"
    code, out, err = cli(monkeypatch, capsys, "run", "Describe it and say it aloud", "--image",
                         "examples/photo.png", "--config", str(cfg), "--save-plan", str(saved))
    assert code == 0, err
    assert f"Plan saved to {saved}" in out and "--input image0=PATH" in out
    first_audio = [line for line in out.splitlines() if "audio/wav" in line]
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", str(saved), "--input",
                         "image0=examples/photo.png", "--json")  # no --config: no planner
    assert code == 0, err
    result = json.loads(out)
    assert [t["tool"] for t in result["plan"]["tasks"]] == ["image_caption", "text_to_speech"]
    assert result["outputs"]["t2_audio"]["kind"] == "audio"
    assert result["artifacts"][0]["id"] in first_audio[0]  # same speech, same artifact


def test_workflow_run_that_pauses_for_approval_exits_5_and_says_how_to_continue(
        monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(f"cache_dir: {tmp_path / 'cache'}\n"
                   "executor: {approval: {tools: [text_to_speech]}}\n")
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", "caption_and_speak",
                         "--input", "image=examples/photo.png", "--config", str(cfg))
    assert code == 5, (out, err)
    assert "waits for approval" in out and "failed" not in out
    run_id = err.split("run ", 1)[1].split()[0]
    assert f"mmagent resume {run_id} --approve" in err
    code, out, err = cli(monkeypatch, capsys, "resume", run_id, "--approve", "--config",
                         str(cfg))
    assert code == 0, (out, err)
    assert "text_to_speech finished" in out and "speech: audio" in out
