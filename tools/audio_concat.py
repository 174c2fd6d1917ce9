"""``audio_concat``: clips played one after another, with an optional silence between them.
numpy, no model.

>>> import tempfile, numpy as np
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> tone = store.put_audio(0.1 * np.ones(8000, np.float32), 16000)
>>> out = audio_concat()(ToolContext(store), clips=[tone, tone])
>>> (out.audio.duration_s, out.sample_rate)
(1.0, 16000)
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from mmagent.artifacts import AudioRef
from mmagent.toolkit import ToolContext, tool
from mmagent.tools._media import AudioResult, Clips, check_total, load_clips

__all__ = ["audio_concat"]


@tool
def audio_concat(ctx: ToolContext, clips: Annotated[list[AudioRef], Clips],
                 gap: Annotated[float, Field(ge=0.0, le=10.0)] = 0.0) -> AudioResult:
    """Joins audio clips one after another into a single clip, optionally with a pause between
    them.

    Args:
        gap: seconds of silence between clips
    """
    check_total("audio_concat", ctx,
                sum(c.duration_s or 0.0 for c in clips) + gap * (len(clips) - 1))
    samples, rate = load_clips(ctx, clips)
    silence = np.zeros(round(gap * rate), dtype=np.float32)
    parts = [p for c in samples for p in (c, silence)][:-1]
    return AudioResult(audio=ctx.store.put_audio(np.concatenate(parts), rate), sample_rate=rate)
