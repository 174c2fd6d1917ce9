"""How the offline planner reads a request's words: a question nothing serves is answered,
an action in the world or an edit no tool makes is refused, no picture is made up for a step
that needs one, an account of what is in a recording is not a step, and the verb of a clause
carries its tool."""

from __future__ import annotations

from collections import Counter

import pytest

from mmagent import Agent, Config
from mmagent.artifacts import AudioRef, VideoRef
from mmagent.errors import PlanningError


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    cfg = Config.from_dict({"cache_dir": str(tmp_path_factory.mktemp("cache"))},
                           profile="offline")
    return Agent(cfg).planner()


def _tools(result) -> Counter:
    return Counter(t.tool for t in result.plan.tasks)


@pytest.mark.parametrize("request_", ["tell me a joke", "What is the capital of France?"])
def test_a_question_no_tool_serves_is_answered_in_words(planner, request_):
    result = planner.plan(request_, {})
    assert result.outcome == "direct" and not result.plan.tasks
    assert "can't answer that with my tools" in result.answer


def test_a_booking_on_a_weekday_is_refused_and_no_picture_is_made_up(planner):
    # "next Thursday" is a date, not the next step; "Thursday" asked for an image question
    # about a picture the planner drew itself
    with pytest.raises(PlanningError) as e:
        planner.plan("Book me a flight from Boston to Dublin next Thursday, window seat.", {})
    assert e.value.code == "plan.unsupported"


@pytest.mark.parametrize(("request_", "inputs"), [
    ("Cut the first ten seconds off this video, the intro is boring.",
     {"video0": VideoRef(id="a" * 64, mime="video/mp4")}),
    ("can you strip the vocals out of this song so i can do karaoke",
     {"audio0": AudioRef(id="b" * 64, mime="audio/wav")}),
    ("Where is my UPS package 1Z999AA10123456784 right now?", {}),
])
def test_edits_and_errands_no_tool_does_are_refused(planner, request_, inputs):
    with pytest.raises(PlanningError) as e:
        planner.plan(request_, inputs)
    assert e.value.code == "plan.unsupported"


def test_an_account_of_a_recording_leaves_it_to_the_tool_that_feeds_the_ask(planner):
    audio = {"audio0": AudioRef(id="c" * 64, mime="audio/wav")}
    result = planner.plan("My daughter recorded herself describing the monster from her "
                          "dream. Can you draw it for her?", audio)
    assert _tools(result) == Counter(["speech_recognize", "image_generate"])
    draw = next(t for t in result.plan.tasks if t.tool == "image_generate")
    assert str(draw.args["prompt"]).startswith("$t")  # drawn from the transcript


def test_a_chime_before_a_greeting_takes_the_greeting_once(planner):
    audio = {"audio0": AudioRef(id="d" * 64, mime="audio/wav")}
    result = planner.plan("Make a 5-second chime and stick it right before my voicemail "
                          "greeting.", audio)
    assert _tools(result) == Counter(["music_generate", "audio_concat"])


def test_a_question_about_abilities_stops_at_its_first_comma(planner):
    result = planner.plan("Do you understand audio files, like if I send you a recording?", {})
    assert result.outcome == "capabilities" and not result.plan.tasks
