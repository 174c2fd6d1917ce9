"""`mmagent tools --json` and docs/tools.md: what a user reads about the registered tools."""

import json
import subprocess
import sys
from pathlib import Path

from mmagent.toolkit import ToolRegistry, render_tools_md
from tests.cli.test_cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_tools_json_has_kind_resources_and_both_checkpoints(monkeypatch, capsys):
    code, out, _ = cli(monkeypatch, capsys, "tools", "--json")
    assert code == 0
    cards = {c["name"]: c for c in json.loads(out)}
    assert set(cards) == set(ToolRegistry.discover().names())
    cap = cards["image_caption"]
    assert cap["kind"] == "model"
    assert cap["default_checkpoint"] == "Salesforce/blip-image-captioning-base"
    assert cap["checkpoint"] == "tiny"  # the offline profile's choice
    assert cap["resources"]["gpu_memory_gb"] > 0 and "num_gpus" in cap["resources"]
    for card in cards.values():
        assert card["kind"] in ("model", "utility")
        assert card["inputs"] and card["outputs"]


def test_docs_tools_md_is_current_with_the_registry():
    current = (ROOT / "docs" / "tools.md").read_text()
    expected = render_tools_md(ToolRegistry.discover())
    assert current == expected, "docs/tools.md is out of date with the registry: run `make docs`"


def test_docs_lists_every_tool_with_checkpoint_and_memory():
    text = render_tools_md(ToolRegistry.discover())
    for name in ToolRegistry.discover().names():
        assert f"[`{name}`](#{name})" in text and f"## {name}" in text
    assert "`Salesforce/blip-image-captioning-base` | ~1.5 GB |" in text
    assert "| input | `max_new_tokens` | integer | >= 1, <= 128 |" in text


def test_docs_check_command_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "tools.md"
    stale.write_text("# Tools\n")
    cmd = [sys.executable, "-m", "mmagent.toolkit.docs", "--output", str(stale)]
    res = subprocess.run([*cmd, "--check"], capture_output=True, text=True)
    assert res.returncode == 1 and "make docs" in res.stderr
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 0
