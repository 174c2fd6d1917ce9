"""image_search on the tiny random-weight CLIP, loaded like a real one."""

import json

import numpy as np
import pytest
from PIL import Image

from mmagent import Agent, Config
from mmagent.errors import InputError, ToolInputError
from mmagent.toolkit import ToolContext
from mmagent.tools.image_search import ImageSearch
from tests.planner.test_planner import Scripted

from .conformance import ToolConformance
from .test_image_caption import PHOTO, put_three_images

A_REF = {"id": "0" * 64, "mime": "image/png"}  # parses as an ImageRef; never loaded


@pytest.fixture
def search(tmp_path):
    # a fresh tool and embedding cache per test, so embedding counts start at zero
    tool = ImageSearch(checkpoint="tiny", device="cpu",
                       embedding_cache_dir=str(tmp_path / "embeddings"))
    tool.ensure_loaded()
    return tool


def make_folder(path, n):
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    for i in range(n):
        pixels = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(path / f"img{i:02d}.png")
    return path


def test_search_ranks_the_given_images(search, store):
    refs = put_three_images(store)
    out = search.run([search.parse_input({"query": "a red car", "images": refs, "top_k": 2})],
                     ToolContext(store))[0]
    assert len(out.images) == 2 and {r.id for r in out.images} <= {r.id for r in refs}
    assert out.scores == sorted(out.scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in out.scores)


def test_folder_is_embedded_once_then_searched_from_the_cache(search, store, tmp_path):
    folder = make_folder(tmp_path / "photos", 5)
    ctx = ToolContext(store)
    first = search.run([search.parse_input({"query": "a cat", "folder": str(folder)})], ctx)[0]
    assert search.embedded == 5
    assert len(first.images) == 5
    second = search.run([search.parse_input({"query": "a dog", "folder": str(folder),
                                             "top_k": 3})], ctx)[0]
    assert search.embedded == 5, "the second search re-embedded images"
    assert len(second.images) == 3
    # a new file is the only one embedded; a renamed copy of a known file is not
    Image.new("RGB", (20, 20), (255, 0, 0)).save(folder / "new.png")
    (folder / "img00.png").rename(folder / "renamed.png")
    search.run([search.parse_input({"query": "a cat", "folder": str(folder)})], ctx)
    assert search.embedded == 6
    # the returned images are artifacts with the folder files' bytes
    assert store.read_bytes(first.images[0]) in {p.read_bytes() for p in folder.iterdir()}


def test_embeddings_cached_on_disk_serve_a_new_process(search, store, tmp_path):
    folder = make_folder(tmp_path / "photos", 3)
    args = {"query": "a cat", "folder": str(folder)}
    before = search.run([search.parse_input(args)], ToolContext(store))[0]
    again = ImageSearch(checkpoint="tiny", device="cpu",
                        embedding_cache_dir=str(tmp_path / "embeddings"))
    again.ensure_loaded()
    after = again.run([again.parse_input(args)], ToolContext(store))[0]
    assert again.embedded == 0
    assert after.images == before.images


def test_missing_folder_is_an_input_error_naming_it(search, tmp_path):
    with pytest.raises(InputError) as e:
        search.parse_input({"query": "a cat", "folder": str(tmp_path / "nowhere")})
    assert isinstance(e.value, ToolInputError) and e.value.details["arg"] == "folder"
    assert "nowhere" in str(e.value)


def test_folder_over_the_image_limit_is_rejected_before_embedding(search, store, tmp_path,
                                                                  monkeypatch):
    import mmagent.tools.image_search as image_search

    monkeypatch.setattr(image_search, "MAX_SEARCH_IMAGES", 3)
    folder = make_folder(tmp_path / "photos", 4)
    with pytest.raises(ToolInputError, match="more than 3") as e:
        search.run([search.parse_input({"query": "a cat", "folder": str(folder)})],
                   ToolContext(store))
    assert e.value.details["arg"] == "folder" and e.value.details["limit"] == 3
    assert search.embedded == 0


def test_images_or_folder_exactly_one(search, tmp_path):
    with pytest.raises(ToolInputError, match="neither"):
        search.parse_input({"query": "a cat"})
    with pytest.raises(ToolInputError, match="both"):
        search.parse_input({"query": "a cat", "images": [A_REF], "folder": str(tmp_path)})


# -- through the SDK -----------------------------------------------------------------------------


def test_classify_and_search_through_the_sdk_on_the_offline_profile(tmp_path):
    plan = {"tasks": [
        {"id": "t1", "tool": "image_classify",
         "args": {"image": "$input.image0", "labels": ["a cat", "a dog", "a car"]}},
        {"id": "t2", "tool": "image_search",
         "args": {"query": "a cat", "images": ["$input.image0", "$input.image1"]}},
    ]}
    agent = Agent(Config.from_dict({"store_dir": str(tmp_path / "store"),
                                  "router": {"mode": "plan"},
                                  "planner": {"grounding": {"enabled": False}}},
                                 profile="offline"),
                  planner_backend=Scripted(json.dumps(plan)))
    second = tmp_path / "blue.png"
    Image.new("RGB", (40, 30), (20, 40, 220)).save(second)
    result = agent.run("Is it a cat, a dog or a car? Which photo shows a cat best?",
                       images=[PHOTO, second])
    assert result.outputs["t1"]["label"] in ("a cat", "a dog", "a car")
    assert len(result.outputs["t1"]["scores"]) == 3
    assert len(result.outputs["t2"]["scores"]) == 2
    images = [a for a in result.artifacts if a.task == "t2"]
    assert [a.kind for a in images] == ["image", "image"]


class TestImageSearchConformance(ToolConformance):
    tool_cls = ImageSearch
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    float_tolerance = 1e-5
    bad_inputs = [
        ({"images": [A_REF]}, "query"),
        ({"query": "", "images": [A_REF]}, "query"),
        ({"query": "x" * 301, "images": [A_REF]}, "query"),
        ({"query": "a cat", "images": []}, "images"),
        ({"query": "a cat", "images": [A_REF] * 1001}, "images"),
        ({"query": "a cat", "folder": "/no/such/folder"}, "folder"),
        ({"query": "a cat", "images": [A_REF], "top_k": 0}, "top_k"),
        ({"query": "a cat", "images": [A_REF], "top_k": 101}, "top_k"),
    ]

    def make_inputs(self, store):
        refs = put_three_images(store)
        return [
            {"query": "a red car", "images": refs, "top_k": 2},
            {"query": "a photo of a dog", "images": refs[1:]},
            {"query": "a blue boat on a lake", "images": [refs[2], refs[0]], "top_k": 1},
        ]
