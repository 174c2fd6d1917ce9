"""The README's promises, run for real: the offline profile with the real SmolLM2 planner."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def mmagent(*args, cwd=ROOT):
    exe = Path(sys.executable).with_name("mmagent")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def assert_speech(path):
    samples, sr = sf.read(path)
    assert sr == 24000 and len(samples) / sr > 0.5  # the hibari voice speaks at 24 kHz
    assert np.abs(samples).max() > 0.05  # not silence


def test_demo_request_with_json_output():
    request = (ROOT / "examples/request.txt").read_text().strip()
    proc = mmagent("run", request, "--image", "examples/sign.png", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"answer", "plan", "artifacts"}
    tools = [t["tool"] for t in out["plan"]["tasks"]]
    assert tools == ["ocr_read", "text_to_speech"]  # both on real weights
    assert "Welcome to Riverside" in out["answer"]
    audio = [a for a in out["artifacts"] if a["kind"] == "audio"]
    assert audio and audio[0]["mime"] == "audio/wav"
    assert_speech(audio[0]["path"])
    assert f"artifact://{audio[0]['id']}" in out["answer"]


def test_demo_shows_plan_steps_answer_and_paths():
    proc = subprocess.run(["make", "-s", "demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for words in ("Plan", "ocr_read", "text_to_speech", "started", "finished", "Answer",
                  "Welcome to Riverside", "Artifacts"):
        assert words in out, f"{words!r} missing from the demo output:\n{out}"
    wav = re.search(r"(\S+\.wav)", out.split("Artifacts")[1]).group(1)
    assert_speech(wav)


def test_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "image_caption" in proc.stdout and "audio audio/wav" in proc.stdout
