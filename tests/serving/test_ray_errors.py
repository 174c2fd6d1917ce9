"""Errors crossing from a tool replica to the ingress keep their class, code and details."""

from mmagent.errors import ToolExecutionError, ToolInputError, UnresolvedReferenceError
from mmagent.serving.ray.retries import MAX_MESSAGE, error_from_dict, error_to_dict


def test_an_mmagent_error_comes_back_as_its_own_class_with_its_details():
    sent = UnresolvedReferenceError("got $t9.text for text; expected an earlier task",
                                    task="t2", arg="text")
    got = error_from_dict(error_to_dict(sent))
    assert type(got) is UnresolvedReferenceError and got.code == "plan.unresolved_reference"
    assert (got.task, got.arg, str(got)) == ("t2", "text", str(sent))
    assert isinstance(error_from_dict(error_to_dict(ToolInputError("x"))), ToolInputError)


def test_other_errors_become_tool_failures_named_after_their_class():
    got = error_from_dict(error_to_dict(ValueError("bad shape")))
    assert type(got) is ToolExecutionError and str(got) == "ValueError: bad shape"


def test_an_unknown_class_keeps_its_code_and_a_long_message_is_cut():
    data = {"type": "somewhere.else:PluginError", "code": "plugin.broken",
            "message": "x" * 100_000}
    got = error_from_dict(data)
    assert type(got) is ToolExecutionError and got.code == "plugin.broken"
    assert len(str(error_to_dict(ToolExecutionError("y" * 100_000))["message"])) <= \
        MAX_MESSAGE + 10
