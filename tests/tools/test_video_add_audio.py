"""video_add_audio: a sound track onto a video (real ffmpeg from the imageio-ffmpeg wheel, real
decoding; no model), and the media utilities together through the SDK."""

import numpy as np
import pytest
import soundfile as sf

from mmagent.artifacts import ArtifactStore, probe_video, write_gif
from mmagent.toolkit import ToolContext
from mmagent.tools.video_add_audio import video_add_audio

from .conformance import ToolConformance
from .media import A_REF, V_REF, ramp, tone
from .sdk import run_plan


def test_audio_track_is_added_and_cut_to_the_video(store):
    video = store.put_video(ramp(10), fps=10)  # 1 s
    out = video_add_audio()(ToolContext(store), video=video, audio=tone(store, 2.5, 16000))
    info = probe_video(store.path(out.video))
    assert out.video.mime == "video/mp4"
    assert (info.codec, info.audio_codec, info.frames) == ("h264", "aac", 10)
    assert out.video.duration_s == pytest.approx(1.0, abs=0.1)


def test_a_gif_video_is_re_encoded_as_h264(store):
    video = store.put_bytes(write_gif(ramp(5, size=(17, 11)), fps=10), "video")
    out = video_add_audio()(ToolContext(store), video=video, audio=tone(store, 0.2, 8000))
    info = probe_video(store.path(out.video))
    assert (info.codec, info.pix_fmt, info.audio_codec, info.frames) == (
        "h264", "yuv420p", "aac", 5)
    assert (info.width, info.height) == (18, 12)  # padded to even sides for yuv420p


def test_media_utilities_through_the_sdk(tmp_path):
    video, speech, music = tmp_path / "clip.mp4", tmp_path / "speech.wav", tmp_path / "music.wav"
    video.write_bytes(ArtifactStore(tmp_path / "s").read_bytes(
        ArtifactStore(tmp_path / "s").put_video(ramp(8), fps=8)))
    for path, freq in ((speech, 300), (music, 500)):
        t = np.arange(8000) / 16000
        sf.write(path, 0.2 * np.sin(2 * np.pi * freq * t), 16000)
    result = run_plan(tmp_path, [
        {"id": "t1", "tool": "video_frames", "args": {"video": "$input.video0", "count": 2}},
        {"id": "t2", "tool": "audio_concat", "args": {"clips": ["$input.audio0",
                                                                "$input.audio1"]}},
        {"id": "t3", "tool": "audio_mix", "args": {"clips": ["$t2.audio", "$input.audio1"]}},
        {"id": "t4", "tool": "video_add_audio", "args": {"video": "$input.video0",
                                                         "audio": "$t3.audio"}},
    ], deliver=("image", "audio", "video"), prompt="Put the speech and music on my clip",
        video=[video], audio=[speech, music])
    kinds = sorted((a.task, a.kind) for a in result.artifacts)
    assert kinds == [("t1", "image"), ("t1", "image"), ("t2", "audio"), ("t3", "audio"),
                     ("t4", "video")]
    final = next(a for a in result.artifacts if a.task == "t4")
    info = probe_video(final.path)
    assert (info.frames, info.audio_codec) == (8, "aac")


class TestVideoAddAudioConformance(ToolConformance):
    tool_cls = video_add_audio
    tool_kwargs = {}
    bad_inputs = [({"audio": A_REF}, "video"), ({"video": V_REF}, "audio"),
                  ({"video": V_REF, "audio": A_REF, "volume": 2}, "volume")]

    def make_inputs(self, store):
        video = store.put_video(ramp(6), fps=6)
        return [{"video": video, "audio": tone(store, 1.0, 16000)},
                {"video": video, "audio": tone(store, 0.3, 8000, freq=200)},
                {"video": store.put_bytes(write_gif(ramp(4), 4), "video"),
                 "audio": tone(store, 2.0, 22050)}]
