"""The docstring examples of the serving layer and the tools, imported by their installed names
(``mmagent.serving.*``, ``mmagent.tools.*``): collected from their folders, pytest would import
second copies as ``serving.*`` / ``tools.*``, with error classes of their own."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mmagent.serving
import mmagent.tools

MODULES = sorted(info.name for pkg in (mmagent.serving, mmagent.tools)
                 for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
