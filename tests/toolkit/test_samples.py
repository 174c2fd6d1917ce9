"""Sample inputs derived from a tool's ports, and the bench that runs every tool on them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmagent.toolkit import Tool, ToolRegistry
from tests.fakes import FakeCaption, FakeSleep, FakeSpeak

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cls", [FakeCaption, FakeSpeak, FakeSleep])
def test_default_example_inputs_are_valid_and_distinct(cls, store):
    examples = cls.example_inputs(store)
    assert len(examples) == 3
    parsed = [cls().parse_input(a) for a in examples]
    assert len({p.model_dump_json() for p in parsed}) == 3


def test_example_inputs_is_overridable(store):
    class Custom(FakeSleep):
        name = "custom_sleep"

        @classmethod
        def example_inputs(cls, store):
            return [{"label": "x", "seconds": 0}]

    assert Custom.example_inputs(store) == [{"label": "x", "seconds": 0}]
    assert Tool.example_inputs.__func__ is not Custom.example_inputs.__func__


@pytest.mark.parametrize("name", ToolRegistry.discover().names())
def test_every_registered_tools_example_inputs_pass_its_own_input_model(name, store):
    cls = ToolRegistry.discover().tool_class(name)
    examples = cls.example_inputs(store)
    assert examples, name
    for args in examples:
        cls.Input.model_validate(args)  # ImageSearch's used to fail here


def test_bench_prints_one_json_object_with_a_ratio_per_tool():
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "tools.py"), "--json", "--no-rss",
                          "--tools", "text_to_speech", "--batch", "2", "--repeat", "1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    (row,) = out["tools"]
    assert row["tool"] == "text_to_speech" and row["kind"] == "model"
    assert "error" not in row, row["error"]
    assert row["ratio"] > 0
