"""A video's pixel limit is checked from its stream header, before any frame is decoded."""

import imageio_ffmpeg
import numpy as np
import pytest

from mmagent.artifacts import ArtifactStore, write_mp4
from mmagent.artifacts._store import MediaLimits
from mmagent.artifacts._video import header_size
from mmagent.errors import MediaLimitError


def _mp4(w, h) -> bytes:
    return write_mp4([np.zeros((h, w, 3), np.uint8)] * 2, fps=2)


def test_header_size_reads_the_size_without_decoding(tmp_path):
    f = tmp_path / "v.mp4"
    f.write_bytes(_mp4(64, 48))
    assert header_size(f) == (64, 48)


def test_too_many_pixels_is_refused_before_a_frame_is_decoded(tmp_path, monkeypatch):
    data = _mp4(128, 96)

    def no_decoding(*a, **k):
        raise AssertionError("a frame was decoded before the pixel limit was checked")

    monkeypatch.setattr(imageio_ffmpeg, "read_frames", no_decoding)
    store = ArtifactStore(tmp_path / "store", limits=MediaLimits(max_image_pixels=5_000))
    with pytest.raises(MediaLimitError, match=r"got 128x96 video frames .* "
                                              r"\(limits.max_image_pixels\)"):
        store.put_bytes(data, "video")


def test_an_audio_header_claiming_too_many_channels_is_refused_before_decoding(tmp_path):
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros((16, 40), np.float32), 8000, format="WAV", subtype="PCM_16")
    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(MediaLimitError, match="got 40 channels at 8000 Hz"):
        store.put_bytes(buf.getvalue(), "audio")


def _h264(w, h, frames=2) -> bytes:
    """A raw H.264 stream (Annex B: its SPS in-band) of ``frames`` frames of w x h."""
    import subprocess

    from mmagent.artifacts._video import ffmpeg_exe

    return subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         f"testsrc=s={w}x{h}:r=2", "-frames:v", str(frames), "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-f", "h264", "-"], capture_output=True, check=True).stdout


@pytest.fixture
def spoofed(tmp_path) -> bytes:
    """An MP4 whose container and codec headers say 64x48 (the first frame's SPS), and whose
    later frames decode at 128x96 (an SPS of their own, in-band)."""
    import subprocess

    from mmagent.artifacts._video import ffmpeg_exe

    stream = tmp_path / "both.h264"
    stream.write_bytes(_h264(64, 48) + _h264(128, 96))
    out = tmp_path / "spoofed.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-r", "2", "-i",
                    str(stream), "-c", "copy", str(out)], check=True)
    return out.read_bytes()


def test_a_header_that_lies_about_the_frame_size_is_still_refused(tmp_path, spoofed):
    f = tmp_path / "v.mp4"
    f.write_bytes(spoofed)
    assert header_size(f) == (64, 48)  # the header passes a 5,000-pixel limit...
    store = ArtifactStore(tmp_path / "store", limits=MediaLimits(max_image_pixels=5_000))
    with pytest.raises(MediaLimitError, match=r"got 128x96 video frames .* "
                                              r"\(limits.max_image_pixels\)"):
        store.put_bytes(spoofed, "video")  # ...the frames the decoder meets do not
    # under a limit they keep, the same file is a plain video
    ref = ArtifactStore(tmp_path / "big", limits=MediaLimits(max_image_pixels=20_000)).put_bytes(
        spoofed, "video")
    assert (ref.width, ref.height) == (64, 48) and ref.frames > 2  # frames of both sizes


def test_the_decoder_size_is_checked_before_a_frame_is_read(tmp_path, monkeypatch):
    """A container with no size of its own (no track header): the size the decoder reads from
    the stream is checked before a frame comes through the pipe."""
    from mmagent.artifacts import VideoTooLargeError, _video, probe_video, read_frames

    f = tmp_path / "v.mp4"
    f.write_bytes(_mp4(128, 96))
    monkeypatch.setattr(_video, "header_size", lambda *a, **k: None)
    with pytest.raises(VideoTooLargeError) as e:
        probe_video(f, max_pixels=5_000)
    assert (e.value.width, e.value.height) == (128, 96)
    with pytest.raises(VideoTooLargeError):
        read_frames(f, [0], max_pixels=5_000)
    assert probe_video(f, max_pixels=20_000).frames == 2
