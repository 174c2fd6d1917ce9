"""What a user meets first stays light: ``--help`` and the CLI's error paths never import torch,
transformers or LangGraph (each costs seconds on a cold start)."""

import json
import os
import subprocess
import sys

_PROBE = """
import contextlib, io, json, sys
from mmagent.cli import main
heavy = ("torch", "transformers", "langgraph")
seen = {}
for argv in json.loads(sys.argv[1]):
    sys.argv = ["mmagent", *argv]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code
    seen[" ".join(argv)] = [code, [m for m in heavy if m in sys.modules]]
print(json.dumps(seen))
"""


def test_help_and_error_paths_import_no_heavy_library(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("planner: [unclosed\n")
    cases = [["--help"], ["run", "--help"], ["run"], ["run", "x", "--bogus"],
             ["run", "x", "--config", str(bad)], ["run", "x", "--config", str(tmp_path / "no")],
             ["workflow", "validate", str(tmp_path / "missing.yaml")],
             ["workflow", "run", "w", "--config", str(bad)], ["tools", "--config", str(bad)],
             ["resume", "r", "--config", str(bad)], ["learn", "p", "f", "--config", str(bad)]]
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(cases)], capture_output=True,
                          text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seen = json.loads(proc.stdout)
    for argv, (code, heavy) in seen.items():
        assert heavy == [], (argv, heavy)
        assert code in (0, 2), (argv, code)  # usage and config errors exit 2, not 1 (internal)
