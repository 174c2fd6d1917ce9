"""What the README and the example config say is true: every YAML block of the README and
examples/mmagent.yaml load as a valid config, and the CLI synopsis lists each command once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mmagent.config import Config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
YAML_BLOCKS = [(README[:m.start()].count("\n") + 1, m.group(1))
               for m in re.finditer(r"```yaml\n(.*?)```", README, re.S)]


@pytest.mark.parametrize("line,block", YAML_BLOCKS, ids=[f"line{n}" for n, _ in YAML_BLOCKS])
def test_every_yaml_block_of_the_readme_is_a_valid_config(line, block):
    Config.from_dict(yaml.safe_load(block) or {}, where=f"README.md:{line}")


def test_the_example_config_loads_and_sets_what_it_shows():
    cfg = Config.load(ROOT / "examples" / "mmagent.yaml")
    shown = yaml.safe_load((ROOT / "examples" / "mmagent.yaml").read_text())
    assert cfg.limits.max_tasks == shown["limits"]["max_tasks"]
    assert cfg.planner.retrieval_k == shown["planner"]["retrieval_k"]


def test_the_cli_synopsis_lists_each_command_once():
    synopsis = README.split("## CLI", 1)[1].split("```", 2)[1]
    commands = [line.split()[1] for line in synopsis.splitlines() if line.startswith("mmagent ")]
    assert commands and len(commands) == len(set(commands)), commands
    import typer.main

    from mmagent.cli import app

    assert set(commands) == set(typer.main.get_command(app).commands)  # and lists every one


def _layout_folders() -> set[str]:
    """Folders the README's Layout block names, as paths (``  chat/ responses/`` lines are
    children of the top-level folder above them)."""
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    folders, parent = set(), ""
    for line in block.splitlines():
        names = re.match(r"( *)((?:[a-z_]+/ ?)+)", line)
        if not names:
            continue
        nested = bool(names.group(1))
        for name in names.group(2).split():
            folders.add(parent + name if nested else name)
        if not nested:
            parent = names.group(2).split()[0]
    return folders


def test_the_readme_layout_names_every_package_and_only_real_folders():
    named = _layout_folders()
    packages = {f"{top}/{p.parent.relative_to(ROOT / top)}/".replace("/./", "/")
                for top in ("mmagent", "serving")
                for p in (ROOT / top).rglob("__init__.py") if p.parent != ROOT / top}
    assert packages <= named, sorted(packages - named)  # every package is described
    assert all((ROOT / f).is_dir() for f in named), sorted(f for f in named
                                                           if not (ROOT / f).is_dir())
