"""Provenance: produced PNG/WAV/MP4 files carry the workflow that made them, and
`mmagent workflow run FILE` runs it again."""

import base64
import json
import shutil
import sys

import httpx
import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

import mmagent.artifacts._provenance
from mmagent import Agent, Config
from mmagent.artifacts import ImageRef, write_mp4
from mmagent.artifacts._provenance import embed, read, read_file
from mmagent.cli import main
from mmagent.errors import InputError
from mmagent.serving.server import ServerThread, build_app
from mmagent.toolkit import Tool
from tests.fakes import fake_registry
from tests.planner.test_planner import Scripted
from tests.serving.helpers import PlanByInputs, serving_registry


class FakePaint(Tool):
    name = "fake_paint"
    description = "Paints a square whose colour follows the prompt's length."

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")
        prompt: str = Field(min_length=1, description="what to paint")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")
        image: ImageRef = Field(description="the picture")

    def run(self, inputs, ctx):
        return [self.Output(image=ctx.store.put_image(
            Image.new("RGB", (24, 16), (len(i.prompt) * 9 % 256, 80, 160)))) for i in inputs]


PLAN = {"tasks": [
    {"id": "t1", "tool": "fake_paint", "args": {"prompt": "a red lighthouse"}},
    {"id": "t2", "tool": "fake_caption", "args": {"image": "$t1.image"}},
    {"id": "t3", "tool": "fake_speak", "args": {"text": "$t2.text"}}]}


def make_agent(tmp_path, *answers, **runtime):
    reg = fake_registry()
    reg.register(FakePaint)
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"), "runtime": runtime,
                            "planner": {"replan_attempts": 0}})
    return Agent(cfg, registry=reg, planner_backend=Scripted(*answers))


def _tasks(plan):
    return [(t.id, t.tool, t.args) for t in plan.tasks]


def test_run_png_and_wav_carry_the_plan_and_rerun_from_png(tmp_path):
    agent = make_agent(tmp_path, json.dumps(PLAN))
    result = agent.run("Paint a red lighthouse, describe it and say it")
    png = next(a for a in result.artifacts if a.kind == "image")
    wav = next(a for a in result.artifacts if a.kind == "audio")
    for art in (png, wav):
        doc = read_file(art.path)
        assert doc["prompt"] == "Paint a red lighthouse, describe it and say it"
        assert "fake_paint" in doc["workflow"] and "fake_speak" in doc["workflow"]
    assert read_file(png.path)["task"] == "t1" and read_file(wav.path)["task"] == "t3"
    assert Image.open(png.path).text["mmagent"]  # a standard PNG text chunk, readable by PIL
    assert Image.open(png.path).size == (24, 16)
    assert sf.info(wav.path).samplerate == 16000  # still a valid WAV
    # the stored bytes are untouched: the id is the hash of the media alone
    assert read(agent.store.read_bytes(agent.store.get(png.id))) is None

    again = agent.run_workflow(png.path)  # no LLM: the plan comes from the picture
    assert _tasks(again.plan) == _tasks(result.plan)
    assert again.outputs["t2"] == result.outputs["t2"]
    assert [a.id for a in again.artifacts] == [a.id for a in result.artifacts]


def test_result_cache_still_hits_and_the_copy_still_carries_the_plan(tmp_path):
    agent = make_agent(tmp_path, json.dumps(PLAN), json.dumps(PLAN))
    first = agent.run("Paint a red lighthouse, describe it and say it")
    second = agent.run("Paint a red lighthouse, describe it and say it")
    assert sorted(second.cached) == ["t1", "t2", "t3"]
    png = next(a for a in second.artifacts if a.kind == "image")
    assert png.id == next(a for a in first.artifacts if a.kind == "image").id
    assert "fake_paint" in read_file(png.path)["workflow"]


def test_a_run_resumed_after_approval_carries_its_plan(tmp_path):
    reg = fake_registry()
    reg.register(FakePaint)
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "executor": {"approval": {"tools": ["fake_speak"]}}})
    agent = Agent(cfg, registry=reg, planner_backend=Scripted(json.dumps(PLAN)))
    paused = agent.run("Paint a red lighthouse, describe it and say it")
    assert paused.status == "awaiting_approval"
    done = agent.resume(paused.run_id, approve=True)
    (wav,) = [a for a in done.artifacts if a.kind == "audio"]
    doc = read_file(wav.path)
    assert doc["prompt"] == "Paint a red lighthouse, describe it and say it"
    assert doc["task"] == "t3" and "fake_speak" in doc["workflow"]


def test_opt_out_leaves_no_chunk(tmp_path):
    agent = make_agent(tmp_path, json.dumps(PLAN), embed_provenance=False)
    result = agent.run("Paint a red lighthouse, describe it and say it")
    for art in result.artifacts:
        assert read(open(art.path, "rb").read()) is None
    png = next(a for a in result.artifacts if a.kind == "image")
    assert "mmagent" not in Image.open(png.path).text
    with pytest.raises(InputError, match="carries no mmagent workflow"):
        agent.run_workflow(png.path)


def test_mp4_carries_the_document_and_still_plays(store):
    doc = {"workflow": "version: 1  # a=b; c#d \\ e", "prompt": "line one\nline two"}
    tagged = embed(write_mp4([np.full((16, 16, 3), 40 * i, np.uint8) for i in range(4)], 8),
                   "video/mp4", doc)
    assert {k: read(tagged)[k] for k in doc} == doc
    ref = store.put_bytes(tagged, "video")  # decodes: 4 frames at 8 fps
    assert (ref.frames, ref.fps) == (4, 8.0)


def test_http_download_carries_the_plan(tmp_path):
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "serving": {"api_keys": ["sk-t"]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanByInputs())
    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), (0, 128, 255)).save(photo)
    url = "data:image/png;base64," + base64.b64encode(photo.read_bytes()).decode()
    with ServerThread(build_app(agent=agent)) as srv:
        auth = {"Authorization": "Bearer sk-t"}
        r = httpx.post(f"{srv.base_url}/v1/chat/completions", headers=auth, timeout=30, json={
            "model": "mmagent", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Describe it aloud"},
                {"type": "image_url", "image_url": {"url": url}}]}]})
        assert r.status_code == 200, r.text
        (audio,) = r.json()["mmagent"]["artifacts"]
        wav = httpx.get(audio["url"], headers=auth, timeout=30)
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    doc = read(wav.content)
    assert doc["prompt"] == "Describe it aloud" and "fake_caption" in doc["workflow"]
    assert doc["inputs"]["image0"]["kind"] == "image"


def test_cli_workflow_run_reruns_a_wav(tmp_path, monkeypatch, capsys):
    """The shipped caption_and_speak workflow on the offline tools (tiny captioner, espeak-ng);
    then `mmagent workflow run speech.wav` runs the same workflow on the same photo."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is missing (make system-deps installs it)")
    monkeypatch.setenv("MMAGENT_CACHE", str(tmp_path / "cache"))

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["mmagent", *args])
        try:
            main()
        except SystemExit as e:
            assert not e.code, capsys.readouterr().err
        return json.loads(capsys.readouterr().out)

    first = cli("workflow", "run", "caption_and_speak", "--input",
                "image=examples/photo.png", "--json")
    (wav,) = [a for a in first["artifacts"] if a["kind"] == "audio"]
    doc = read_file(wav["path"])
    assert "tool: text_to_speech" in doc["workflow"]  # the workflow file itself
    again = cli("workflow", "run", wav["path"], "--json")
    assert again["plan"] == first["plan"]
    assert again["outputs"]["description"] == first["outputs"]["description"]
    assert [a["id"] for a in again["artifacts"]] == [a["id"] for a in first["artifacts"]]


def test_module_example_runs():
    import doctest

    assert doctest.testmod(mmagent.artifacts._provenance).failed == 0

