"""audio_concat: clips played one after another (real decoding; no model)."""

import numpy as np
import pytest
import soundfile as sf

from mmagent.artifacts import ArtifactStore, MediaLimits
from mmagent.errors import ToolInputError
from mmagent.toolkit import ToolContext
from mmagent.tools.audio_concat import audio_concat
from mmagent.tools.audio_mix import audio_mix

from .conformance import ToolConformance
from .media import A_REF, AUDIO_BAD, tone


def test_concat_joins_clips_with_a_gap(store):
    a, b = tone(store, 0.5, 16000), tone(store, 0.25, 8000)
    out = audio_concat()(ToolContext(store), clips=[a, b], gap=0.25)
    assert (out.sample_rate, out.audio.duration_s) == (16000, 1.0)
    samples, _ = sf.read(store.path(out.audio), dtype="float32")
    assert np.abs(samples[8000 + 100: 12000 - 100]).max() < 1e-3, "the gap is not silent"


def test_results_longer_than_the_store_accepts_are_refused_before_decoding(tmp_path):
    store = ArtifactStore(tmp_path / "s", MediaLimits(max_audio_seconds=1.0))
    clip = tone(store, 0.75, 8000)
    with pytest.raises(ToolInputError, match=r"got clips making 1.5 s .* at most 1 s") as e:
        audio_concat()(ToolContext(store), clips=[clip, clip])
    assert e.value.details["arg"] == "clips"
    assert audio_mix()(ToolContext(store), clips=[clip, clip]).audio.duration_s == 0.75


class TestAudioConcatConformance(ToolConformance):
    tool_cls = audio_concat
    tool_kwargs = {}
    bad_inputs = [*AUDIO_BAD, ({"clips": [A_REF], "gap": -1}, "gap"),
                  ({"clips": [A_REF], "gap": 11}, "gap")]

    def make_inputs(self, store):
        a, b = tone(store, 0.5, 16000), tone(store, 0.3, 8000, 200)
        return [{"clips": [a, b]}, {"clips": [b, a], "gap": 0.1}, {"clips": [a]}]
