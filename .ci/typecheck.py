"""Type-check the installed package: mypy over every module under its installed name.

pyproject's [tool.setuptools.package-dir] installs tools/ as mmagent.tools and serving/ as
mmagent.serving; mypy cannot follow that mapping (nor setuptools' editable import hook), so
this hands it each file with the module name it is installed under. The mypy settings are
pyproject's [tool.mypy]. Run from the checkout: `python .ci/typecheck.py` (`make typecheck`).
"""

import os
import sys
import tomllib
from pathlib import Path

from mypy import build
from mypy.errors import CompileError
from mypy.main import process_options
from mypy.modulefinder import BuildSource

ROOT = Path(__file__).resolve().parent.parent


def _sources() -> list[BuildSource]:
    """Every .py file under each mapped package folder, named as it is installed."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    sources = []
    for package, folder in mapping.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            module = ".".join([package, *parts])
            sources.append(BuildSource(str(path.relative_to(ROOT)), module))
    return sources


def main() -> int:
    os.chdir(ROOT)
    # process_options reads pyproject's [tool.mypy]; the sources are replaced by the mapped list
    _, options = process_options(["--config-file", str(ROOT / "pyproject.toml"), "-p", "mmagent"])
    sources = _sources()
    try:
        result = build.build(sources, options)
    except CompileError as error:
        print("\n".join(error.messages), file=sys.stderr)
        return 2
    for line in result.errors:
        print(line)
    files = len({line.split(":", 1)[0] for line in result.errors if ": error:" in line})
    errors = sum(": error:" in line for line in result.errors)
    if errors:
        print(f"Found {errors} errors in {files} files (checked {len(sources)} source files)")
        return 1
    print(f"Success: no issues found in {len(sources)} source files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
