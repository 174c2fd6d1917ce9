"""SpeechRecognize on a tiny random-weight whisper, saved as a .pt and reloaded by load_model.

The tiny model's transcripts are noise; these tests check the pipeline (decoding, resampling,
batching, bounds, segments), not the words.
"""

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from mmagent import Agent, Config
from mmagent.artifacts import ArtifactStore
from mmagent.errors import ConfigError, ToolInputError, ToolLoadError
from mmagent.toolkit import ToolContext
from mmagent.tools.speech_recognize import SpeechRecognize, _segments, half_weights
from mmagent.tools.text_to_speech import TextToSpeech
from tests.planner.test_planner import Scripted

from .conformance import ToolConformance

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")
A_REF = {"id": "0" * 64, "mime": "audio/wav"}  # parses as an AudioRef; never loaded


def tone(store: ArtifactStore, seconds: float, hz: float, sr: int = 16_000):
    t = np.arange(int(seconds * sr)) / sr
    return store.put_audio(0.3 * np.sin(2 * np.pi * hz * t), sr)


def speech(store: ArtifactStore, text: str):
    """Real speech from espeak-ng (22.05 kHz), through the offline text_to_speech tool."""
    tts = TextToSpeech(backend="espeak")
    tts.ensure_loaded()
    return tts.run([tts.parse_input({"text": text})], ToolContext(store))[0].audio


@pytest.fixture(scope="module")
def tool():
    tool = SpeechRecognize(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def check_structure(out, duration: float) -> None:
    from whisper.tokenizer import LANGUAGES

    assert isinstance(out.text, str)
    assert out.language in LANGUAGES
    ends = 0.0
    for seg in out.segments:
        assert 0.0 <= seg.start <= seg.end <= duration + 1e-6, seg
        assert seg.start >= ends - 1e-6, "segments overlap or are out of order"
        assert seg.text.strip() and seg.text in out.text
        ends = seg.end


def test_tiny_checkpoint_is_a_pt_file_that_load_model_reads(tool):
    import torch
    from whisper.model import Whisper

    path = Path(tool.checkpoint_path()) / "model.pt"
    assert path.is_file()
    assert isinstance(tool.model, Whisper) and tool.model.dims.n_vocab == 51865
    saved = torch.load(path, weights_only=True)["model_state_dict"]
    key = "decoder.token_embedding.weight"
    assert torch.equal(saved[key], tool.model.state_dict()[key])


def test_loaded_model_reports_its_size_for_the_memory_budget(tool):
    # whisper keeps a sparse buffer (alignment_heads): sizing must not trip over it
    dense = sum(t.numel() * t.element_size() for t in tool.model.parameters())
    assert tool.memory_bytes() >= dense > 0


def test_tiny_build_is_repeatable(tmp_path):
    import torch

    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        SpeechRecognize.build_tiny(tmp_path / d)
    a, b = (torch.load(tmp_path / d / "model.pt", weights_only=True)["model_state_dict"]
            for d in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a), "a parameter is left uninitialised"


@needs_espeak
def test_espeak_speech_is_transcribed_end_to_end(tool, store):
    ref = speech(store, "The quick brown fox jumps over the lazy dog.")
    assert ref.sample_rate == 22050  # resampled to 16 kHz inside the tool
    events = []
    out = tool.run([tool.parse_input({"audio": ref})], ToolContext(store, emit=events.append))[0]
    check_structure(out, ref.duration_s)
    assert out.text and out.segments  # noise words from random weights, but words
    assert events and events[-1].step == events[-1].total == 1


def test_transcripts_depend_on_the_audio(tool, store):
    refs = [tone(store, 1.0, 220), tone(store, 2.0, 880), tone(store, 0.5, 3000, sr=44_100)]
    outs = tool.run([tool.parse_input({"audio": r}) for r in refs], ToolContext(store))
    assert len({o.text for o in outs}) == 3


def test_given_language_is_kept_and_names_are_codes(tool, store):
    ref = tone(store, 1.0, 440)
    assert tool.parse_input({"audio": ref, "language": "German"}).language == "de"
    inputs = [tool.parse_input({"audio": ref, "language": lang}) for lang in ("de", "fr")]
    inputs.append(tool.parse_input({"audio": ref}))
    outs = tool.run(inputs, ToolContext(store))
    assert [o.language for o in outs[:2]] == ["de", "fr"]
    check_structure(outs[2], 1.0)


def test_clip_over_30_s_goes_through_transcribe(tool, store):
    ref = tone(store, 31.0, 330)
    out = tool.run([tool.parse_input({"audio": ref, "language": "en"})], ToolContext(store))[0]
    assert out.language == "en"
    check_structure(out, 31.0)


def test_duration_bound_names_argument_value_and_limit(store):
    tool = SpeechRecognize(checkpoint="tiny", device="cpu", max_audio_seconds=1.5)
    tool.ensure_loaded()
    ref = tone(store, 2.0, 440)
    with pytest.raises(ToolInputError, match=r"'audio': got 2.0 s .* at most 1.5 s") as e:
        tool.run([tool.parse_input({"audio": ref})], ToolContext(store))
    assert e.value.details == {"tool": "speech_recognize", "arg": "audio", "value": 2.0,
                               "limit": 1.5}


def test_language_unknown_to_the_checkpoint_is_an_input_error(tool, store):
    # Cantonese came with large-v3 (100 languages); a 51865-token vocabulary has 99.
    inp = tool.parse_input({"audio": tone(store, 0.5, 440), "language": "yue"})
    with pytest.raises(ToolInputError, match="'yue'") as e:
        tool.run([inp], ToolContext(store))
    assert e.value.details["arg"] == "language"


def test_bad_checkpoints_are_load_errors_quickly(tmp_path):
    start = time.monotonic()
    with pytest.raises(ToolLoadError, match="whisper model name"):
        SpeechRecognize(checkpoint="nonexistent-org/nonexistent-model").ensure_loaded()
    with pytest.raises(ToolLoadError, match="HF_HUB_OFFLINE"):  # conftest sets it
        SpeechRecognize(checkpoint="base", cache_dir=tmp_path).ensure_loaded()
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ToolLoadError, match="broken.pt"):
        SpeechRecognize(checkpoint=str(bad), device="cpu").ensure_loaded()
    assert time.monotonic() - start < 5


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="'beam'"):
        SpeechRecognize(beam=2)
    with pytest.raises(ConfigError, match="max_audio_seconds"):
        SpeechRecognize(max_audio_seconds=-1)


def test_timestamp_tokens_split_segments(tool):
    import whisper

    tok = whisper.tokenizer.get_tokenizer(True, num_languages=tool.model.num_languages)
    ts = tok.timestamp_begin
    hello, world = tok.encode(" hello"), tok.encode(" world")
    tokens = [ts + 0, *hello, ts + 50, ts + 50, *world, ts + 100]
    text, segs = _segments(tokens, tok, duration=3.0)
    assert text == "hello world"
    assert [(s.start, s.end, s.text) for s in segs] == [(0.0, 1.0, "hello"), (1.0, 2.0, "world")]
    # text without a closing timestamp runs to the end of the clip, clamped to it
    _, segs = _segments([ts + 10, *hello, ts + 400], tok, duration=3.0)
    assert [(s.start, s.end) for s in segs] == [(0.2, 3.0)]
    _, segs = _segments([*world, tok.eot], tok, duration=1.5)
    assert [(s.start, s.end) for s in segs] == [(0.0, 1.5)]


@needs_espeak
def test_runs_through_the_sdk_on_the_offline_profile(tmp_path):
    store = ArtifactStore(tmp_path / "speech")
    wav = store.path(speech(store, "Please transcribe this sentence."))
    plan = {"tasks": [{"id": "t1", "tool": "speech_recognize",
                       "args": {"audio": "$input.audio0"}}]}
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "planner": {"grounding": {"enabled": False}}}, profile="offline")
    agent = Agent(cfg, planner_backend=Scripted(json.dumps(plan), deliver=("text",)))
    result = agent.run("What is said in this recording?", audio=[wav])
    out = result.outputs["t1"]
    assert set(out) == {"text", "language", "segments"}
    assert isinstance(out["text"], str) and out["segments"]
    assert set(out["segments"][0]) == {"start", "end", "text"}
    assert result.ok and not result.artifacts


class TestSpeechRecognizeConformance(ToolConformance):
    tool_cls = SpeechRecognize
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    bad_inputs = [
        ({"language": "en"}, "audio"),
        ({"audio": A_REF, "language": "klingon"}, "language"),
        ({"audio": A_REF, "language": "e"}, "language"),
        ({"audio": A_REF, "task": "translate"}, "task"),
    ]

    def make_inputs(self, store):
        # three clips at three sample rates, two languages and one detection in one batch
        return [{"audio": tone(store, 1.0, 220)},
                {"audio": tone(store, 2.0, 880, sr=22_050), "language": "en"},
                {"audio": tone(store, 0.7, 3000, sr=44_100), "language": "de"}]


def test_fp16_mode_stores_matmul_weights_in_half_and_norms_in_fp32(store):
    # the CUDA fp16 path casts the weights once at load; on CPU, whisper casts them back up
    # per layer, so the same model still transcribes here
    import torch

    tool = SpeechRecognize(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    before = tool.memory_bytes()
    half_weights(tool.model)
    dtypes = {n: p.dtype for n, p in tool.model.named_parameters()}
    assert dtypes["decoder.token_embedding.weight"] == torch.float16
    assert dtypes["encoder.conv1.weight"] == dtypes["decoder.blocks.0.mlp.0.weight"] == \
        torch.float16
    assert dtypes["decoder.ln.weight"] == dtypes["encoder.ln_post.weight"] == torch.float32
    assert tool.memory_bytes() < 0.6 * before
    out = tool.run([tool.parse_input({"audio": tone(store, 1.0, 440)})], ToolContext(store))[0]
    check_structure(out, 1.0)

