"""The workflow library: shipped and configured workflow files by name, and the file schema.

>>> sorted(find_workflows())[:2]
['ask_image', 'caption_and_speak']
>>> resolve_workflow("caption_and_speak", find_workflows()).name
'caption_and_speak'
>>> json_schema()["title"]
'mmagent workflow'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from mmagent.errors import WorkflowNotFoundError
from mmagent.workflows._parse import load_workflow
from mmagent.workflows._spec import Workflow

__all__ = ["GRAPHS_DIR", "SCHEMA_PATH", "find_workflows", "resolve_workflow", "json_schema"]

GRAPHS_DIR = Path(str(resources.files("mmagent.graphs")))
"""The shipped workflows: package data of ``mmagent.graphs`` (the repository's graphs/)."""
SCHEMA_PATH = GRAPHS_DIR / "workflow.schema.json"


def find_workflows(extra: list[Path] | tuple[Path, ...] = ()) -> dict[str, Path]:
    """Workflow names (file stems) to files: shipped ``graphs/*.yaml``, then ``extra`` files
    and folders in order (a later one wins a name)."""
    found: dict[str, Path] = {}
    for entry in [GRAPHS_DIR, *map(Path, extra)]:
        entry = entry.expanduser()
        files = sorted([*entry.glob("*.yaml"), *entry.glob("*.yml")]) if entry.is_dir() \
            else [entry]
        for f in files:
            found[f.stem] = f
    return found


def resolve_workflow(workflow: Any, known: dict[str, Path]) -> Workflow:
    """A loaded workflow from a :class:`Workflow`, a name in ``known``, or a file path."""
    if isinstance(workflow, Workflow):
        return workflow
    text = os.fspath(workflow)
    if text in known:
        return load_workflow(known[text])
    if Path(text).is_file() or text.endswith((".yaml", ".yml")) or os.sep in text:
        return load_workflow(text)
    raise WorkflowNotFoundError(f"got workflow {text!r}, which is neither a known name nor a "
                                f"file; expected one of {sorted(known)} or a path to a .yaml file",
                                workflow=text)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of workflow files (published as ``graphs/workflow.schema.json``)."""
    schema = Workflow.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
