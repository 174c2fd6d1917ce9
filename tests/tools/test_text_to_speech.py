"""TextToSpeech: the espeak-ng backend (real speech) and the tiny random-weight VITS."""

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mmagent.errors import ConfigError, ToolExecutionError, ToolInputError, ToolLoadError
from mmagent.toolkit import ToolContext
from mmagent.tools.text_to_speech import TextToSpeech

from .conformance import ToolConformance

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def decode(store, ref):
    samples, sr = sf.read(store.path(ref), dtype="float32")
    return samples, sr


@pytest.fixture(scope="module")
def espeak():
    tool = TextToSpeech(backend="espeak")
    if shutil.which("espeak-ng") is not None:
        tool.ensure_loaded()
    return tool


@pytest.fixture(scope="module")
def vits():
    tool = TextToSpeech(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


# -- espeak ------------------------------------------------------------------------------------


@needs_espeak
def test_espeak_speaks_a_sentence(espeak, store):
    out = espeak.run([espeak.parse_input({"text": "The quick brown fox jumps over the dog."})],
                     ToolContext(store))[0]
    samples, sr = decode(store, out.audio)
    assert sr == out.sample_rate == out.audio.sample_rate == 22050
    assert len(samples) / sr > 0.3
    assert np.sqrt(np.mean(samples**2)) > 0.01, "the audio is silent"


@needs_espeak
def test_espeak_speed_and_batch(espeak, store):
    ctx = ToolContext(store)
    text = "Speed changes how long this sentence takes to say."
    inputs = [espeak.parse_input({"text": text, "speed": s}) for s in (0.5, 1.0, 2.0)]
    slow, normal, fast = (o.audio.duration_s for o in espeak.run(inputs, ctx))
    assert slow > normal > fast
    # stdin carries the text, so a leading dash is spoken, not parsed as an option
    out = espeak.run([espeak.parse_input({"text": "-v is not an option here"})], ctx)[0]
    assert out.audio.duration_s > 0.3


@needs_espeak
def test_espeak_unknown_voice_is_an_input_error(espeak, store):
    inp = espeak.parse_input({"text": "hello", "voice": "xx-nowhere"})
    with pytest.raises(ToolInputError, match="xx-nowhere"):
        espeak.run([inp], ToolContext(store))


def test_espeak_failure_is_an_execution_error_with_stderr(tmp_path, monkeypatch, store):
    fake = tmp_path / "bin" / "espeak-ng"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'espeak-ng: out of cheese' >&2\necho second line >&2\n"
                    "exit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    tool = TextToSpeech(backend="espeak")
    tool.ensure_loaded()
    with pytest.raises(ToolExecutionError, match="out of cheese") as e:
        tool.run([tool.parse_input({"text": "hello"})], ToolContext(store))
    assert "second line" not in str(e.value)


def test_missing_espeak_is_a_load_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolLoadError, match="apt-get install espeak-ng"):
        TextToSpeech(backend="espeak").ensure_loaded()


def test_espeak_backend_never_loads_the_checkpoint():
    tool = TextToSpeech(checkpoint="nonexistent-org/nonexistent-model", backend="espeak")
    assert tool.backend == "espeak"
    if shutil.which("espeak-ng") is not None:
        tool.ensure_loaded()
        assert not hasattr(tool, "model")
    assert TextToSpeech(checkpoint="espeak").backend == "espeak"
    assert TextToSpeech().backend == "vits"


def test_unknown_backend_or_option_is_a_config_error():
    with pytest.raises(ConfigError, match="'festival'"):
        TextToSpeech(backend="festival")
    with pytest.raises(ConfigError, match="'backnd'"):
        TextToSpeech(backnd="espeak")


# -- VITS --------------------------------------------------------------------------------------


def test_tiny_vits_is_reloaded_from_its_directory(vits):
    from transformers import VitsModel, VitsTokenizer

    path = Path(vits.checkpoint_path())
    assert (path / "config.json").is_file() and (path / "vocab.json").is_file()
    assert isinstance(vits.model, VitsModel) and isinstance(vits.tokenizer, VitsTokenizer)
    assert vits.model.name_or_path == str(path)


def test_vits_batch_gives_decodable_audio_per_text(vits, store):
    ctx = ToolContext(store)
    texts = ["Hello world.", "a somewhat longer sentence, to pad the batch", "hi"]
    inputs = [vits.parse_input({"text": t}) for t in texts]
    outs = vits.run(inputs, ctx)
    rate = vits.model.config.sampling_rate
    for out in outs:
        samples, sr = decode(store, out.audio)
        assert sr == out.sample_rate == rate
        assert len(samples) > 0 and np.isfinite(samples).all()
    lengths = [o.audio.duration_s for o in outs]
    assert len(set(lengths)) > 1, "every waveform was left at the padded length"
    assert [o.audio.id for o in vits.run(inputs, ctx)] == [o.audio.id for o in outs]


def test_vits_without_noise_gives_each_text_its_own_length_in_any_batch(store):
    tool = TextToSpeech(checkpoint="tiny", device="cpu", noise_scale=0, noise_scale_duration=0)
    tool.ensure_loaded()
    ctx = ToolContext(store)
    inputs = [tool.parse_input({"text": t}) for t in ("short one", "a much longer sentence here")]
    batch = [o.audio.duration_s for o in tool.run(inputs, ctx)]
    assert batch == [tool.run([inp], ctx)[0].audio.duration_s for inp in inputs]


def test_vits_rejects_a_voice_and_unspeakable_text(vits, store):
    ctx = ToolContext(store)
    with pytest.raises(ToolInputError, match="single voice"):
        vits.run([vits.parse_input({"text": "hello", "voice": "en-us"})], ctx)
    with pytest.raises(ToolInputError, match="can speak"):
        vits.run([vits.parse_input({"text": "1234"})], ctx)  # the vocabulary has no digits


def test_unreachable_checkpoint_is_a_load_error_quickly():
    tool = TextToSpeech(checkpoint="nonexistent-org/nonexistent-model", device="cpu")
    start = time.monotonic()
    with pytest.raises(ToolLoadError, match="nonexistent-org/nonexistent-model"):
        tool.ensure_loaded()
    assert time.monotonic() - start < 5


BAD_INPUTS = [
    ({"voice": "en-us"}, "text"),
    ({"text": ""}, "text"),
    ({"text": "x" * 2001}, "text"),
    ({"text": " ... "}, "text"),
    ({"text": "hi", "speed": 0.1}, "speed"),
    ({"text": "hi", "speed": 2.5}, "speed"),
    ({"text": "hi", "voice": "en; rm -rf"}, "voice"),
]


@needs_espeak
class TestEspeakConformance(ToolConformance):
    tool_cls = TextToSpeech
    tool_kwargs = {"backend": "espeak"}
    bad_inputs = BAD_INPUTS

    def make_inputs(self, store):
        return [{"text": "Good morning."}, {"text": "Good evening.", "voice": "en-gb"},
                {"text": "It is 42 degrees outside!", "speed": 1.5}]


class TestVitsConformance(ToolConformance):
    tool_cls = TextToSpeech
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    deterministic = False
    nondeterministic_reason = ("VITS draws its noise for the whole padded batch, and its decoder "
                               "reads into the padding; see the module docstring")
    bad_inputs = BAD_INPUTS

    def make_inputs(self, store):
        return [{"text": "Good morning."}, {"text": "good evening", "speed": 0.8},
                {"text": "A longer sentence than the others."}]
