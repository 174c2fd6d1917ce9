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
