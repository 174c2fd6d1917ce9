"""The core never imports the serving layer: ``mmagent.serving`` adapts transports to the core,
never the other way round."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import mmagent


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(mmagent.__path__, "mmagent."):
        if info.name == "mmagent.serving" or info.name.startswith("mmagent.serving."):
            continue
        if info.name.startswith("mmagent.tools."):  # tools are plug-ins, checked too but lazily
            continue
        if info.name.endswith(".__main__"):  # a script: importing it runs the command line
            continue
        names.append(info.name)
    return names


def test_importing_every_core_module_leaves_the_serving_layer_unloaded():
    modules = _core_modules()
    assert "mmagent.client._client" in modules and "mmagent.execution._executor" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m == 'mmagent.serving' or m.startswith('mmagent.serving.'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
