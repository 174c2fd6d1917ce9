"""``audio_mix``: clips played at the same time (e.g. speech over music). numpy, no model.

>>> import tempfile, numpy as np
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> short, long = (store.put_audio(0.1 * np.ones(n, np.float32), 16000) for n in (4000, 8000))
>>> audio_mix()(ToolContext(store), clips=[short, long]).audio.duration_s
0.5
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from mmagent.artifacts import AudioRef
from mmagent.toolkit import ToolContext, tool
from mmagent.tools._media import AudioResult, Clips, check_total, load_clips

__all__ = ["audio_mix"]


@tool
def audio_mix(ctx: ToolContext, clips: Annotated[list[AudioRef], Clips]) -> AudioResult:
    """Mixes audio clips so they play at the same time, e.g. a voice over background music.
    The result lasts as long as the longest clip.

    Notes:
        Clips are summed; if the sum would clip, the whole mix is scaled down.
    """
    check_total("audio_mix", ctx, max(c.duration_s or 0.0 for c in clips))
    samples, rate = load_clips(ctx, clips)
    mix = np.zeros(max(len(c) for c in samples), dtype=np.float32)
    for c in samples:
        mix[: len(c)] += c
    peak = float(np.abs(mix).max(initial=0.0))
    if peak > 1.0:
        mix *= 0.99 / peak
    return AudioResult(audio=ctx.store.put_audio(mix, rate), sample_rate=rate)
