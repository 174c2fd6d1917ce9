"""Every shipped workflow in graphs/ validates and runs on the offline profile."""

from pathlib import Path

import pytest
from PIL import Image

from mmagent import Agent
from mmagent.workflows import GRAPHS_DIR, load_workflow

GRAPHS = sorted(GRAPHS_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def agent():
    return Agent(profile="offline")


def sample_inputs(wf, tmp_path):
    """A value for every input: small media files, short texts, booleans on (run every node)."""
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(photo)
    # real speech: offline, speech_recognize runs real whisper, which hears no words in a tone
    speech = Path(__file__).resolve().parents[2] / "examples" / "speech.wav"
    folder = tmp_path / "folder"
    folder.mkdir()
    for i, color in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        Image.new("RGB", (32, 32), color).save(folder / f"{i}.png")
    by_type = {"image": photo, "audio": speech, "list[image]": [photo, photo], "boolean": True,
               "text": "a red square on a white table"}
    values = {}
    for name, spec in wf.inputs.items():
        if name == "folder":
            values[name] = str(folder)
        elif spec.type in by_type and (spec.required or spec.type == "boolean"):
            values[name] = by_type[spec.type]
        elif spec.required:
            pytest.fail(f"{wf.file}: no sample value for required input {name!r} ({spec.type})")
    return values


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.stem)
def test_shipped_workflow_parses(path):
    wf = load_workflow(path)
    assert wf.description and wf.name == path.stem
    assert all(spec.description for spec in wf.inputs.values()), "describe every input"


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.stem)
def test_shipped_workflow_validates_and_runs_offline(agent, path, tmp_path):
    wf = load_workflow(path)
    missing = sorted({n.tool for n in wf.nodes.values()} - set(agent.registry.names()))
    assert not missing, f"a shipped workflow uses unregistered tools {missing}"
    assert wf.problems(agent.registry) == []
    result = agent.run_workflow(path, sample_inputs(wf, tmp_path))
    assert result.ok
    for name, value in result.named_outputs.items():
        assert value not in (None, []), f"output {name!r} was not produced"
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, dict) and "kind" in v:
                assert agent.store.path(agent.store.get(v["id"])).is_file()
                assert f"artifact://{v['id']}" in result.answer
