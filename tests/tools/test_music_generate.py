"""MusicGenerate on a tiny random-weight MusicGen, reloaded with from_pretrained like a real one."""

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mmagent import Agent, Config
from mmagent.errors import ConfigError, ToolInputError, ToolLoadError
from mmagent.events import TaskProgress
from mmagent.toolkit import ToolContext
from mmagent.tools.music_generate import MusicGenerate
from tests.planner.test_planner import Scripted

from .conformance import ToolConformance


@pytest.fixture(scope="module")
def tool():
    tool = MusicGenerate(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def samples_of(store, ref):
    samples, sr = sf.read(store.path(ref), dtype="float32")
    return samples, sr


def test_tiny_checkpoint_and_processor_are_reloaded_from_their_directory(tool):
    from transformers import MusicgenForConditionalGeneration, MusicgenProcessor

    path = Path(tool.checkpoint_path())
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert isinstance(tool.model, MusicgenForConditionalGeneration)
    assert isinstance(tool.processor, MusicgenProcessor)
    assert tool.model.name_or_path == str(path)
    assert (tool.sample_rate, tool.frame_rate, tool.guidance_scale) == (16_000, 50.0, 3.0)


def test_clip_has_the_requested_length_at_the_model_rate(tool, store):
    events = []
    ctx = ToolContext(store, emit=events.append, task_id="t1")
    out = tool.run([tool.parse_input({"prompt": "calm piano music", "duration": 0.5})], ctx)[0]
    samples, sr = samples_of(store, out.audio)
    assert sr == out.sample_rate == tool.sample_rate
    assert len(samples) == round(0.5 * sr)
    assert np.isfinite(samples).all() and np.abs(samples).max() > 0
    # progress in chunks of generated tokens, ending at the total (25 frames + 3 delay steps)
    assert all(isinstance(e, TaskProgress) and e.task_id == "t1" for e in events)
    steps = [e.step for e in events]
    assert steps == sorted(steps) and steps[-1] == events[-1].total == 28


def test_seed_decides_the_music_and_repeats_it(tool, store):
    ctx = ToolContext(store)
    args = {"prompt": "lofi hip hop beat", "duration": 0.4}
    a, b, c = tool.run([tool.parse_input({**args, "seed": s}) for s in (1, 1, 2)], ctx)
    assert a.audio.id == b.audio.id != c.audio.id
    assert tool.run([tool.parse_input({**args, "seed": 1})], ctx)[0].audio.id == a.audio.id


def test_rows_generated_one_at_a_time_give_the_batched_music(tool, store):
    # batch_rows false is the CUDA default (a row's numbers must not depend on its batch)
    alone = MusicGenerate(checkpoint="tiny", device="cpu", batch_rows=False)
    alone.ensure_loaded()
    ctx = ToolContext(store)
    args = [{"prompt": "lofi hip hop beat", "duration": 0.4, "seed": s} for s in (1, 2)]
    batched = tool.run([tool.parse_input(a) for a in args], ctx)
    one_by_one = alone.run([alone.parse_input(a) for a in args], ctx)
    assert [o.audio.id for o in one_by_one] == [o.audio.id for o in batched]
    assert batched[0].audio.id != batched[1].audio.id


def test_prompt_changes_the_music(tool, store):
    ctx = ToolContext(store)
    outs = tool.run([tool.parse_input({"prompt": p, "duration": 0.3})
                     for p in ("calm piano music", "fast rock song with loud drums")], ctx)
    assert outs[0].audio.id != outs[1].audio.id


def test_greedy_option_is_deterministic_and_ignores_the_seed(store):
    tool = MusicGenerate(checkpoint="tiny", device="cpu", sampling=False)
    tool.ensure_loaded()
    ctx = ToolContext(store)
    outs = tool.run([tool.parse_input({"prompt": "jazz trio", "duration": 0.3, "seed": s})
                     for s in (0, 7)], ctx)
    assert outs[0].audio.id == outs[1].audio.id


def test_duration_bound_names_argument_value_and_limit(store):
    tool = MusicGenerate(checkpoint="tiny", device="cpu", max_duration_s=1.0)
    tool.ensure_loaded()
    with pytest.raises(ToolInputError, match=r"'duration': got 2 s; expected at most 1 s") as e:
        tool.run([tool.parse_input({"prompt": "techno", "duration": 2.0})], ToolContext(store))
    assert e.value.details == {"tool": "music_generate", "arg": "duration", "value": 2.0,
                               "limit": 1.0}


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="max_duration_s"):
        MusicGenerate(max_duration_s=60)
    with pytest.raises(ConfigError, match="'topk'"):
        MusicGenerate(topk=5)


def test_unreachable_checkpoint_is_a_load_error_quickly():
    tool = MusicGenerate(checkpoint="nonexistent-org/nonexistent-model", device="cpu")
    start = time.monotonic()
    with pytest.raises(ToolLoadError, match="nonexistent-org/nonexistent-model"):
        tool.ensure_loaded()
    assert time.monotonic() - start < 5


def test_runs_through_the_sdk_on_the_offline_profile(tmp_path):
    plan = {"tasks": [{"id": "t1", "tool": "music_generate",
                       "args": {"prompt": "a happy folk tune", "duration": 0.4}}]}
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "planner": {"grounding": {"enabled": False}}}, profile="offline")
    agent = Agent(cfg, planner_backend=Scripted(json.dumps(plan), json.dumps(plan),
                                                   deliver=("audio",)))
    events = list(agent.stream("Make a short happy folk tune"))
    assert any(isinstance(e, TaskProgress) and e.task_id == "t1" for e in events)
    result = agent.run("Make a short happy folk tune")
    (audio,) = result.artifacts
    assert audio.kind == "audio" and audio.mime == "audio/wav" and audio.task == "t1"
    assert sf.info(audio.path).samplerate == result.outputs["t1"]["sample_rate"] == 16_000


class TestMusicGenerateConformance(ToolConformance):
    tool_cls = MusicGenerate
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    bad_inputs = [
        ({"duration": 1.0}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": "jazz", "duration": 0}, "duration"),
        ({"prompt": "jazz", "duration": 31}, "duration"),
        ({"prompt": "jazz", "seed": -1}, "seed"),
        ({"prompt": "jazz", "tempo": 120}, "tempo"),
    ]

    def make_inputs(self, store):
        # two prompts of one duration share a generate; a third duration gets its own
        return [{"prompt": "calm piano music", "duration": 0.3},
                {"prompt": "an upbeat pop song with drums", "duration": 0.3, "seed": 5},
                {"prompt": "ambient drone", "duration": 0.5, "seed": 1}]
