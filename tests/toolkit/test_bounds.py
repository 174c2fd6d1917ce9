"""Bad inputs are rejected before any model runs, naming the argument, its value and the limit."""


import pytest
from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import AudioRef, ImageRef
from mmagent.errors import ToolInputError
from mmagent.toolkit import Tool, check_audio_seconds, check_bound, check_image_pixels


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Paint(Tool):
    name = "paint"
    description = "Paints a prompt over an image."

    class Input(_M):
        prompt: str = Field(min_length=1, max_length=20, description="what to paint")
        image: ImageRef | None = Field(None, description="a picture to start from")
        audio: AudioRef | None = Field(None, description="music to paint to")
        steps: int = Field(20, ge=1, le=100, description="denoising steps")
        guidance: float = Field(7.5, gt=0, lt=30, description="prompt strength")
        labels: list[str] = Field(default_factory=list, max_length=3, description="tags")

    class Output(_M):
        image: ImageRef = Field(description="the painting")

    def check_input(self, inp):
        if inp.image is not None:
            check_image_pixels(self, "image", inp.image, max_pixels=512 * 512)
        if inp.audio is not None:
            check_audio_seconds(self, "audio", inp.audio, max_seconds=30)

    def load(self):
        raise AssertionError("bounds are checked before any model loads")


def rejected(args) -> ToolInputError:
    with pytest.raises(ToolInputError) as e:
        Paint().parse_input({"prompt": "a cat", **args})
    assert e.value.code == "tool.bad_input"
    return e.value


@pytest.mark.parametrize("args, arg, message", [
    ({"steps": 500}, "steps", "got 500; expected at most 100"),
    ({"steps": 0}, "steps", "got 0; expected at least 1"),
    ({"guidance": 0}, "guidance", "got 0; expected more than 0"),
    ({"guidance": 30.0}, "guidance", "got 30.0; expected less than 30"),
    ({"prompt": "x" * 25}, "prompt", "got a text of 25 characters; expected at most 20 "
                                     "characters"),
    ({"prompt": ""}, "prompt", "got a text of 0 characters; expected at least 1 character"),
    ({"labels": ["a", "b", "c", "d"]}, "labels", "got a list of 4 items; expected at most 3 "
                                                "items"),
])
def test_pydantic_bounds_name_the_value_and_the_limit(args, arg, message):
    err = rejected(args)
    assert str(err) == f"tool 'paint', argument {arg!r}: {message}"
    assert err.details["arg"] == arg and "limit" in err.details


def test_other_errors_name_the_argument():
    assert "argument 'steps': got 'many'" in str(rejected({"steps": "many"}))
    assert "argument 'colour'" in str(rejected({"colour": "red"}))
    with pytest.raises(ToolInputError, match="argument 'prompt': got nothing"):
        Paint().parse_input({})


def test_media_bounds_are_checked_by_one_shared_helper():
    big = ImageRef(id="0" * 64, mime="image/png", width=1024, height=1024)
    err = rejected({"image": big})
    assert str(err) == ("tool 'paint', argument 'image': got a 1024x1024 image (1048576 "
                        "pixels); expected at most 262144 pixels")
    assert (err.details["value"], err.details["limit"]) == (1048576, 262144)
    long = AudioRef(id="1" * 64, mime="audio/wav", sample_rate=16000, duration_s=95.0)
    assert "got 95.0 s of audio; expected at most 30 s" in str(rejected({"audio": long}))
    small = ImageRef(id="0" * 64, mime="image/png", width=64, height=64)
    assert Paint().parse_input({"prompt": "a cat", "image": small}).image == small


def test_check_bound_for_values_pydantic_cannot_see():
    with pytest.raises(ToolInputError, match=r"argument 'frames': got 64 frames; expected at "
                                             r"most 48 frames"):
        check_bound("video_generate", "frames", 64, le=48, unit="frames")
    check_bound("video_generate", "frames", 48, le=48, unit="frames")


def test_unknown_tool_option_is_a_config_error_naming_the_allowed_ones():
    from mmagent.errors import ConfigError
    from tests.fakes import FakeCaption

    class Strict(FakeCaption):
        name = "strict_caption"
        description = "Describes an image; accepts one option."
        option_names = ("style",)

    Strict(style="terse")  # declared: accepted
    FakeCaption(anything=1)  # no declaration: any option goes
    with pytest.raises(ConfigError, match=r"got option 'colour' .*expected one of \['style'\]"):
        Strict(colour="red")
