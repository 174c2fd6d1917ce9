import io
import random

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mmagent.artifacts import ArtifactStore, MediaLimits
from mmagent.errors import InputNotFoundError, InvalidMediaError, MediaLimitError, WrongKindError


def png_bytes(w=6, h=4, color=(255, 0, 0)):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def stored_files(store):
    return sorted(p.name for p in (store.root / "objects").rglob("*") if p.is_file())


def test_image_file_is_validated_stored_and_deduplicated(store, tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(png_bytes())
    ref = store.put_file(f, "image")
    assert (ref.kind, ref.mime, ref.width, ref.height) == ("image", "image/png", 6, 4)
    assert store.put_file(f, "image") == ref  # same bytes, same id
    assert store.get(ref.id) == ref
    assert store.load_image(ref).getpixel((0, 0)) == (255, 0, 0)
    assert len(stored_files(store)) == 2  # the bytes and their metadata, once


def test_corrupt_image_is_refused_and_nothing_is_left(store, tmp_path):
    f = tmp_path / "broken.png"
    f.write_bytes(png_bytes()[:50])
    with pytest.raises(InvalidMediaError) as e:
        store.put_file(f, "image")
    assert str(e.value) == (f"got a PNG image of 50 bytes ({f}) that does not decode (image file "
                            "is truncated); expected a complete image (PNG, JPEG, WebP, GIF, BMP "
                            "or TIFF)")
    assert stored_files(store) == []
    assert list((store.root / "tmp").iterdir()) == []


def test_missing_file_is_input_not_found(store, tmp_path):
    with pytest.raises(InputNotFoundError, match="nope.png"):
        store.put_file(tmp_path / "nope.png", "image")


def test_limits_name_the_value_and_the_limit(tmp_path):
    store = ArtifactStore(tmp_path, MediaLimits(max_image_pixels=100, max_audio_seconds=1.0,
                                                max_bytes=10_000))
    with pytest.raises(MediaLimitError, match=r"20x20 image \(400 pixels\).*at most 100"):
        store.put_bytes(png_bytes(20, 20), "image")
    buf = io.BytesIO()
    sf.write(buf, np.zeros(2400, dtype=np.float32), 1000, format="WAV")
    with pytest.raises(MediaLimitError, match=r"2.4 s of audio.*at most 1 s"):
        store.put_bytes(buf.getvalue(), "audio")
    with pytest.raises(MediaLimitError, match="limits.max_bytes"):
        store.put_bytes(b"\0" * 20_000, "image")
    assert stored_files(store) == []


def test_audio_round_trip(store):
    samples = 0.5 * np.sin(np.linspace(0, 100, 8000)).astype(np.float32)
    ref = store.put_audio(samples, 16000)
    assert (ref.mime, ref.sample_rate, ref.duration_s) == ("audio/wav", 16000, 0.5)
    back, sr = store.load_audio(ref)
    assert sr == 16000 and np.allclose(back, samples, atol=1e-3)


def test_media_of_another_kind_is_named_for_what_it_is(store):
    png = png_bytes()
    with pytest.raises(WrongKindError) as e:
        store.put_bytes(png, "audio", source="clip.wav")
    assert str(e.value) == (f"got a PNG image of {len(png)} bytes (clip.wav); expected an audio "
                            "file (WAV, FLAC, OGG or MP3)")
    buf = io.BytesIO()
    sf.write(buf, np.zeros(800, dtype=np.float32), 8000, format="WAV")
    wav = buf.getvalue()
    with pytest.raises(WrongKindError) as e:
        store.put_bytes(wav, "image", source="photo.png")
    assert str(e.value) == (f"got a WAV audio file of {len(wav)} bytes (photo.png); expected an "
                            "image (PNG, JPEG, WebP, GIF, BMP or TIFF)")
    with pytest.raises(WrongKindError, match="^got a WAV audio file .*; expected a video"):
        store.put_bytes(wav, "video")
    assert stored_files(store) == []


@pytest.mark.parametrize("kind, noun, formats", [
    ("image", "an image", "PNG, JPEG, WebP, GIF, BMP or TIFF"),
    ("audio", "an audio file", "WAV, FLAC, OGG or MP3"),
    ("video", "a video", "MP4, WebM, GIF or AVI")])
def test_bytes_that_are_no_media_say_so_in_words(store, kind, noun, formats):
    data = random.Random(7).randbytes(512)
    with pytest.raises(InvalidMediaError) as e:
        store.put_bytes(data, kind, source="upload.bin")
    assert type(e.value) is InvalidMediaError and e.value.code == "input.invalid_media"
    assert str(e.value) == (f"got a file of 512 bytes (upload.bin) that is not a readable "
                            f"{noun.split(' ', 1)[1]} ({formats}); expected {noun}")


def test_video_container_is_recognised_or_refused(store):
    frames = [np.full((16, 24, 3), 30 * i, np.uint8) for i in range(5)]
    ref = store.put_video(frames, fps=10)
    assert ref.mime == "video/mp4" and store.path(ref).suffix == ".mp4"
    assert (ref.width, ref.height, ref.frames, ref.fps, ref.duration_s) == (24, 16, 5, 10.0, 0.5)
    assert store.put_file(store.path(ref), "video") == ref
    with pytest.raises(InvalidMediaError, match="^got a file of 24 bytes .*not a readable video"):
        store.put_bytes(b"hello world, not a video", "video")
    # an MP4 header over garbage is refused too: the store decodes a frame on the way in
    with pytest.raises(InvalidMediaError) as e:
        store.put_bytes(b"\0\0\0\x18ftypmp42" + b"\0" * 100, "video")
    assert str(e.value).startswith("got an MP4 video of 112 bytes (the data) that does not "
                                   "decode (ffmpeg could not ")
    assert str(e.value).endswith("); expected a complete video (MP4, WebM, GIF or AVI)")
    assert "<" not in str(e.value) and "mmagent-probe" not in str(e.value)
    assert stored_files(store) == sorted([ref.id + ".json", ref.id + ".mp4"])


def test_video_longer_than_the_limit_is_refused(tmp_path):
    store = ArtifactStore(tmp_path / "s", MediaLimits(max_video_seconds=1.0))
    frames = [np.zeros((16, 16, 3), np.uint8)] * 12
    assert store.put_video(frames, fps=12).duration_s == 1.0
    with pytest.raises(MediaLimitError, match=r"got 2\.0 s of video .* at most 1 s"):
        store.put_video(frames, fps=6)


def test_unknown_artifact_id(store):
    with pytest.raises(InputNotFoundError, match="expected the id of a stored artifact"):
        store.get("0" * 64)
    with pytest.raises(InputNotFoundError):
        store.get("../../etc/passwd")
