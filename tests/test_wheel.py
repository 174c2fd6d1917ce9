"""The package works installed as a wheel (not only editable from this checkout): the shipped
workflows come with it, as package data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _dependency_paths() -> list[str]:
    """The running interpreter's import path, less this checkout and the editable finder, so
    the fresh venv imports the dependencies installed here but mmagent from the wheel."""
    keep = []
    for entry in sys.path:
        p = Path(entry or ".").resolve()
        inside = p == ROOT or ROOT in p.parents
        # the checkout's own folders stay out; a virtualenv inside it (CI's .venv) stays in
        if not entry or "__editable__" in entry or (inside and "site-packages" not in p.parts):
            continue
        if p.is_dir():
            keep.append(str(p))
    return keep


@pytest.mark.slow
def test_the_wheel_installs_lists_and_runs_the_shipped_workflows(tmp_path):
    # 1. build the wheel from this checkout
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, timeout=600,
                   capture_output=True)
    wheel = next((tmp_path / "dist").glob("mmagent-*.whl"))
    # 2. a fresh venv with only the wheel; its dependencies are the ones installed here
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300,
                   capture_output=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "zz_dependencies.pth").write_text("\n".join(_dependency_paths()) + "\n")
    # 3. run it from elsewhere, so nothing of the checkout is in reach
    env = {**os.environ, "MMAGENT_CACHE": str(tmp_path / "cache"), "PYTHONSAFEPATH": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("MMAGENT_CONFIG", None)
    work = tmp_path / "elsewhere"
    work.mkdir()

    def mmagent(*args: str) -> str:
        out = subprocess.run([str(venv / "bin" / "mmagent"), *args], cwd=work, env=env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import mmagent; "
                            "print(mmagent.__file__)"], cwd=work, env=env, capture_output=True,
                           text=True, check=True).stdout
    assert where.startswith(str(site)), where
    listed = {w["name"]: w for w in json.loads(mmagent("workflow", "list", "--json"))}
    assert {"caption_and_speak", "describe_images", "find_images"} <= set(listed)
    assert listed["caption_and_speak"]["path"].startswith(str(site))
    result = json.loads(mmagent("workflow", "run", "caption_and_speak", "--input",
                                f"image={ROOT / 'examples' / 'photo.png'}", "--input",
                                "speak=false", "--json"))
    assert isinstance(result["outputs"]["description"], str) and result["outputs"]["description"]
