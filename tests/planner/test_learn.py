"""Plans that get better with use: a corrected plan, learned, plans the next similar request."""

from __future__ import annotations

import pytest
from PIL import Image

from mmagent import Agent, Config
from mmagent.errors import PlanValidationError
from mmagent.plan import Plan

WRONG_BEFORE = "What color is the car in this photo?"
SIMILAR = "What color is the bus in this picture?"
# the user wanted the answer spoken, which the request does not say: only learning can tell
CORRECTED = Plan.model_validate({"tasks": [
    {"id": "t1", "tool": "visual_qa",
     "args": {"image": "$input.image0", "question": "What color is the car?"}},
    {"id": "t2", "tool": "text_to_speech", "args": {"text": "$t1.answer"}}]})
LEARNED = ["visual_qa", "text_to_speech"]


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), (200, 30, 30)).save(p)
    return p


def _agent(tmp_path, learn: bool) -> Agent:
    return Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                                   "router": {"mode": "plan"},
                                   "planner": {"learn": learn}}, profile="offline"))


def test_a_learned_correction_plans_the_next_similar_request(tmp_path, photo):
    agent = _agent(tmp_path, learn=True)
    before = agent.plan(WRONG_BEFORE, images=[photo])
    assert [t.tool for t in before.tasks] != LEARNED
    agent.learn(WRONG_BEFORE, CORRECTED)
    after = agent.plan(SIMILAR, images=[photo])
    assert [t.tool for t in after.tasks] == LEARNED
    assert after.tasks[0].args["image"] == "$input.image0"
    # the question is the new request's, not the learned one's
    assert "bus" in after.tasks[0].args["question"]


def test_without_planner_learn_the_bank_is_not_read(tmp_path, photo):
    _agent(tmp_path, learn=True).learn(WRONG_BEFORE, CORRECTED)
    plan = _agent(tmp_path, learn=False).plan(SIMILAR, images=[photo])
    assert [t.tool for t in plan.tasks] != LEARNED


def test_a_plan_that_does_not_validate_is_not_learned(tmp_path):
    agent = _agent(tmp_path, learn=True)
    bad = Plan.model_validate({"tasks": [{"id": "t1", "tool": "visual_qa",
                                          "args": {"image": "$input.image0"}}]})
    with pytest.raises(PlanValidationError):
        agent.learn(WRONG_BEFORE, bad)
    assert not (tmp_path / "cache" / "learned_demos.yaml").exists()


def test_cli_learns_a_saved_workflow(tmp_path, photo, monkeypatch, capsys):
    from tests.cli.test_cli import cli

    config = tmp_path / "mmagent.yaml"
    config.write_text(f"cache_dir: {tmp_path / 'cache'}\nrouter: {{mode: plan}}\n"
                      "planner: {learn: true}\n")
    flow = tmp_path / "fixed.yaml"
    flow.write_text("version: 1\ninputs: {photo: {type: image}}\nnodes:\n"
                    "  ask: {tool: visual_qa, args: {image: $input.photo, "
                    "question: 'What color is the car?'}}\noutputs: {answer: $ask.answer}\n")
    code, out, _err = cli(monkeypatch, capsys, "learn", WRONG_BEFORE, str(flow),
                          "--config", str(config))
    assert code == 0 and "learned" in out
    agent = Agent(str(config))
    assert [t.tool for t in agent.plan(SIMILAR, images=[photo]).tasks] == ["visual_qa"]


def _approving_agent(tmp_path, learn: bool = True) -> Agent:
    return Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                                   "router": {"mode": "plan"}, "planner": {"learn": learn},
                                   "executor": {"approval": {"tools": ["text_to_speech"]}}},
                                  profile="offline"))


SPOKEN = "Say 'the kettle is on' out loud"


def _learned(tmp_path) -> list[dict]:
    import yaml

    path = tmp_path / "cache" / "learned_demos.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else []


def test_a_run_approved_later_joins_the_learned_bank(tmp_path):
    paused = _approving_agent(tmp_path).run(SPOKEN)
    assert paused.status == "awaiting_approval" and _learned(tmp_path) == []
    done = _approving_agent(tmp_path).resume(paused.run_id, approve=True)
    assert done.status == "completed"
    (row,) = _learned(tmp_path)
    assert row["request"] == SPOKEN
    assert [t["tool"] for t in row["plan"]["tasks"]] == [t.tool for t in done.plan.tasks]


def test_a_run_approved_as_it_runs_is_learned_and_a_rejected_one_is_not(tmp_path):
    _approving_agent(tmp_path).run(SPOKEN, approve=lambda request: False)
    assert _learned(tmp_path) == []
    _approving_agent(tmp_path).run(SPOKEN, approve=lambda request: True)
    assert [row["request"] for row in _learned(tmp_path)] == [SPOKEN]


def test_without_planner_learn_an_approved_run_is_not_learned(tmp_path):
    _approving_agent(tmp_path, learn=False).run(SPOKEN, approve=lambda request: True)
    assert _learned(tmp_path) == []
