"""``image_resize``: an image scaled, cropped or stretched to a given size with PIL (Lanczos).
No model.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> ref = store.put_image(PIL.Image.new("RGB", (400, 300), (200, 30, 30)))
>>> out = image_resize()(ToolContext(store), image=ref, width=100, height=100)
>>> (out.image.width, out.image.height)
(100, 75)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from mmagent.artifacts import ImageRef
from mmagent.errors import ToolInputError
from mmagent.toolkit import ToolContext, tool

__all__ = ["image_resize", "MAX_SIDE"]

MAX_SIDE = 8192
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]


@tool(output="image")
def image_resize(ctx: ToolContext, image: ImageRef, width: Side, height: Side,
                 mode: Literal["fit", "fill", "stretch"] = "fit") -> ImageRef:
    """Resizes an image to a width and height in pixels, e.g. a thumbnail or the size another
    tool needs: 'fit' scales it to fit inside them keeping its aspect ratio, 'fill' scales and
    crops the centre to exactly that size, 'stretch' ignores the aspect ratio.

    Args:
        image: the image to resize
        width: the new width in pixels (with 'fit': the most)
        height: the new height in pixels (with 'fit': the most)
        mode: 'fit' inside width x height (aspect ratio kept), 'fill' it exactly (centre
            cropped) or 'stretch' to it

    Returns:
        the resized image (PNG)
    """
    from PIL import Image, ImageOps

    # 1. the new size, checked before any pixel is touched
    picture = None
    if not (image.width and image.height):  # a ref without its size
        picture = ctx.store.load_image(image)
    w, h = picture.size if picture is not None else (image.width, image.height)
    if mode == "fit":
        scale = min(width / w, height / h)
        width, height = max(1, round(w * scale)), max(1, round(h * scale))
    limit = ctx.store.limits.max_image_pixels
    if width * height > limit:
        raise ToolInputError(
            f"tool 'image_resize', argument 'width': got {width}x{height} ({width * height} "
            f"pixels); expected at most {limit} pixels (limits.max_image_pixels)",
            tool="image_resize", arg="width", value=width * height, limit=limit)
    # 2. resample
    picture = picture or ctx.store.load_image(image)
    if mode == "fill":
        resized = ImageOps.fit(picture, (width, height), Image.Resampling.LANCZOS)
    else:
        resized = picture.resize((width, height), Image.Resampling.LANCZOS)
    return ctx.store.put_image(resized)
