"""The embedded server's warm-up: it plans a typical request, loads that plan's tools, and says
what it did; a step that fails is logged, not fatal."""

from mmagent import Agent, Config
from mmagent.serving._warmup import warm_up
from tests.serving.helpers import PlanByInputs, serving_registry


def test_warm_up_plans_and_loads_the_tools_of_its_plan(tmp_path):
    agent = Agent(Config.from_dict({"cache_dir": str(tmp_path)}), registry=serving_registry(),
                  planner_backend=PlanByInputs())
    lines: list[str] = []
    warm_up(agent, lines.append)
    assert lines[0].startswith("warm-up: planner (embeddings, tool index) in ")
    assert lines[1].startswith("warm-up: tools of its plan: fake_caption, fake_speak in ")
    assert all(agent.registry.get(n)._loaded for n in ("fake_caption", "fake_speak"))
    # the fake backend cannot answer a bare chat message: logged, and the warm-up goes on
    assert lines[2].startswith("warm-up: planner LLM failed (IndexError")
    assert lines[-1].startswith("warm-up done in ")
