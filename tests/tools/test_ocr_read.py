"""OcrRead on the real PP-OCRv4 weights inside rapidocr-onnxruntime: rendered text read back."""

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from mmagent.errors import ConfigError
from mmagent.toolkit import ToolContext
from mmagent.tools.ocr_read import OcrRead

from .conformance import ToolConformance

pytest.importorskip("rapidocr_onnxruntime")
SIGN = Path(__file__).resolve().parents[2] / "examples" / "sign.png"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def rendered(store, lines: list[str], size=(520, 200), colours=("white", "black")):
    """``lines`` drawn one under another, as a user's screenshot or label would show them."""
    img = Image.new("RGB", size, colours[0])
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 34) if Path(FONT).is_file() else ImageFont.load_default(34)
    for i, line in enumerate(lines):
        draw.text((24, 24 + 56 * i), line, fill=colours[1], font=font)
    return store.put_image(img)


@pytest.fixture(scope="module")
def tool():
    tool = OcrRead()
    tool.ensure_loaded()
    return tool


def test_reads_rendered_text_back_exactly(tool, store):
    ctx = ToolContext(store)
    cases = [["Hello World 2026"], ["Total: $12.50", "Thank you!"],
             ["EXIT", "Platform 9"]]
    inputs = [tool.parse_input({"image": rendered(store, lines)}) for lines in cases]
    outs = tool.run(inputs, ctx)
    assert [out.text.split("\n") for out in outs] == cases
    for lines, out in zip(cases, outs, strict=True):
        assert [line.text for line in out.lines] == lines
        assert all(line.score > 0.8 for line in out.lines)
        tops = [line.box[1] for line in out.lines]
        assert tops == sorted(tops), "lines are not top to bottom"
        for line in out.lines:
            left, top, right, bottom = line.box
            assert 0 <= left < right <= 520 and 0 <= top < bottom <= 200


def test_reads_the_shipped_sign(tool, store):
    ref = store.put_image(Image.open(SIGN))
    out = tool.run([tool.parse_input({"image": ref})], ToolContext(store))[0]
    assert out.text == "Welcome to Riverside\nLibrary\nOpen daily until six"


def test_no_text_gives_an_empty_result(tool, store):
    ref = store.put_image(Image.new("RGB", (200, 120), (90, 140, 200)))
    out = tool.run([tool.parse_input({"image": ref})], ToolContext(store))[0]
    assert out.text == "" and out.lines == []


def test_unknown_checkpoint_and_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="PP-OCRv4"):
        OcrRead(checkpoint="tiny")
    with pytest.raises(ConfigError, match="box_thresh"):
        OcrRead(box_thresh=3)


class TestOcrReadConformance(ToolConformance):
    tool_cls = OcrRead
    tool_kwargs = {}
    bad_inputs = [({"image": {"id": "0" * 64, "mime": "image/png"}, "min_score": 2.0},
                   "min_score")]

    def make_inputs(self, store):
        return [{"image": rendered(store, [word])} for word in ("apple", "river", "stone")]
