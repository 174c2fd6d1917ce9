import pytest

from mmagent.errors import (
    ArgumentSchemaError,
    CycleError,
    DuplicateTaskError,
    TypeMismatchError,
    UnknownToolError,
    UnresolvedReferenceError,
)
from mmagent.plan import Plan, collect_errors, validate
from tests.fakes import fake_registry

INPUTS = {"image0": "image", "audio0": "audio"}


def plan(*tasks):
    return Plan.model_validate({"tasks": [{"id": i, "tool": t, "args": a} for i, t, a in tasks]})


@pytest.fixture(scope="module")
def reg():
    return fake_registry()


def test_valid_chain_passes(reg):
    p = plan(("t1", "fake_caption", {"image": "$input.image0"}),
             ("t2", "fake_speak", {"text": "$t1.text"}))
    assert collect_errors(p, reg, INPUTS) == []


@pytest.mark.parametrize("tasks, error, task, arg, words", [
    ([("t1", "fake_painter", {"image": "$input.image0"})], UnknownToolError, "t1", None,
     "fake_painter"),
    ([("t1", "fake_caption", {"image": "$input.image0"}),
      ("t1", "fake_caption", {"image": "$input.image0"})], DuplicateTaskError, "t1", None, "twice"),
    ([("t1", "fake_caption", {"image": "$input.image3"})], UnresolvedReferenceError, "t1",
     "image", "$input.image3"),
    ([("t1", "fake_speak", {"text": "$t9.text"})], UnresolvedReferenceError, "t1", "text",
     "no task 't9'"),
    ([("t1", "fake_caption", {"image": "$input.image0"}),
      ("t2", "fake_speak", {"text": "$t1.words"})], UnresolvedReferenceError, "t2", "text",
     "no output 'words'"),
    ([("t1", "fake_caption", {"image": "$input.audio0"})], TypeMismatchError, "t1", "image",
     "type audio; expected image"),
    ([("t1", "fake_speak", {"text": "hello"}),
      ("t2", "fake_caption", {"image": "$t1.audio"})], TypeMismatchError, "t2", "image",
     "type audio; expected image"),
    ([("t1", "fake_caption", {"image": "photo.jpg"})], ArgumentSchemaError, "t1", "image",
     "literal 'photo.jpg'"),
    ([("t1", "fake_speak", {"text": ""})], ArgumentSchemaError, "t1", "text", "at least 1"),
    ([("t1", "fake_speak", {})], ArgumentSchemaError, "t1", "text", "missing"),
    ([("t1", "fake_speak", {"text": "hi", "volume": 3})], ArgumentSchemaError, "t1", "volume",
     "no argument 'volume'"),
    ([("t1", "fake_sleep", {"label": "a", "after": "$t2.text"}),
      ("t2", "fake_sleep", {"label": "b", "after": "$t1.text"})], CycleError, "t1", None,
     "cycle"),
    ([("t1", "fake_sleep", {"label": "a", "after": "$t1.text"})], CycleError, "t1", "after",
     "own output"),
])
def test_each_error_kind_names_task_and_argument(reg, tasks, error, task, arg, words):
    errors = collect_errors(plan(*tasks), reg, INPUTS)
    assert errors, "expected the plan to be rejected"
    first = errors[0]
    assert type(first) is error
    assert (first.task, first.arg) == (task, arg)
    assert words in first.message
    with pytest.raises(error):
        validate(plan(*tasks), reg, INPUTS)


def test_error_codes_are_distinct():
    kinds = [UnknownToolError, DuplicateTaskError, CycleError, UnresolvedReferenceError,
             TypeMismatchError, ArgumentSchemaError]
    assert len({k.code for k in kinds}) == len(kinds)


def test_unknown_tool_suggests_close_name(reg):
    errors = collect_errors(plan(("t1", "fake_caption_", {})), reg, INPUTS)
    assert "did you mean 'fake_caption'" in errors[0].message
