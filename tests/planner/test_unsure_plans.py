"""What the offline planner does when grounding is unsure: it asks, in words a user can act
on, and nothing runs; and words that point at a result are not spoken as a literal."""

from __future__ import annotations

import pytest
from PIL import Image

from mmagent import Agent, Config


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    cfg = Config.from_dict({"cache_dir": str(tmp_path_factory.mktemp("cache"))},
                           profile="offline")
    return Agent(cfg)


def test_a_plan_that_leaves_a_picture_aside_asks_about_it_and_runs_nothing(agent):
    note, photo = Image.new("RGB", (32, 32), "yellow"), Image.new("RGB", (32, 32), "blue")
    result = agent.run("The note in the first picture says how to change the second one. "
                       "Read it and do that.", images=[note, photo])
    assert "leaving $input.image1 unused" in result.answer
    assert "Nothing ran" in result.answer
    assert [t.tool for t in result.plan.tasks] == ["image_edit"]
    assert not result.outputs  # no tool ran: nothing the user did not confirm


def test_an_unsure_plan_says_which_inputs_it_leaves_and_no_llm_guesses(agent):
    from mmagent.artifacts import ImageRef

    refs = {f"image{i}": ImageRef(id=c * 64, mime="image/png") for i, c in enumerate("ab")}
    planned = agent.planner().plan("The note in the first picture says how to change the "
                                   "second one. Read it and do that.", refs)
    assert planned.needs_confirmation and planned.unused_inputs == ["image1"]
    assert planned.llm_calls == 0 and planned.grounded
    assert planned.confidence < agent.config.planner.confidence_threshold


def test_words_that_point_at_a_result_are_not_spoken_as_they_are(agent):
    for request in ("Draw a cat and read it out loud for me.",
                    "Make a song about rain, then read it out loud for me."):
        planned = agent.planner().plan(request, {})
        spoken = [t.args["text"] for t in planned.plan.tasks if t.tool == "text_to_speech"]
        assert spoken and all(str(s).startswith("$") for s in spoken), (request, spoken)
