"""``@tool``: a typed function becomes a Tool whose card, bounds and outputs follow from its
signature, type hints and docstring, checked when it is defined."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

import pytest
from PIL import Image
from pydantic import Field

from mmagent.artifacts import ImageRef
from mmagent.errors import ToolExecutionError, ToolInputError
from mmagent.toolkit import Ports, Tool, ToolContext, ToolRegistry, tool


@tool(output="image")
def flip(ctx: ToolContext, image: ImageRef,
         axis: Literal["horizontal", "vertical"] = "horizontal") -> ImageRef:
    """Mirrors a picture.

    Args:
        image: the picture
        axis: which way to mirror it; the
            other axis stays as it is

    Returns:
        the mirrored picture (PNG)
    """
    method = (Image.Transpose.FLIP_LEFT_RIGHT if axis == "horizontal"
              else Image.Transpose.FLIP_TOP_BOTTOM)
    return ctx.store.put_image(ctx.store.load_image(image).transpose(method))


class Stats(TypedDict):
    mean: Annotated[float, Field(description="the average")]
    count: int


@tool(name="number_stats")
def stats(values: Annotated[list[float], Field(min_length=1, max_length=5)]) -> Stats:
    """Averages numbers.

    Args:
        values: the numbers

    Returns:
        count: how many there were
    """
    return {"mean": sum(values) / len(values), "count": len(values)}


def test_ports_come_from_the_signature_and_the_docstring():
    assert issubclass(flip, Tool) and flip.__name__ == "Flip" and flip.name == "flip"
    card = flip.card()
    assert card["description"] == "Mirrors a picture."
    assert card["inputs"] == {
        "image": {"type": "image", "description": "the picture", "required": True},
        "axis": {"type": "text", "description": "which way to mirror it; the other axis stays "
                 "as it is", "required": False, "default": "horizontal"}}
    assert card["outputs"] == {"image": {"type": "image", "required": True,
                                         "description": "the mirrored picture (PNG)"}}
    assert flip.category == "utility" and flip.deterministic


def test_the_function_runs_once_per_input_with_the_context(store):
    ref = store.put_image(Image.new("RGB", (4, 2), (200, 0, 0)))
    tool_ = flip()
    outs = tool_.run([tool_.parse_input({"image": ref}),
                      tool_.parse_input({"image": ref, "axis": "vertical"})], ToolContext(store))
    assert [(o.image.width, o.image.height) for o in outs] == [(4, 2), (4, 2)]


def test_a_typed_dict_gives_several_outputs_and_annotated_bounds_are_checked():
    assert stats.name == "number_stats"
    assert stats.card()["outputs"] == {
        "mean": {"type": "number", "description": "the average", "required": True},
        "count": {"type": "integer", "description": "how many there were", "required": True}}
    out = stats()(values=[1.0, 2.0, 6.0])
    assert (out.mean, out.count) == (3.0, 3)
    with pytest.raises(ToolInputError, match="at most 5 items") as e:
        stats().parse_input({"values": [1.0] * 6})
    assert e.value.details["arg"] == "values"


class Pair(Ports):
    low: float = Field(description="the smaller")
    high: float = Field(description="the larger")


def test_a_pydantic_model_gives_the_outputs_and_registers_like_any_tool():
    @tool
    def order(a: float, b: float) -> Pair:
        """Orders two numbers.

        Args:
            a: one number
            b: another
        """
        return Pair(low=min(a, b), high=max(a, b))

    assert order.Output is Pair
    reg = ToolRegistry()
    reg.register(order)
    assert reg.get("order")(a=3, b=1).model_dump() == {"low": 1.0, "high": 3.0}


def test_a_wrong_return_value_is_a_tool_error():
    @tool
    def broken(x: Annotated[int, Field(description="a number")]) -> int:
        """Returns text where it promised a number.

        Returns:
            a number
        """
        return "many"  # type: ignore[return-value]

    with pytest.raises(ToolExecutionError, match="tool 'broken'"):
        broken()(x=1)


def test_declarations_are_checked_when_the_function_is_defined():
    with pytest.raises(TypeError, match="parameter 'x' has no description"):
        @tool
        def undocumented(x: int) -> int:
            """Does something."""
            return x

    with pytest.raises(TypeError, match="parameter 'x' has no type hint"):
        @tool
        def untyped(x) -> int:
            """Does something.

            Args:
                x: a value
            """
            return 1

    with pytest.raises(TypeError, match="expected a return type"):
        @tool
        def no_return(x: Annotated[int, Field(description="a number")]):
            """Does something."""

    with pytest.raises(TypeError, match="non-empty description"):
        @tool
        def silent(x: Annotated[int, Field(description="a number")]
                   ) -> Annotated[int, Field(description="x")]:
            return x

    def answer() -> Annotated[int, Field(description="42")]:
        """Answers."""
        return 42

    with pytest.raises(TypeError, match="snake_case"):
        tool(answer, name="Bad Name")
