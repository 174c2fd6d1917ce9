"""``--json`` on a bench prints one JSON object and nothing else on stdout, in each bench's
cheapest mode. bench/tools.py is covered in tests/toolkit/test_samples.py, bench/gpu.py in
tests/test_gpu_bench.py; bench/serve.py and bench/chaos.py start Ray (about 16 s each) and
are left out: they print through the same ``bench/_stdout.py``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHEAPEST = {
    # exit 1 is the bound check failing (timing noise on a loaded machine); stdout holds the
    # object either way
    "dag.py": ["--scale", "0.02", "--repeat", "1", "--shapes", "chain", "--chain", "10"],
    "overhead.py": ["--tasks", "10", "--repeat", "1"],
    "cold.py": ["--what", "help", "--repeat", "1"],
    "embed_threads.py": ["--calls", "2"],
}


@pytest.mark.parametrize("bench", sorted(CHEAPEST))
def test_json_is_the_only_thing_on_stdout(bench):
    res = subprocess.run([sys.executable, str(ROOT / "bench" / bench), "--json",
                          *CHEAPEST[bench]], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert res.returncode in (0, 1), res.stderr[-2000:]
    assert isinstance(json.loads(res.stdout), dict), res.stdout[:500]


def test_a_stray_print_goes_to_stderr(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text(f"import os, sys\nsys.path.insert(0, {str(ROOT / 'bench')!r})\n"
                      "from _stdout import json_stdout\n"
                      "emit = json_stdout(True)\nprint('a log line')\n"
                      "os.system('echo from a child process')\nemit({'ok': True})\n")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         check=True)
    assert json.loads(res.stdout) == {"ok": True}
    assert "a log line" in res.stderr and "from a child process" in res.stderr
