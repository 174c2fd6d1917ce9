"""A request whose every step runs real weights, through the CLI: read the shipped sign aloud
(ocr_read on PP-OCRv4, then text_to_speech with hibari), and hear it back with whisper."""

import json
import sys
from pathlib import Path

import pytest

from mmagent.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("rapidocr_onnxruntime")
pytest.importorskip("hibari")


def heard(path: str) -> str:
    """What the bundled whisper tiny.en hears in a WAV file."""
    from mmagent.artifacts import ArtifactStore
    from mmagent.toolkit import ToolContext
    from mmagent.tools.speech_recognize import SpeechRecognize

    store = ArtifactStore(Path(path).parent / "heard")
    asr = SpeechRecognize(checkpoint="bundled/tiny.en")
    asr.ensure_loaded()
    ref = store.put_file(path, "audio")
    return asr.run([asr.parse_input({"audio": ref})], ToolContext(store))[0].text


def test_cli_reads_the_sign_aloud(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mmagent", "run", "Read the sign in this photo aloud.",
                                      "--image", str(ROOT / "examples" / "sign.png"), "--json"])
    try:
        main()
    except SystemExit as e:
        assert not e.code, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert [t["tool"] for t in out["plan"]["tasks"]] == ["ocr_read", "text_to_speech"]
    assert "Welcome to Riverside" in out["answer"] and "Open daily until six" in out["answer"]
    (audio,) = [a for a in out["artifacts"] if a["kind"] == "audio"]
    words = heard(audio["path"]).lower()
    assert "riverside" in words and "library" in words, words
