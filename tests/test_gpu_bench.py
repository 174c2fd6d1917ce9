"""bench/gpu.py's CPU mode and the published architectures it builds (random weights)."""

import importlib.util
from pathlib import Path

import pytest

from mmagent.tools._published import ARCHITECTURES, published_checkpoint
from mmagent.tools.image_classify import ImageClassify

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "bench" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_published_clip_has_the_size_of_the_real_checkpoint(tmp_path):
    # openai/clip-vit-base-patch32 has 151,277,313 parameters
    tool = ImageClassify(checkpoint=published_checkpoint("image_classify", "real", tmp_path),
                         device="cpu")
    tool.ensure_loaded()
    params = sum(p.numel() for p in tool.encoder.model.parameters())
    assert params == pytest.approx(151_277_313, rel=0.001)


def test_cpu_mode_prints_the_figures_in_the_fixed_shape(tmp_path, capsys):
    out = _bench().main(["--json", "--tools", "image_classify", "--cache", str(tmp_path)])
    assert out["size"] == "reduced" and out["device"].startswith("cpu")
    row = out["tools"]["image_classify"]
    assert set(row) == {"params_m", "dtype", "load_s", "peak_mem_gb_b1", "peak_mem_gb_b8",
                        "b1_s", "b8_s", "gain"}
    assert 30 < row["params_m"] < 151  # one layer per tower, the same widths
    assert row["dtype"] == "float32" and row["b8_s"] > 0 and row["gain"] > 0
    assert out["plan"] is None  # its three tools were not selected
    assert '"tools"' in capsys.readouterr().out


def test_every_architecture_names_a_registered_model_tool():
    from mmagent.toolkit import ToolRegistry

    names = ToolRegistry.discover().names()
    assert set(ARCHITECTURES) <= set(names)


def test_published_planner_has_the_size_of_smollm2_135m(tmp_path):
    from transformers import AutoModelForCausalLM

    from mmagent.tools._published import published_planner

    model = AutoModelForCausalLM.from_pretrained(published_planner("real", tmp_path))
    # HuggingFaceTB/SmolLM2-135M: 134,515,008 parameters (tied embeddings)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134_515_008, rel=0.001)
