"""video_generate on a tiny random-weight AnimateDiff (base pipeline + motion adapter), loaded
through from_pretrained like the real checkpoints."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmagent.artifacts import probe_video, read_frames
from mmagent.errors import ToolInputError
from mmagent.toolkit import ToolContext
from mmagent.tools.video_generate import VideoGenerate

from .conformance import ToolConformance
from .sdk import run_plan

A_REF = {"id": "0" * 64, "mime": "image/png"}
SMALL = {"width": 32, "height": 32, "frames": 4, "steps": 2}


@pytest.fixture(scope="module")
def tool():
    tool = VideoGenerate(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def test_base_and_motion_adapter_are_reloaded_from_their_directories(tool):
    from diffusers import AnimateDiffPipeline, MotionAdapter, UNetMotionModel

    path = Path(tool.checkpoint_path())
    assert (path / "model_index.json").is_file()
    assert (path / "motion_adapter" / "config.json").is_file()
    assert isinstance(tool.model, AnimateDiffPipeline)
    assert isinstance(tool.model.unet, UNetMotionModel)
    assert isinstance(tool.model.motion_adapter, MotionAdapter)


def test_a_configured_dtype_reaches_every_component_of_both_pipelines():
    # CUDA resolves bf16; the pipelines must not silently stay float32 (loading checked on CPU)
    import torch

    tool = VideoGenerate(checkpoint="tiny", device="cpu", dtype="bfloat16")
    tool.ensure_loaded()
    for pipe in (tool.model, tool.animate_image):
        modules = {n: c for n, c in pipe.components.items() if isinstance(c, torch.nn.Module)}
        assert {"unet", "vae", "text_encoder"} <= modules.keys()
        assert {n: m.dtype for n, m in modules.items()} == dict.fromkeys(modules, torch.bfloat16)


def test_video_is_a_browser_playable_mp4_with_a_gif_preview(tool, store):
    out = tool.run([tool.parse_input({**SMALL, "prompt": "waves on a beach", "frames": 6,
                                      "fps": 12})], ToolContext(store))[0]
    info = probe_video(store.path(out.video))
    assert (info.codec, info.pix_fmt, info.frames, info.fps) == ("h264", "yuv420p", 6, 12.0)
    assert out.video.duration_s == pytest.approx(0.5)
    assert (out.frames, out.fps) == (6, 12)
    with Image.open(store.path(out.preview)) as gif:
        assert gif.format == "GIF" and gif.n_frames == 6
    frames = [np.asarray(f, dtype=float) for f in read_frames(store.path(out.video))]
    change = max(np.abs(a - b).mean() for a, b in zip(frames, frames[1:], strict=False))
    assert change > 0.5, "a still video"


def test_a_first_image_steers_the_video(tool, store):
    # The tiny random VAE loses colour, so only "different first image, different video" is
    # a claim it can back; with real weights the clip starts from the picture.
    ctx = ToolContext(store)
    red = store.put_image(Image.new("RGB", (64, 48), (255, 0, 0)))
    noise = store.put_image(Image.fromarray(
        (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)))
    args = {**SMALL, "prompt": "a cat", "steps": 4, "strength": 0.5}
    outs = tool.run([tool.parse_input({**args, "image": red}),
                     tool.parse_input({**args, "image": noise}),
                     tool.parse_input(args)], ctx)
    assert len({o.video.id for o in outs}) == 3
    assert all(o.video.frames == 4 for o in outs)


def test_progress_counts_the_steps_that_run(tool, store):
    events = []
    ctx = ToolContext(store, emit=events.append)
    image = store.put_image(Image.new("RGB", (32, 32)))
    tool.run([tool.parse_input({**SMALL, "prompt": "a cat", "steps": 3}),
              tool.parse_input({**SMALL, "prompt": "a dog", "steps": 4, "image": image,
                                "strength": 0.5})], ctx)
    assert [(e.step, e.total) for e in events] == [(i, 5) for i in range(1, 6)]  # 3 + 4 x 0.5


def test_too_little_strength_for_the_steps_is_refused_before_running(tool, store):
    image = store.put_image(Image.new("RGB", (32, 32)))
    with pytest.raises(ToolInputError, match="strength.*got 0.3 with 2 steps") as e:
        tool.parse_input({**SMALL, "prompt": "a cat", "image": image, "strength": 0.3})
    assert e.value.details["arg"] == "strength"


def test_video_generate_through_the_sdk(tmp_path):
    result = run_plan(tmp_path, [
        {"id": "t1", "tool": "video_generate", "args": {"prompt": "waves on a beach"}},
    ], deliver=("video",), prompt="Make a short video of waves on a beach")
    kinds = sorted((a.kind, a.mime) for a in result.artifacts)
    assert kinds == [("image", "image/gif"), ("video", "video/mp4")]
    video = next(a for a in result.artifacts if a.kind == "video")
    assert probe_video(video.path).frames == 8  # the tiny checkpoint's default frame count
    assert result.outputs["t1"]["frames"] == 8


class TestVideoGenerateConformance(ToolConformance):
    tool_cls = VideoGenerate
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    bad_inputs = [
        ({"frames": 4}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "a cat", "frames": 1}, "frames"),
        ({"prompt": "a cat", "frames": 33}, "frames"),
        ({"prompt": "a cat", "fps": 0}, "fps"),
        ({"prompt": "a cat", "fps": 61}, "fps"),
        ({"prompt": "a cat", "steps": 0}, "steps"),
        ({"prompt": "a cat", "width": 36}, "width"),
        ({"prompt": "a cat", "width": 1024, "height": 1024}, "height"),
        ({"prompt": "a cat", "strength": 0}, "strength"),
        ({"prompt": "a cat", "image": "cat.png"}, "image"),
        ({"prompt": "a cat", "duration": 3}, "duration"),
    ]

    def make_inputs(self, store):
        first = store.put_image(Image.new("RGB", (40, 40), (200, 30, 30)))
        return [
            {**SMALL, "prompt": "a cat", "seed": 1},
            {**SMALL, "prompt": "waves on a beach", "negative_prompt": "blurry", "fps": 4},
            {**SMALL, "prompt": "a red car", "image": first, "steps": 3, "seed": 3},
        ]
