"""TaskBench harness: the scorer on hand-computed cases, plan conversion, card-only tools, and the
harness end to end with a scripted backend (no LLM)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmagent.config import PlannerConfig
from mmagent.errors import InputError
from mmagent.eval._taskbench import (
    Scores,
    card_registry,
    content_type,
    evaluate_taskbench,
    graph_items,
    holdout_split,
    load_bank_rows,
    load_taskbench,
    plan_to_taskbench,
    request_inputs,
    score,
    tool_name,
)
from mmagent.plan import Plan, collect_errors
from mmagent.planner import Completion

DATA = Path(__file__).parents[3] / "shared" / "taskbench"
needs_data = pytest.mark.skipif(not (DATA / "multimedia").is_dir(),
                                reason=f"TaskBench dev set not found at {DATA}")
REPORT_KEYS = {"n_f1", "e_f1", "t_f1", "v_f1", "valid_rate", "llm_calls_per_request",
               "tokens_per_request", "grounded_rate", "seconds_p50", "seconds_p95", "demos",
               "count", "by_type"}

OUT = {"Text-to-Image": "image", "Image Colorizer": "image", "Image-to-Text": "text"}


def node(task, *args):
    return {"task": task, "arguments": list(args)}


# -- scoring ----------------------------------------------------------------------------------


def test_content_type_guesses_by_extension_substring():
    assert content_type("example.wav") == "audio"
    assert content_type("'clip.mp4'") == "video"
    assert content_type("a.jpg") == content_type("b.png") == "image"
    assert content_type("example.txt") == content_type("boost bass") == "text"


def test_graph_items_derive_links_and_skip_self_references():
    # a 1-based gold row: "<node-1>" on node 1 reads as a self reference and is dropped
    items = graph_items([node("Text-to-Image", "a lake"), node("Image Colorizer", "<node-1>")],
                        OUT)
    assert items.links == frozenset()
    assert items.task_args == {"Text-to-Image-text"}
    # 0-based: the reference yields a link and (output type of the source, source name)
    items = graph_items([node("Text-to-Image", "a lake"), node("Image_Colorizer", "<node-0>")],
                        OUT)
    assert items.nodes == {"Text-to-Image", "Image Colorizer"}  # underscores -> spaces
    assert items.links == {("Text-to-Image", "Image Colorizer")}
    assert items.task_arg_values == {"Text-to-Image-text-a lake",
                                     "Image Colorizer-image-Text-to-Image"}
    # only underscores change: "Text_to_Image" is "Text to Image", not the tool "Text-to-Image"
    assert graph_items([node("Text_to_Image", "x")], OUT).nodes == {"Text to Image"}
    # a reference past the end of the graph is dropped
    assert graph_items([node("Image Colorizer", "<node-5>")], OUT).task_args == frozenset()


def test_score_pools_items_over_samples_by_hand():
    gold = [
        [node("Text-to-Image", "a lake"), node("Image Colorizer", "<node-1>")],  # 1-based row
        [node("Image-to-Text", "example.jpg")],
    ]
    pred = [
        [node("Text-to-Image", "a lake"), node("Image_Colorizer", "<node-0>")],
        [node("Image-to-Text", "example.png"), node("Magic Tool", "<node-0>")],  # OOV tool
    ]
    s = score(gold, pred, OUT)
    # nodes: 2 + 1 true positives; "Magic Tool" is outside tool_desc, ignored on both sides
    assert s.n_f1 == 100.0
    # links: gold has none (self reference skipped); prediction has 2 -> no true positive
    assert s.e_f1 == 0.0
    # t: sample 1 tp {T2I-text} fp {IC-image}; sample 2 tp {I2T-image} fp {Magic Tool-text}
    assert s.t_f1 == pytest.approx(100 * 2 * 2 / (2 * 2 + 2 + 0))
    # v: sample 1 tp 1 fp 1; sample 2 tp 0 fp 2 fn 1 (example.png != example.jpg)
    assert s.v_f1 == pytest.approx(100 * 2 * 1 / (2 * 1 + 3 + 1))


def test_empty_prediction_scores_zero_and_perfect_prediction_scores_100():
    gold = [[node("Image-to-Text", "example.jpg")]]
    assert score(gold, [[]], OUT).n_f1 == 0.0
    assert score(gold, gold, OUT) == Scores(n_f1=100.0, e_f1=0.0, t_f1=100.0, v_f1=100.0)


def test_load_accepts_task_nodes_lists_and_tool_nodes_strings(tmp_path):
    nodes = [node("Image-to-Text", "example.jpg")]
    (tmp_path / "tool_desc.json").write_text(json.dumps({"nodes": [
        {"id": "Image-to-Text", "desc": "Captions.", "input-type": ["image"],
         "output-type": ["text"]}]}))
    (tmp_path / "data.json").write_text("\n".join([
        json.dumps({"id": "1", "type": "single", "task_nodes": nodes, "task_links": []}),
        json.dumps({"id": "2", "type": "single", "tool_nodes": json.dumps(nodes),
                    "tool_links": "[]"}),
    ]))
    (tmp_path / "user_requests.json").write_text(
        '{"id": "1", "user_request": "caption example.jpg"}\n'
        '{"id": "2", "user_request": "caption example.jpg"}\n')
    bench = load_taskbench(tmp_path)
    assert [s.gold for s in bench.samples] == [nodes, nodes]
    assert bench.samples[0].request == "caption example.jpg"


# -- card-only tools, inputs, conversion ------------------------------------------------------


def test_tool_names_are_valid_and_map_back():
    assert tool_name("Image Search (by Image)") == "image_search_by_image"
    assert tool_name("Text-to-Image") == "text_to_image"


def test_request_inputs_find_media_files_by_extension():
    inputs, files = request_inputs("Stitch example1.jpg and 'example2.png', then add "
                                   "example.wav; example1.jpg again; notes in example.txt")
    assert files == {"image0": "example1.jpg", "image1": "example2.png", "audio0": "example.wav"}
    assert inputs["image1"].kind == "image" and inputs["image1"].mime == "image/png"
    assert inputs["audio0"].kind == "audio" and len(inputs["audio0"].id) == 64


@needs_data
def test_card_tools_register_and_a_plan_validates_against_them():
    bench = load_taskbench(DATA / "multimedia")
    registry, ids = card_registry(bench.tools)
    assert len(registry.names()) == len(bench.tools) == len(set(ids.values()))
    assert ids["image_search_by_image"] == "Image Search (by Image)"
    card = registry.tool_class("image_search").card()  # output type "Image" in tool_desc
    assert card["outputs"] == {"image": {"type": "image", "description": "the image produced",
                                         "required": True}}
    assert registry.tool_class("url_extractor").card()["outputs"]["url"]["type"] == "text"
    plan = Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "video_to_image", "args": {"arg0": "$input.video0"}},
        {"id": "t2", "tool": "image_stitcher", "args": {"arg1": "$t1.image",
                                                        "arg0": "$input.image0"}},
        {"id": "t3", "tool": "image_colorizer", "args": {"arg0": "$t2.image"}}]})
    kinds = {"video0": "video", "image0": "image"}
    assert collect_errors(plan, registry, kinds) == []
    bad = Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "image_colorizer", "args": {"arg0": "$input.video0"}}]})
    assert [e.code for e in collect_errors(bad, registry, kinds)] == ["plan.type_mismatch"]
    with pytest.raises(NotImplementedError, match="card-only"):
        registry.get("image_colorizer").run([], None)
    # conversion: TaskBench ids, file names, 0-based <node-j>, positional order
    nodes = plan_to_taskbench(plan, registry, ids, {"video0": "example.mp4",
                                                    "image0": "example.jpg"})
    assert nodes == [node("Video-to-Image", "example.mp4"),
                     node("Image Stitcher", "example.jpg", "<node-0>"),
                     node("Image Colorizer", "<node-1>")]


def test_conversion_writes_literals_as_strings():
    from tests.fakes import fake_registry

    plan = Plan.model_validate({"tasks": [
        {"id": "a", "tool": "fake_sleep", "args": {"seconds": 0.5, "label": "x"}},
        {"id": "b", "tool": "fake_sleep", "args": {"label": "$a.text"}}]})
    nodes = plan_to_taskbench(plan, fake_registry(), {}, {})
    assert nodes == [node("fake_sleep", "x", "0.5"), node("fake_sleep", "<node-0>")]


# -- the harness, with a scripted backend -----------------------------------------------------


class ScriptedPlans:
    """Answers each request with the plan scripted for a phrase in it, else with junk."""

    def __init__(self, plans):
        self.plans = plans

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        request = messages[-1]["content"]
        if json_schema is not None and "tasks" not in json_schema["properties"]:
            return Completion(json.dumps({"deliver": ["text"]}), 100, 5)
        for phrase, plan in self.plans.items():
            if phrase in request:
                return Completion(json.dumps(plan), 100, 20)
        return Completion("{}", 100, 1)


LLM_ONLY = {"grounding": {"enabled": False}}  # the scripted LLM plans every request


SCRIPT = {
    "synchronize the voiceover": {"tasks": [
        {"id": "t1", "tool": "video_synchronization",
         "args": {"arg0": "$input.video0", "arg1": "$input.audio0"}}]},
    "stitch together to create a panorama": {"tasks": [
        {"id": "t1", "tool": "image_stitcher",
         "args": {"arg0": "$input.image0", "arg1": "$input.image1"}},
        {"id": "t2", "tool": "image_style_transfer",
         "args": {"arg0": "$t1.image", "arg1": "$input.image2"}},
        {"id": "t3", "tool": "image_to_text", "args": {"arg0": "$t2.image"}}]},
}


@needs_data
def test_harness_plans_converts_and_scores_the_multimedia_set():
    bench = load_taskbench(DATA / "multimedia")
    seen = []
    report = evaluate_taskbench(bench, ScriptedPlans(SCRIPT), PlannerConfig(**LLM_ONLY),
                                on_sample=seen.append)
    assert report.count == len(bench.samples) == len(seen) == 12
    by_id = {r.id: r for r in report.samples}
    gold = {s.id: s.gold for s in bench.samples}
    assert by_id["11197277"].prediction == gold["11197277"]  # single
    assert by_id["14067879"].prediction == gold["14067879"]  # 0-based chain
    assert report.valid_rate == pytest.approx(2 / 12)
    # valid: one call each; invalid: the first try and two repairs
    assert report.llm_calls_per_request == pytest.approx((2 * 1 + 10 * 3) / 12)
    assert report.tokens_per_request == pytest.approx((2 * 120 + 10 * 3 * 101) / 12)
    assert by_id["28923786"].prediction == [] and not by_id["28923786"].valid
    expected = score([s.gold for s in bench.samples], [r.prediction for r in report.samples],
                     bench.output_types())
    assert (report.n_f1, report.e_f1, report.t_f1, report.v_f1) == (
        expected.n_f1, expected.e_f1, expected.t_f1, expected.v_f1)
    assert 0 < report.n_f1 < 100 and report.e_f1 > 0
    assert list(report.by_type) == ["single", "chain", "dag"]
    assert {k: v.count for k, v in report.by_type.items()} == {"single": 5, "chain": 6, "dag": 1}
    assert report.by_type["dag"].n_f1 == 0.0 and report.by_type["dag"].valid_rate == 0.0
    assert set(report.model_dump()) == REPORT_KEYS


@needs_data
def test_harness_limit_and_deliver_first_are_honoured():
    bench = load_taskbench(DATA / "huggingface")
    pc = PlannerConfig(deliver_first=True, max_repairs=0, **LLM_ONLY)
    report = evaluate_taskbench(bench, ScriptedPlans({}), pc, limit=3)
    assert report.count == 3 and report.valid_rate == 0.0
    assert report.llm_calls_per_request == 2.0  # what to deliver, then one rejected plan
    assert report.n_f1 == report.v_f1 == 0.0


@needs_data
def test_cli_json_and_table(monkeypatch, capsys):
    from mmagent.agent import _agent as agent
    from tests.cli.test_cli import cli

    monkeypatch.setattr(agent, "make_backend", lambda pc, cache_dir=None: ScriptedPlans(SCRIPT))
    code, out, _ = cli(monkeypatch, capsys, "eval", "taskbench", "--data",
                       str(DATA / "multimedia"), "--limit", "4", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == REPORT_KEYS and data["count"] == 4
    assert set(data["by_type"]["single"]) == {"n_f1", "e_f1", "t_f1", "v_f1", "valid_rate",
                                              "count"}
    code, out, err = cli(monkeypatch, capsys, "eval", "taskbench", "--data",
                         str(DATA / "multimedia"))
    assert code == 0 and "n-F1" in out and "single" in out and "Video Synchronization" in err


def test_cli_missing_data_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    from tests.cli.test_cli import cli

    code, out, err = cli(monkeypatch, capsys, "eval", "taskbench", "--data", str(tmp_path),
                         "--json")
    assert code == 2 and out == "" and err.startswith("error[input.not_found]: ")


@pytest.mark.slow
@needs_data
def test_cli_with_the_real_offline_planner():
    exe = Path(sys.executable).with_name("mmagent")
    proc = subprocess.run([str(exe), "eval", "taskbench", "--data", str(DATA / "multimedia"),
                           "--limit", "1", "--json", "--profile", "offline"],
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == REPORT_KEYS and data["count"] == 1
    for key in ("n_f1", "e_f1", "t_f1", "v_f1"):
        assert 0.0 <= data[key] <= 100.0
    assert 0.0 <= data["valid_rate"] <= 1.0
    # grounded without an LLM call, or planned by the bundled LLM
    assert data["grounded_rate"] == 1.0 or (data["llm_calls_per_request"] >= 1
                                            and data["tokens_per_request"] > 0)


@needs_data
def test_a_bank_holding_an_evaluated_row_is_refused(tmp_path):
    bench = load_taskbench(DATA / "multimedia")
    leak = tmp_path / "train.jsonl"
    rows = [json.loads(line) for line in (DATA / "multimedia" / "data.json").open()][:2]
    requests = [json.loads(line) for line in (DATA / "multimedia" / "user_requests.json").open()]
    text = {r["id"]: r["user_request"] for r in requests}
    leak.write_text("".join(json.dumps({**r, "id": f"x{r['id']}", "user_request": text[r["id"]]})
                            + "\n" for r in rows))  # new ids, the same requests
    with pytest.raises(InputError, match="disjoint"):
        evaluate_taskbench(bench, ScriptedPlans({}), PlannerConfig(), bank=load_bank_rows(leak))


@needs_data
def test_without_demos_the_planner_sees_no_demonstration():
    bench = load_taskbench(DATA / "multimedia")
    report = evaluate_taskbench(bench, ScriptedPlans(SCRIPT), PlannerConfig(**LLM_ONLY), limit=2)
    assert report.demos == 0 and report.grounded_rate == 0.0


@needs_data
def test_holdout_rows_never_join_the_bank():
    rows = load_bank_rows(DATA / "multimedia" / "train.jsonl")
    held, bank = holdout_split(rows, 20, seed=3)
    assert len(held) == 20 and len(bank) == len(rows) - 20
    assert not {r.id for r in held} & {r.id for r in bank}
    assert holdout_split(rows, 20, seed=3)[0] == held  # seeded: the same rows every time
    with pytest.raises(InputError, match="--holdout"):
        holdout_split(rows, len(rows))


@pytest.mark.slow
@needs_data
def test_grounded_planner_on_held_out_train_rows():
    """The offline planner grounded in the train bank plans held-out rows without the LLM:
    every plan valid, and far above the LLM-only planner (README: TaskBench)."""
    exe = Path(sys.executable).with_name("mmagent")
    proc = subprocess.run([str(exe), "eval", "taskbench", "--data", str(DATA / "multimedia"),
                           "--demos", str(DATA / "multimedia" / "train.jsonl"), "--holdout",
                           "40", "--json", "--profile", "offline"],
                          capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["count"] == 40 and data["demos"] > 700
    assert data["valid_rate"] == 1.0 and data["llm_calls_per_request"] <= 2
    assert data["n_f1"] > 60 and data["e_f1"] > 30
