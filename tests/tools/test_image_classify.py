"""image_classify on the tiny random-weight CLIP, loaded like a real one."""

import pytest

from mmagent.errors import ToolInputError
from mmagent.toolkit import ToolContext
from mmagent.tools._clip import ClipEncoder
from mmagent.tools.image_classify import MAX_LABELS, ImageClassify
from mmagent.tools.image_search import ImageSearch

from .conformance import ToolConformance
from .test_image_caption import put_three_images

A_REF = {"id": "0" * 64, "mime": "image/png"}  # parses as an ImageRef; never loaded


@pytest.fixture(scope="module")
def classify():
    tool = ImageClassify(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def test_labels_come_back_sorted_with_probabilities(classify, store):
    ref = put_three_images(store)[0]
    labels = ["cat", "dog", "a red car", "a bowl of fruit"]
    out = classify.run([classify.parse_input({"image": ref, "labels": labels})],
                       ToolContext(store))[0]
    assert sorted(out.labels) == sorted(labels) and out.label == out.labels[0]
    assert out.scores == sorted(out.scores, reverse=True)
    assert sum(out.scores) == pytest.approx(1.0, abs=1e-4)  # CLIP: a softmax over the labels


def test_too_many_labels_name_the_argument_and_limit(classify):
    labels = [f"label {i}" for i in range(MAX_LABELS + 1)]
    with pytest.raises(ToolInputError, match=str(MAX_LABELS)) as e:
        classify.parse_input({"image": A_REF, "labels": labels})
    assert e.value.details["arg"] == "labels"


def test_tools_naming_one_checkpoint_share_its_weights(classify):
    path = classify.checkpoint_path()
    a = ImageClassify(checkpoint=path, device="cpu")
    b = ImageSearch(checkpoint=path, device="cpu")
    a.ensure_loaded()
    b.ensure_loaded()
    assert a.encoder is b.encoder
    assert isinstance(a.encoder, ClipEncoder) and a.encoder.model.name_or_path == path


class TestImageClassifyConformance(ToolConformance):
    tool_cls = ImageClassify
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    float_tolerance = 1e-5
    bad_inputs = [
        ({"labels": ["cat"]}, "image"),
        ({"image": A_REF}, "labels"),
        ({"image": A_REF, "labels": []}, "labels"),
        ({"image": A_REF, "labels": [f"l{i}" for i in range(MAX_LABELS + 1)]}, "labels"),
        ({"image": A_REF, "labels": ["cat", "cat"]}, "labels"),
        ({"image": A_REF, "labels": ["cat", " "]}, "labels"),
        ({"image": A_REF, "labels": ["cat"], "top": 1}, "top"),
    ]

    def make_inputs(self, store):
        refs = put_three_images(store)
        # each image with its own label set; the batch embeds the union of labels once
        return [
            {"image": refs[0], "labels": ["a cat", "a dog"]},
            {"image": refs[1], "labels": ["a red car", "a blue boat on a lake", "a flower"]},
            {"image": refs[2], "labels": ["a dog", "a flower"]},
        ]
