"""mmagent.Client: the Agent API over HTTP, with the same result and event types."""

import pytest
import soundfile as sf
from PIL import Image

from mmagent import Client, RunResult
from mmagent.errors import InputNotFoundError, MediaLimitError, ToolExecutionError
from mmagent.events import (
    AnswerReady,
    ArtifactCreated,
    PlanCreated,
    RouteChosen,
    TaskFinished,
    TaskStarted,
)
from mmagent.serving._http_errors import AuthError
from tests.serving.conftest import KEY_A, KEY_B, wav_bytes


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), (0, 128, 255)).save(p)
    return p


def test_run_returns_a_run_result_with_local_artifacts(server, photo, tmp_path):
    with Client(server.base_url, KEY_A, download_dir=tmp_path / "dl") as c:
        result = c.run("Describe it and say it aloud", images=[photo])
    assert isinstance(result, RunResult)
    assert [t.tool for t in result.plan.tasks] == ["fake_caption", "fake_speak"]
    assert result.outputs["t1"]["text"] == "a 32x24 picture"
    (audio,) = result.artifacts
    assert audio.kind == "audio" and audio.task == "t2"
    assert sf.info(audio.path).samplerate == 16000
    assert isinstance(result.events[0], RouteChosen)  # the router decides first
    assert any(isinstance(e, PlanCreated) for e in result.events)
    assert isinstance(result.events[-1], AnswerReady)


def test_stream_yields_agent_events(server, tmp_path):
    clip = tmp_path / "clip.wav"
    clip.write_bytes(wav_bytes(1.0))
    with Client(server.base_url, KEY_A) as c:
        events = list(c.stream("What did you hear?", audio=[clip]))
    kinds = [type(e) for e in events]
    assert kinds[0] is RouteChosen and PlanCreated in kinds and kinds[-1] is AnswerReady
    assert TaskStarted in kinds and TaskFinished in kinds
    assert "heard 1.0 seconds" in events[-1].text


def test_pil_images_and_artifact_refs(server):
    with Client(server.base_url, KEY_A) as c:
        ref = c.upload(Image.new("RGB", (5, 5)), "image")
        assert c.run("describe", images=[ref]).outputs["t1"]["text"] == "a 5x5 picture"
        produced = [e for e in c.stream("describe and speak", images=[Image.new("RGB", (6, 6))])
                    if isinstance(e, ArtifactCreated)]
    assert produced[0].artifact.kind == "audio"
    with Client(server.base_url, KEY_B) as other, pytest.raises(InputNotFoundError):
        other.run("describe", images=[ref])


def test_errors_have_the_agents_types(server, tmp_path):
    with Client(server.base_url, "sk-wrong") as c, pytest.raises(AuthError):
        c.run("hello")
    big = tmp_path / "big.png"
    Image.new("RGB", (400, 300)).save(big)
    with Client(server.base_url, KEY_A) as c:
        with pytest.raises(MediaLimitError):
            c.run("describe", images=[big])
        with pytest.raises(ToolExecutionError) as e:
            c.run("Please fail")
    assert "t1" in e.value.result.failures
