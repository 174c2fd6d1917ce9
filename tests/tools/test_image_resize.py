"""image_resize: scale, crop or stretch an image with PIL; no model."""

import numpy as np
import pytest
from PIL import Image

from mmagent.artifacts import ArtifactStore, MediaLimits
from mmagent.errors import ToolInputError
from mmagent.toolkit import ToolContext
from mmagent.tools.image_resize import image_resize

from .conformance import ToolConformance

A_REF = {"id": "0" * 64, "mime": "image/png"}  # parses as an ImageRef; never loaded


def halves(store, size=(80, 40)):
    """Red on the left half, blue on the right: which part survived a crop can be read back."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[:, : size[0] // 2] = (255, 0, 0)
    pixels[:, size[0] // 2:] = (0, 0, 255)
    return store.put_image(Image.fromarray(pixels))


@pytest.mark.parametrize("args,size", [
    ({"width": 30, "height": 30}, (30, 15)),                     # fit inside: aspect kept
    ({"width": 40, "height": 8192}, (40, 20)),                   # fit to a width alone
    ({"width": 160, "height": 100}, (160, 80)),                  # up as well as down
    ({"width": 30, "height": 30, "mode": "fill"}, (30, 30)),     # exactly, centre cropped
    ({"width": 30, "height": 30, "mode": "stretch"}, (30, 30)),
])
def test_sizes_follow_the_mode(store, args, size):
    out = image_resize()(ToolContext(store), image=halves(store), **args)
    assert (out.image.width, out.image.height) == size
    assert store.load_image(out.image).size == size


def test_fill_crops_the_centre_and_stretch_keeps_everything(store):
    ctx = ToolContext(store)
    filled = store.load_image(image_resize()(ctx, image=halves(store), width=20, height=40,
                                             mode="fill").image)
    stretched = store.load_image(image_resize()(ctx, image=halves(store), width=20, height=40,
                                                mode="stretch").image)
    assert filled.getpixel((2, 20))[0] > 200 and filled.getpixel((17, 20))[2] > 200
    assert stretched.getpixel((1, 20))[0] > 200 and stretched.getpixel((18, 20))[2] > 200


def test_more_pixels_than_the_store_accepts_is_an_input_error_before_resampling(tmp_path):
    store = ArtifactStore(tmp_path / "s", MediaLimits(max_image_pixels=100 * 100))
    with pytest.raises(ToolInputError, match=r"200x100 \(20000 pixels\).*at most 10000") as e:
        image_resize()(ToolContext(store), image=halves(store), width=200, height=200)
    assert (e.value.details["arg"], e.value.details["limit"]) == ("width", 10000)


class TestImageResizeConformance(ToolConformance):
    tool_cls = image_resize
    tool_kwargs = {}
    bad_inputs = [
        ({"width": 10, "height": 10}, "image"),
        ({"image": A_REF, "height": 10}, "width"),
        ({"image": A_REF, "width": 0, "height": 10}, "width"),
        ({"image": A_REF, "width": 10, "height": 8193}, "height"),
        ({"image": A_REF, "width": 10, "height": 10, "mode": "crop"}, "mode"),
        ({"image": A_REF, "width": 10, "height": 10, "quality": 90}, "quality"),
    ]

    def make_inputs(self, store):
        ref = halves(store)
        return [{"image": ref, "width": 32, "height": 32},
                {"image": ref, "width": 20, "height": 20, "mode": "fill"},
                {"image": halves(store, (33, 17)), "width": 50, "height": 50, "mode": "stretch"}]
