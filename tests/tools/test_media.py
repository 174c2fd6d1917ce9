"""The media utilities: frames out of a video, a sound track onto a video, audio mixed and
joined. Real ffmpeg (from the imageio-ffmpeg wheel) and real decoding; no model."""

import numpy as np
import pytest
import soundfile as sf

from mmagent.artifacts import ArtifactStore, MediaLimits, probe_video, write_gif
from mmagent.errors import ToolInputError
from mmagent.tool import ToolContext
from mmagent.tools.media import AudioConcat, AudioMix, VideoAddAudio, VideoFrames

from .conformance import ToolConformance
from .sdk import run_plan

V_REF = {"id": "0" * 64, "kind": "video", "mime": "video/mp4"}  # parse as refs; never loaded
A_REF = {"id": "1" * 64, "kind": "audio", "mime": "audio/wav"}


def ramp(n=10, size=(24, 16)):
    """Frames whose brightness rises 20 levels per frame: a frame's index can be read back."""
    return [np.full((size[1], size[0], 3), 20 * i, np.uint8) for i in range(n)]


def tone(store, seconds, rate, freq=440.0, amp=0.3):
    t = np.arange(int(seconds * rate)) / rate
    return store.put_audio(amp * np.sin(2 * np.pi * freq * t), rate)


def brightness(store, ref):
    return float(np.asarray(store.load_image(ref)).mean())


# -- video_frames ------------------------------------------------------------------------------


def test_frames_are_evenly_spaced_with_their_times(store):
    video = store.put_video(ramp(10), fps=10)
    out = VideoFrames()(ToolContext(store), video=video, count=3)
    assert out.timestamps == [0.0, 0.4, 0.9]
    levels = [brightness(store, r) for r in out.images]
    assert levels == pytest.approx([0, 80, 180], abs=6)  # frames 0, 4 and 9
    assert (out.images[0].width, out.images[0].height) == (24, 16)


def test_asking_for_more_frames_than_the_video_has_gives_them_all(store):
    video = store.put_video(ramp(4), fps=4)
    out = VideoFrames()(ToolContext(store), video=video, count=10)
    assert len(out.images) == 4 and out.timestamps == [0.0, 0.25, 0.5, 0.75]


def test_frames_of_a_gif_video(store):
    video = store.put_bytes(write_gif(ramp(6), fps=10), "video")
    assert (video.mime, video.frames) == ("video/gif", 6)
    out = VideoFrames()(ToolContext(store), video=video, count=2)
    assert [brightness(store, r) for r in out.images] == pytest.approx([0, 100], abs=8)


# -- video_add_audio ---------------------------------------------------------------------------


def test_audio_track_is_added_and_cut_to_the_video(store):
    video = store.put_video(ramp(10), fps=10)  # 1 s
    out = VideoAddAudio()(ToolContext(store), video=video, audio=tone(store, 2.5, 16000))
    info = probe_video(store.path(out.video))
    assert out.video.mime == "video/mp4"
    assert (info.codec, info.audio_codec, info.frames) == ("h264", "aac", 10)
    assert out.video.duration_s == pytest.approx(1.0, abs=0.1)


def test_a_gif_video_is_re_encoded_as_h264(store):
    video = store.put_bytes(write_gif(ramp(5, size=(17, 11)), fps=10), "video")
    out = VideoAddAudio()(ToolContext(store), video=video, audio=tone(store, 0.2, 8000))
    info = probe_video(store.path(out.video))
    assert (info.codec, info.pix_fmt, info.audio_codec, info.frames) == (
        "h264", "yuv420p", "aac", 5)
    assert (info.width, info.height) == (18, 12)  # padded to even sides for yuv420p


# -- audio_mix / audio_concat ------------------------------------------------------------------


def test_mix_lasts_as_long_as_the_longest_clip_at_the_highest_rate(store):
    a, b = tone(store, 1.0, 16000), tone(store, 0.5, 22050, freq=660)
    out = AudioMix()(ToolContext(store), clips=[a, b])
    assert (out.sample_rate, out.audio.sample_rate, out.audio.duration_s) == (22050, 22050, 1.0)
    samples, _ = sf.read(store.path(out.audio), dtype="float32")
    spectrum = np.abs(np.fft.rfft(samples[: 22050 // 2]))
    freqs = np.fft.rfftfreq(22050 // 2, 1 / 22050)
    loudest = sorted(freqs[np.argsort(spectrum)[-2:]].round())
    assert loudest == [440.0, 660.0], "both clips must be heard in the first half"


def test_loud_mix_is_scaled_rather_than_clipped(store):
    loud = tone(store, 0.5, 16000, amp=0.9)
    out = AudioMix()(ToolContext(store), clips=[loud, loud, loud])
    samples, _ = sf.read(store.path(out.audio), dtype="float32")
    assert 0.95 < np.abs(samples).max() <= 0.99 + 1e-4


def test_concat_joins_clips_with_a_gap(store):
    a, b = tone(store, 0.5, 16000), tone(store, 0.25, 8000)
    out = AudioConcat()(ToolContext(store), clips=[a, b], gap=0.25)
    assert (out.sample_rate, out.audio.duration_s) == (16000, 1.0)
    samples, _ = sf.read(store.path(out.audio), dtype="float32")
    assert np.abs(samples[8000 + 100: 12000 - 100]).max() < 1e-3, "the gap is not silent"


def test_results_longer_than_the_store_accepts_are_refused_before_decoding(tmp_path):
    store = ArtifactStore(tmp_path / "s", MediaLimits(max_audio_seconds=1.0))
    clip = tone(store, 0.75, 8000)
    with pytest.raises(ToolInputError, match=r"got clips making 1.5 s .* at most 1 s") as e:
        AudioConcat()(ToolContext(store), clips=[clip, clip])
    assert e.value.details["arg"] == "clips"
    assert AudioMix()(ToolContext(store), clips=[clip, clip]).audio.duration_s == 0.75


# -- through the SDK ---------------------------------------------------------------------------


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


# -- conformance -------------------------------------------------------------------------------


class TestVideoFramesConformance(ToolConformance):
    tool_cls = VideoFrames
    tool_kwargs = {}
    bad_inputs = [({"count": 2}, "video"), ({"video": V_REF, "count": 0}, "count"),
                  ({"video": V_REF, "count": 65}, "count"), ({"video": A_REF}, "video")]

    def make_inputs(self, store):
        video = store.put_video(ramp(6), fps=6)
        gif = store.put_bytes(write_gif(ramp(5), fps=5), "video")
        return [{"video": video, "count": 2}, {"video": gif}, {"video": video, "count": 6}]


class TestVideoAddAudioConformance(ToolConformance):
    tool_cls = VideoAddAudio
    tool_kwargs = {}
    bad_inputs = [({"audio": A_REF}, "video"), ({"video": V_REF}, "audio"),
                  ({"video": V_REF, "audio": A_REF, "volume": 2}, "volume")]

    def make_inputs(self, store):
        video = store.put_video(ramp(6), fps=6)
        return [{"video": video, "audio": tone(store, 1.0, 16000)},
                {"video": video, "audio": tone(store, 0.3, 8000, freq=200)},
                {"video": store.put_bytes(write_gif(ramp(4), 4), "video"),
                 "audio": tone(store, 2.0, 22050)}]


AUDIO_BAD = [({}, "clips"), ({"clips": []}, "clips"), ({"clips": [A_REF] * 17}, "clips"),
             ({"clips": [V_REF]}, "clips")]


class TestAudioMixConformance(ToolConformance):
    tool_cls = AudioMix
    tool_kwargs = {}
    bad_inputs = AUDIO_BAD

    def make_inputs(self, store):
        a, b, c = tone(store, 0.5, 16000), tone(store, 0.3, 8000, 200), tone(store, 0.2, 22050)
        return [{"clips": [a, b]}, {"clips": [c]}, {"clips": [a, b, c]}]


class TestAudioConcatConformance(ToolConformance):
    tool_cls = AudioConcat
    tool_kwargs = {}
    bad_inputs = [*AUDIO_BAD, ({"clips": [A_REF], "gap": -1}, "gap"),
                  ({"clips": [A_REF], "gap": 11}, "gap")]

    def make_inputs(self, store):
        a, b = tone(store, 0.5, 16000), tone(store, 0.3, 8000, 200)
        return [{"clips": [a, b]}, {"clips": [b, a], "gap": 0.1}, {"clips": [a]}]

