"""audio_mix: clips played at the same time (real decoding; no model)."""

import numpy as np
import soundfile as sf

from mmagent.toolkit import ToolContext
from mmagent.tools.audio_mix import audio_mix

from .conformance import ToolConformance
from .media import AUDIO_BAD, tone


def test_mix_lasts_as_long_as_the_longest_clip_at_the_highest_rate(store):
    a, b = tone(store, 1.0, 16000), tone(store, 0.5, 22050, freq=660)
    out = audio_mix()(ToolContext(store), clips=[a, b])
    assert (out.sample_rate, out.audio.sample_rate, out.audio.duration_s) == (22050, 22050, 1.0)
    samples, _ = sf.read(store.path(out.audio), dtype="float32")
    spectrum = np.abs(np.fft.rfft(samples[: 22050 // 2]))
    freqs = np.fft.rfftfreq(22050 // 2, 1 / 22050)
    loudest = sorted(freqs[np.argsort(spectrum)[-2:]].round())
    assert loudest == [440.0, 660.0], "both clips must be heard in the first half"


def test_loud_mix_is_scaled_rather_than_clipped(store):
    loud = tone(store, 0.5, 16000, amp=0.9)
    out = audio_mix()(ToolContext(store), clips=[loud, loud, loud])
    samples, _ = sf.read(store.path(out.audio), dtype="float32")
    assert 0.95 < np.abs(samples).max() <= 0.99 + 1e-4


class TestAudioMixConformance(ToolConformance):
    tool_cls = audio_mix
    tool_kwargs = {}
    bad_inputs = AUDIO_BAD

    def make_inputs(self, store):
        a, b, c = tone(store, 0.5, 16000), tone(store, 0.3, 8000, 200), tone(store, 0.2, 22050)
        return [{"clips": [a, b]}, {"clips": [c]}, {"clips": [a, b, c]}]
