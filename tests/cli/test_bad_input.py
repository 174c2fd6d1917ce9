"""Bad input an outside tester threw at the CLI and the SDK: each is refused fast, with a typed
error on one line and the right exit code."""

from __future__ import annotations

import time

import pytest

from tests.cli.test_cli import cli


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
    assert "got a document of more than 20000 nodes (aliases expanded)" in err  # workflows
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
    assert err.startswith("error[config.invalid]: ") and "aliases expanded" in err


def _config(tmp_path, **limits) -> str:
    cfg = tmp_path / "limits.yaml"
    cfg.write_text("limits:\n" + "".join(f"  {k}: {v}\n" for k, v in limits.items()))
    return str(cfg)


def test_a_huge_workflow_is_refused_first_naming_limits_max_tasks(monkeypatch, capsys,
                                                                   tmp_path):
    big = tmp_path / "big.yaml"
    nodes = "".join(f"  n{i}:\n    tool: image_caption\n    args: {{image: $input.photo}}\n"
                    for i in range(2_000))
    big.write_text("version: 1\ninputs:\n  photo: {type: image}\nnodes:\n" + nodes +
                   "outputs:\n  o: $n0.text\n")
    code, _, err = cli(monkeypatch, capsys, "workflow", "validate", str(big), "--config",
                       _config(tmp_path, max_tasks=50))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error[plan.limit_exceeded]: {big}:4: nodes: got 2000 nodes; "
                          "expected at most 50 (limits.max_tasks)")


def test_a_foreach_over_more_items_than_limits_max_foreach_runs_nothing(monkeypatch, capsys,
                                                                        tmp_path):
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", "describe_images",
                         *[a for _ in range(4) for a in ("--input",
                                                         "images=examples/photo.png")],
                         "--config", _config(tmp_path, max_foreach=3), "--json")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "got 4 foreach items; expected at most 3 (limits.max_foreach)" in err
    assert err.startswith("error[plan.limit_exceeded]: ")


def test_saving_a_plan_with_a_duplicate_task_id_is_refused_not_silently_merged():
    from mmagent.errors import DuplicateTaskError
    from mmagent.plan import Plan
    from mmagent.workflows import parse_workflow, plan_to_workflow
    from tests.fakes import fake_registry

    reg = fake_registry()
    tasks = [{"id": "a", "tool": "fake_sleep", "args": {"label": "one"}},
             {"id": "a", "tool": "fake_sleep", "args": {"label": "two"}}]
    with pytest.raises(DuplicateTaskError):
        plan_to_workflow(Plan.model_validate({"tasks": tasks}), {}, reg)
    saved = plan_to_workflow(Plan.model_validate({"tasks": tasks[:1]}), {}, reg)
    assert "file://" not in saved and "/work/" not in saved  # no path of the machine that wrote it
    assert list(parse_workflow(saved).nodes) == ["a"]


def test_a_truncated_wav_is_refused_at_the_cli_before_any_planning(monkeypatch, capsys,
                                                                   tmp_path):
    from tests.serving.test_bad_requests import lying_wav, truncated_wav

    for name, data in (("cut.wav", truncated_wav()), ("lying.wav", lying_wav())):
        clip = tmp_path / name
        clip.write_bytes(data)
        code, out, err = cli(monkeypatch, capsys, "run", "What is said in it?", "--audio",
                             str(clip))
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"error[input.invalid_media]: got a WAV in {clip} whose ")
        assert "(truncated, or the header lies); expected a complete WAV file" in err


def test_a_5000_character_run_id_is_not_echoed_in_full(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MMAGENT_CACHE", str(tmp_path))
    code, out, err = cli(monkeypatch, capsys, "resume", "r" * 5000)
    assert code == 2 and out == "" and err.count("\n") == 1, err[:300]
    assert err.startswith("error[run.unknown]: got run id 'rrrr") and len(err) < 600
    assert "… (5003 chars)" in err  # the id (with its quotes and comma) cut to 80 characters
