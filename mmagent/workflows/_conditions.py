"""``when`` conditions of workflow nodes: a small, safe expression language (no ``eval``).

A condition is one of

- a reference (``$input.speak``, ``$caption.text``): true when the value is truthy;
- ``{all: [cond, ...]}``, ``{any: [cond, ...]}``, ``{not: cond}``;
- a comparison mapping, reference to operators; every operator given must hold:
  ``{$input.mode: {equals: fast}}``, ``{$input.n: {gt: 2, le: 10}}``,
  ``{$input.lang: {in: [en, fr]}}``, ``{$caption.text: {contains: dog}}``,
  ``{$input.folder: {empty: false}}``.

>>> c = parse_condition({"$input.n": {"gt": 2}})
>>> evaluate(c, {"$input.n": 3}.__getitem__)
True
>>> evaluate(parse_condition({"not": "$input.quiet"}), {"$input.quiet": False}.__getitem__)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

__all__ = ["Condition", "Compare", "AllOf", "AnyOf", "NotOf", "RefStr", "parse_condition",
           "evaluate", "condition_refs", "COMPARE_OPS"]

REF_PATTERN = r"^\$[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"
RefStr = Annotated[str, Field(pattern=REF_PATTERN,
                              description="$input.<name> or $<node>.<field>")]
COMPARE_OPS = ("equals", "not_equals", "in", "not_in", "contains", "gt", "ge", "lt", "le",
               "empty")
NUMERIC_OPS = ("gt", "ge", "lt", "le")


class Compare(BaseModel):
    """Operators applied to one referenced value; all that are given must hold."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    equals: Any = Field(None, description="the value equals this")
    not_equals: Any = Field(None, description="the value differs from this")
    in_: list[Any] | None = Field(None, alias="in", description="the value is one of these")
    not_in: list[Any] | None = Field(None, description="the value is none of these")
    contains: Any = Field(None, description="the text contains this substring, or the list "
                          "this item")
    gt: float | None = Field(None, description="the number is greater than this")
    ge: float | None = Field(None, description="the number is at least this")
    lt: float | None = Field(None, description="the number is less than this")
    le: float | None = Field(None, description="the number is at most this")
    empty: bool | None = Field(None, description="true: the value is missing, empty text or an "
                               "empty list; false: it is not")

    @model_validator(mode="after")
    def _one_op(self) -> Compare:
        if not self.model_fields_set:
            raise ValueError(f"expected at least one operator among {list(COMPARE_OPS)}")
        return self

    def ops(self) -> Iterator[tuple[str, Any]]:
        for name in self.model_fields_set:
            yield ("in" if name == "in_" else name), getattr(self, name)


class AllOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: list[Condition] = Field(min_length=1, description="every condition holds")


class AnyOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    any: list[Condition] = Field(min_length=1, description="at least one condition holds")


class NotOf(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    not_: Condition = Field(alias="not", description="the condition does not hold")


Condition = RefStr | AllOf | AnyOf | NotOf | dict[RefStr, Compare]
for _m in (AllOf, AnyOf, NotOf):
    _m.model_rebuild()
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Condition)


def parse_condition(raw: Any) -> Any:
    """Validate a raw condition (from YAML); raises pydantic's ``ValidationError``."""
    return _ADAPTER.validate_python(raw)


def _leaves(cond: Any) -> Iterator[Any]:
    """The tests inside ``all``/``any``/``not``: reference strings and comparison mappings."""
    if isinstance(cond, AllOf | AnyOf):
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            yield from _leaves(c)
    elif isinstance(cond, NotOf):
        yield from _leaves(cond.not_)
    else:
        yield cond


def condition_refs(cond: Any) -> Iterator[str]:
    """Every reference a condition reads."""
    for leaf in _leaves(cond):
        if isinstance(leaf, str):
            yield leaf
        elif isinstance(leaf, dict):
            yield from leaf


def numeric_refs(cond: Any) -> Iterator[str]:
    """References compared with gt/ge/lt/le (they must be numbers)."""
    for leaf in _leaves(cond):
        if isinstance(leaf, dict):
            for ref, cmp in leaf.items():
                if any(op in NUMERIC_OPS for op, _ in cmp.ops()):
                    yield ref


def evaluate(cond: Any, resolve: Callable[[str], Any]) -> bool:
    """Whether ``cond`` holds; ``resolve`` maps a reference string to its value."""
    if isinstance(cond, str):
        return bool(resolve(cond))
    if isinstance(cond, AllOf):
        return all(evaluate(c, resolve) for c in cond.all)
    if isinstance(cond, AnyOf):
        return any(evaluate(c, resolve) for c in cond.any)
    if isinstance(cond, NotOf):
        return not evaluate(cond.not_, resolve)
    return all(_holds(resolve(ref), op, arg) for ref, cmp in cond.items() for op, arg in cmp.ops())


def _holds(value: Any, op: str, arg: Any) -> bool:
    if op == "equals":
        return value == arg
    if op == "not_equals":
        return value != arg
    if op == "in":
        return value in arg
    if op == "not_in":
        return value not in arg
    if op == "contains":
        return isinstance(value, str | list) and arg in value
    if op == "empty":
        return (value is None or value == "" or value == [] or value == {}) == arg
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False  # validation refuses non-numbers here; a missing value compares false
    return {"gt": value > arg, "ge": value >= arg, "lt": value < arg, "le": value <= arg}[op]
