"""Workflows over the limits are refused by their size, fast, with plan.limit_exceeded (exit 2):
bytes before parsing, YAML nodes before building, nodes and literal foreach lists before
anything is checked against the tools; `mmagent learn` the same."""

import time

import pytest

from mmagent.artifacts._store import MediaLimits
from mmagent.errors import PlanValidationError
from mmagent.workflows._check import check_limits
from mmagent.workflows._parse import load_workflow
from tests.cli.test_cli import cli


def _nodes(tmp_path, n: int):
    f = tmp_path / f"n{n}.yaml"
    body = "".join(f"  n{i}:\n    tool: image_caption\n    args: {{image: $input.photo}}\n"
                   for i in range(n))
    f.write_text("version: 1\ninputs:\n  photo: {type: image}\nnodes:\n" + body +
                 "outputs:\n  o: $n0.text\n")
    return f


def _foreach(tmp_path, n: int):
    f = tmp_path / f"fe{n}.yaml"
    f.write_text("version: 1\ninputs: {}\nnodes:\n  r:\n    tool: image_resize\n    foreach: ["
                 + ", ".join(["1"] * n) + "]\n    args: {image: $item, width: 8, height: 8}\n"
                 "outputs: {o: $r.image}\n")
    return f


@pytest.mark.parametrize("make", [lambda p: _nodes(p, 20_000), lambda p: _nodes(p, 3_000),
                                  lambda p: _foreach(p, 80_000)],
                         ids=["1MB-20000-nodes", "3000-nodes", "80000-foreach"])
def test_a_huge_workflow_is_refused_within_a_second(tmp_path, make):
    f = make(tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(PlanValidationError):
        check_limits(load_workflow(f), MediaLimits())
    assert time.perf_counter() - t0 < 1.0


def test_a_megabyte_is_refused_by_its_bytes(tmp_path):
    f = _nodes(tmp_path, 20_000)
    with pytest.raises(PlanValidationError, match=r"got \d+ bytes; expected at most") as e:
        load_workflow(f)
    assert e.value.code == "plan.limit_exceeded"


def test_a_literal_foreach_over_max_foreach_is_limit_exceeded_exit_2(monkeypatch, capsys,
                                                                    tmp_path):
    cfg = tmp_path / "limits.yaml"
    cfg.write_text("limits:\n  max_foreach: 3\n")
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", str(_foreach(tmp_path, 5)),
                         "--config", str(cfg))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("error[plan.limit_exceeded]: ") and "limits.max_foreach" in err
    code, _, err = cli(monkeypatch, capsys, "workflow", "validate", str(_foreach(tmp_path, 5)),
                       "--config", str(cfg))
    assert code == 2 and err.startswith("error[plan.limit_exceeded]: "), err


def test_learn_of_a_huge_plan_is_refused_fast(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MMAGENT_CACHE", str(tmp_path / "cache"))
    f = _nodes(tmp_path, 1_000)
    t0 = time.perf_counter()
    code, _, err = cli(monkeypatch, capsys, "learn", "caption it", str(f))
    assert code == 2 and err.startswith("error[plan.limit_exceeded]: "), err
    assert "limits.max_tasks" in err
    assert time.perf_counter() - t0 < 5.0  # the agent's start-up included
