"""Bad input an outside tester threw at the CLI and the SDK: each is refused fast, with a typed
error on one line and the right exit code (issue 11)."""

from __future__ import annotations

import sys
import time

import pytest

from mmagent.cli import main


def cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["mmagent", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "version: 1\n" + "\n".join(lines) + "\nnodes: {}\n"


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_yaml_alias_bomb_is_refused_in_well_under_a_second(monkeypatch, capsys, tmp_path,
                                                             command):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb())
    start = time.perf_counter()
    code, out, err = cli(monkeypatch, capsys, "workflow", command, str(bomb))
    took = time.perf_counter() - start
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error[workflow.invalid]: {bomb}:")
    assert "expands to more than 100000 nodes (through aliases)" in err
    assert took < 30, took  # unbounded, it grew past 12 GB and never finished


def test_a_deeply_nested_workflow_is_workflow_invalid_exit_2(monkeypatch, capsys, tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("version: 1\nnodes:\n  a: " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = cli(monkeypatch, capsys, "workflow", "validate", str(deep))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error[workflow.invalid]: {deep}:3: ")
    assert "got nesting deeper than 100 levels" in err


def test_a_workflow_that_is_not_utf8_is_workflow_invalid_exit_2(monkeypatch, capsys, tmp_path):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("version: 1\n# caf\xe9\nnodes: {}\n".encode("latin-1"))
    code, _, err = cli(monkeypatch, capsys, "workflow", "validate", str(latin))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error[workflow.invalid]: {latin}:2: workflow: got a byte that is "
                          "not UTF-8 (0xe9)")


def test_a_config_alias_bomb_is_config_invalid(monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(_alias_bomb().replace("version: 1\n", "").replace("nodes: {}\n", ""))
    code, _, err = cli(monkeypatch, capsys, "tools", "--config", str(cfg))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("error[config.invalid]: ") and "through aliases" in err
