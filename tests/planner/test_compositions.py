"""Compositions a user writes in one sentence, planned offline by grounding alone: counted
products, no step the request never names, and an input whose steps all take made media."""

from __future__ import annotations

import pytest

from mmagent import Agent, Config
from mmagent.artifacts import ImageRef


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    cfg = Config.from_dict({"cache_dir": str(tmp_path_factory.mktemp("cache"))},
                           profile="offline")
    return Agent(cfg).planner()


def _links(plan):
    by_id = {t.id: t.tool for t in plan.tasks}
    return sorted((by_id[r.source], t.tool) for t in plan.tasks for _a, r in t.refs()
                  if not r.is_input)


def test_two_logos_are_two_images_and_both_are_compared(planner):
    planned = planner.plan("Design two logos for a bakery, then tell me which one looks "
                           "friendlier.", {})
    assert [t.tool for t in planned.plan.tasks] == ["image_generate", "image_generate",
                                                    "vlm_chat"]
    assert _links(planned.plan) == [("image_generate", "vlm_chat")] * 2
    assert planned.llm_calls == 0


def test_three_pictures_are_three_images_and_no_video(planner):
    planned = planner.plan("Draw three pictures of a red fox.", {})
    assert [t.tool for t in planned.plan.tasks] == ["image_generate"] * 3
    assert _links(planned.plan) == []  # made side by side, not one from another


def test_a_plain_picture_request_borrows_no_video_step(planner):
    planned = planner.plan("A watercolor fox in the snow.", {})
    assert [t.tool for t in planned.plan.tasks] == ["image_generate"]


def test_reading_a_photo_aloud_beside_a_drawing_reads_the_photo(planner):
    planned = planner.plan("Here's a photo of my handwritten shopping list. Read it out loud "
                           "for me, and also draw a cat and caption that drawing.",
                           {"image0": ImageRef(id="a" * 64, mime="image/png")})
    tools = [t.tool for t in planned.plan.tasks]
    assert sorted(tools) == ["image_caption", "image_generate", "ocr_read", "text_to_speech"]
    assert sorted(_links(planned.plan)) == [("image_generate", "image_caption"),
                                            ("ocr_read", "text_to_speech")]
    ocr = next(t for t in planned.plan.tasks if t.tool == "ocr_read")
    assert ocr.args["image"] == "$input.image0"


def test_a_caption_for_each_frame_is_a_task_over_the_frames(planner):
    from mmagent.artifacts import VideoRef

    planned = planner.plan("Pull 3 frames out of this clip, then caption them.",
                           {"video0": VideoRef(id="b" * 64, mime="video/mp4")})
    frames, caption = planned.plan.tasks
    assert (frames.tool, frames.args["count"]) == ("video_frames", 3)
    assert (caption.tool, caption.each, caption.args) == ("image_caption", "image",
                                                          {"image": "$t1.images"})
