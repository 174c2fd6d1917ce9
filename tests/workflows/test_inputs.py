"""A workflow's inputs checked before anything runs (mmagent.workflows.bind_inputs), as the SDK
meets it: a missing, unknown or wrong-kind input is a typed error that names the input, the
workflow and what it expects. The HTTP and CLI tests assert the same messages (imported from
here): one check behind every surface."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from mmagent import Agent, Config
from mmagent.errors import MissingInputError, UnknownInputError, WrongKindError
from mmagent.workflows import bind_inputs, load_workflow

IMAGES = "PNG, JPEG, WebP, GIF, BMP or TIFF"
MISSING = ("got no input 'image' for workflow 'caption_and_speak'; expected an image (the photo "
           "to describe)")
UNKNOWN = ("got input 'picture' for workflow 'caption_and_speak', which it does not declare; "
           "expected inputs among 'image' (an image), 'speak' (a boolean), 'voice' (a text)")


def audio_for_image(source: str, size: int) -> str:
    """The message for a WAV given as caption_and_speak's image."""
    return (f"input 'image' of workflow 'caption_and_speak': got a WAV audio file of {size} "
            f"bytes ({source}); expected an image ({IMAGES})")


def wav_file(path):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(1600, dtype=np.float32), 16000, format="WAV")
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def agent(tmp_path):
    return Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache")}))


def stored(agent) -> list:
    return [p for p in (agent.store.root / "objects").rglob("*") if p.is_file()]


def test_a_missing_input_is_named_with_what_it_expects(agent):
    with pytest.raises(MissingInputError) as e:
        agent.run_workflow("caption_and_speak", {"speak": False})
    assert str(e.value) == MISSING and e.value.code == "input.missing"
    assert e.value.details["inputs"] == ["image"]
    with pytest.raises(MissingInputError, match="^got no input 'image'"):
        agent.stream_workflow("caption_and_speak", {"image": None})  # None is not given


def test_an_unknown_input_is_refused_before_any_file_is_stored(agent, tmp_path):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8)).save(photo)
    with pytest.raises(UnknownInputError) as e:
        agent.run_workflow("caption_and_speak", {"image": photo, "picture": photo})
    assert str(e.value) == UNKNOWN and e.value.code == "input.unknown"
    assert stored(agent) == []


def test_an_audio_file_given_for_an_image_is_named_for_what_it_is(agent, tmp_path):
    wav = wav_file(tmp_path / "voice.wav")
    with pytest.raises(WrongKindError) as e:
        agent.run_workflow("caption_and_speak", {"image": wav})
    assert str(e.value) == audio_for_image(str(wav), wav.stat().st_size)
    assert e.value.code == "input.wrong_kind"
    ref = agent.store.put_file(wav, "audio")
    with pytest.raises(WrongKindError, match=f"^input 'image' of workflow 'caption_and_speak': "
                       f"got artifact {ref.id}, an audio file \\(audio/wav\\); expected an image$"):
        agent.run_workflow("caption_and_speak", {"image": ref})


def test_values_of_another_type_and_lists_for_one_item_are_wrong_kinds(agent, tmp_path):
    wf = load_workflow(agent.workflows()["caption_and_speak"])
    with pytest.raises(WrongKindError, match="^input 'speak' of workflow 'caption_and_speak': "
                       "got 'yes please'; expected a boolean$"):
        bind_inputs(wf, {"image": "unused.png", "speak": "yes please"}, put=lambda v, k: v)
    with pytest.raises(WrongKindError, match=r"got a list of 2 \(\['a.png', 'b.png'\]\); "
                       "expected an image, not a list$"):
        agent.run_workflow("caption_and_speak", {"image": ["a.png", "b.png"]})
    many = load_workflow(agent.workflows()["describe_images"])
    assert many.inputs["images"].type == "list[image]"
    put = []
    bound = bind_inputs(many, {"images": "one.png"}, put=lambda v, k: put.append((v, k)) or v)
    assert bound == {"images": ["one.png"]} and put == [("one.png", "image")]  # one is a list
