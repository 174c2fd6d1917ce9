"""`mmagent workflow run FILE.png` shows an embedded workflow and what it reads, and runs it
only with consent: yes at a terminal, or --yes; no terminal and no --yes is refused (exit 2)."""

import io
import json
import shutil
import sys

from PIL import Image

from mmagent.artifacts._provenance import embed
from tests.cli.test_cli import cli

WORKFLOW = ("version: 1\ninputs:\n  p: {type: image}\nnodes:\n  r:\n    tool: image_resize\n"
            "    args: {image: $input.p, width: 8, height: 8}\noutputs: {o: $r.image}\n")


def _hostile(tmp_path):
    """A PNG whose embedded input is an absolute path to a private picture."""
    private = tmp_path / "private" / "secret.png"
    private.parent.mkdir()
    shutil.copy("examples/photo.png", private)
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    f = tmp_path / "gift.png"
    f.write_bytes(embed(buf.getvalue(), "image/png", {"workflow": WORKFLOW,
                                                      "inputs": {"p": str(private)}}))
    return f, private


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_no_terminal_and_no_yes_is_refused_before_anything_is_read(monkeypatch, capsys,
                                                                   tmp_path):
    f, private = _hostile(tmp_path)
    monkeypatch.setenv("MMAGENT_CACHE", str(tmp_path / "cache"))
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", str(f), "--json")
    assert code == 2 and out == ""
    assert "error[input.consent_required]: " in err and "--yes" in err
    assert str(private) in err  # the plan and every input it would read were shown
    assert "image_resize" in err
    assert not (tmp_path / "cache" / "artifacts").exists() or not any(
        (tmp_path / "cache" / "artifacts").rglob("*.png"))


def test_declining_at_the_terminal_runs_nothing(monkeypatch, capsys, tmp_path):
    f, private = _hostile(tmp_path)
    monkeypatch.setenv("MMAGENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "stdin", _Tty("n\n"))
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", str(f), "--json")
    assert code == 2 and out == "" and "error[input.consent_required]" in err
    assert str(private) in err


def test_yes_runs_it(monkeypatch, capsys, tmp_path):
    f, private = _hostile(tmp_path)
    monkeypatch.setenv("MMAGENT_CACHE", str(tmp_path / "cache"))
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", str(f), "--json", "--yes")
    assert code == 0, err
    assert json.loads(out)["status"] == "completed" and str(private) in err


def test_yes_at_the_terminal_runs_it(monkeypatch, capsys, tmp_path):
    f, _ = _hostile(tmp_path)
    monkeypatch.setenv("MMAGENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "stdin", _Tty("y\n"))
    code, out, err = cli(monkeypatch, capsys, "workflow", "run", str(f), "--json")
    assert code == 0, err
