"""The plan cache: a request of the same shape reuses its plan without an LLM call."""

import json

from mmagent import Agent, Config
from mmagent.artifacts import ImageRef
from mmagent.planner import Planner
from mmagent.planner._plan_cache import PlanCache, normalise_prompt
from tests.fakes import FakeSleep, fake_registry
from tests.planner.test_planner import GOOD, IMAGE, Scripted

TWO = {"tasks": [{"id": "t1", "tool": "fake_caption", "args": {"image": "$input.image0"}},
                 {"id": "t2", "tool": "fake_caption", "args": {"image": "$input.image1"}}]}
OTHER = ImageRef(id="c" * 64, mime="image/png", width=4, height=4)


def test_same_shape_hits_without_an_llm_call(tmp_path):
    backend = Scripted(json.dumps(GOOD))
    planner = Planner(backend, fake_registry(), cache=PlanCache(tmp_path))
    first = planner.plan("Describe it and say it aloud.", {"image0": IMAGE})
    again = planner.plan("  describe it and SAY it aloud ", {"image0": OTHER})
    assert not first.cached and again.cached and again.llm_calls == 0
    assert again.plan == first.plan and len(backend.calls) == 1


def test_different_shape_misses(tmp_path):
    backend = Scripted(json.dumps(GOOD), json.dumps(TWO), json.dumps(GOOD), json.dumps(GOOD))
    planner = Planner(backend, fake_registry(), cache=PlanCache(tmp_path))
    planner.plan("Describe it and say it aloud.", {"image0": IMAGE})
    two = planner.plan("Describe it and say it aloud.", {"image0": IMAGE, "image1": OTHER})
    assert not two.cached  # two images: another shape
    assert not planner.plan("Describe it, then say it.", {"image0": IMAGE}).cached
    reg = fake_registry()
    reg.register(type("FakeSleep2", (FakeSleep,), {"name": "fake_sleep2"}))
    other_tools = Planner(backend, reg, cache=PlanCache(tmp_path))
    assert not other_tools.plan("Describe it and say it aloud.", {"image0": IMAGE}).cached
    assert len(backend.calls) == 4


def test_agent_uses_the_cache_only_when_configured(tmp_path):
    from PIL import Image

    photo = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(photo)
    for enabled, calls in ((True, 1), (False, 2)):
        backend = Scripted(json.dumps(GOOD), json.dumps(GOOD))
        cfg = Config.from_dict({"cache_dir": str(tmp_path / f"c{enabled}"),
                                "planner": {"plan_cache": enabled,
                                            "grounding": {"enabled": False}}})
        agent = Agent(cfg, registry=fake_registry(), planner_backend=backend)
        agent.run("Describe and speak.", images=[photo])
        second = agent.run("Describe and speak.", images=[photo])
        assert len(backend.calls) == calls
        assert [e.cached for e in second.events if e.type == "plan"] == [enabled]
    assert list((tmp_path / "cTrue" / "plans").glob("*.json"))


def test_normalise_prompt():
    assert normalise_prompt(" Say it\n  ALOUD! ") == "say it aloud"
