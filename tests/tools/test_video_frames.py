"""video_frames: evenly spaced frames out of a video (real ffmpeg from the imageio-ffmpeg wheel,
real decoding; no model)."""

import numpy as np
import pytest

from mmagent.artifacts import write_gif
from mmagent.toolkit import ToolContext
from mmagent.tools.video_frames import video_frames

from .conformance import ToolConformance
from .media import A_REF, V_REF, ramp


def brightness(store, ref):
    return float(np.asarray(store.load_image(ref)).mean())


def test_frames_are_evenly_spaced_with_their_times(store):
    video = store.put_video(ramp(10), fps=10)
    out = video_frames()(ToolContext(store), video=video, count=3)
    assert out.timestamps == [0.0, 0.4, 0.9]
    levels = [brightness(store, r) for r in out.images]
    assert levels == pytest.approx([0, 80, 180], abs=6)  # frames 0, 4 and 9
    assert (out.images[0].width, out.images[0].height) == (24, 16)


def test_asking_for_more_frames_than_the_video_has_gives_them_all(store):
    video = store.put_video(ramp(4), fps=4)
    out = video_frames()(ToolContext(store), video=video, count=10)
    assert len(out.images) == 4 and out.timestamps == [0.0, 0.25, 0.5, 0.75]


def test_frames_of_a_gif_video(store):
    video = store.put_bytes(write_gif(ramp(6), fps=10), "video")
    assert (video.mime, video.frames) == ("video/gif", 6)
    out = video_frames()(ToolContext(store), video=video, count=2)
    assert [brightness(store, r) for r in out.images] == pytest.approx([0, 100], abs=8)


class TestVideoFramesConformance(ToolConformance):
    tool_cls = video_frames
    tool_kwargs = {}
    bad_inputs = [({"count": 2}, "video"), ({"video": V_REF, "count": 0}, "count"),
                  ({"video": V_REF, "count": 65}, "count"), ({"video": A_REF}, "video")]

    def make_inputs(self, store):
        video = store.put_video(ramp(6), fps=6)
        gif = store.put_bytes(write_gif(ramp(5), fps=5), "video")
        return [{"video": video, "count": 2}, {"video": gif}, {"video": video, "count": 6}]
