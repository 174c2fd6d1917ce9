"""The checks every tool passes. A tool's test class inherits :class:`ToolConformance`.

Subclasses set ``tool_cls`` (and ``tool_kwargs``, default: the tiny checkpoint), implement
``make_inputs(store)`` returning three distinct valid argument dicts, and list ``bad_inputs``
as ``(args, argument name the error must name)`` pairs.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import pytest
import soundfile as sf
from PIL import Image

from mmagent.artifacts import ArtifactRef, ArtifactStore
from mmagent.errors import ToolInputError
from mmagent.toolkit import Tool, ToolContext, ToolRegistry

KNOWN_TYPES = {"image", "audio", "video", "text", "integer", "number", "boolean"}
KNOWN_TYPES |= {"json"}  # structured values: chat history turns, speech segments


class ToolConformance:
    tool_cls: ClassVar[type[Tool]]
    tool_kwargs: ClassVar[dict[str, Any]] = {"checkpoint": "tiny"}
    deterministic: ClassVar[bool] = True
    nondeterministic_reason: ClassVar[str] = ""
    bad_inputs: ClassVar[list[tuple[dict[str, Any], str]]] = []
    # Scores computed in a batch differ from single calls in the last float bits (BLAS blocking
    # depends on the batch shape); a tool returning floats sets how close they must be.
    float_tolerance: ClassVar[float] = 0.0

    def make_inputs(self, store: ArtifactStore) -> list[dict[str, Any]]:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    def tool(self) -> Tool:
        t = self.tool_cls(**self.tool_kwargs)
        t.ensure_loaded()
        return t

    @pytest.fixture
    def ctx(self, store) -> ToolContext:
        return ToolContext(store)

    # -- declaration ---------------------------------------------------------------------------

    def test_card_declares_typed_described_ports(self):
        card = self.tool_cls.card()
        assert card["name"] == self.tool_cls.name and card["description"].strip()
        for side in ("inputs", "outputs"):
            assert card[side], f"{side} must not be empty"
            for port, spec in card[side].items():
                base = spec["type"].removeprefix("list[").removesuffix("]")
                assert base in KNOWN_TYPES, f"{side}.{port} has untyped {spec['type']!r}"
                assert spec["description"]

    def test_discovered_by_its_module(self):
        registry = ToolRegistry.discover()
        assert registry.tool_class(self.tool_cls.name) is self.tool_cls

    def test_declares_a_default_checkpoint_and_resources(self):
        # a utility (media plumbing) loads no model, so it has no checkpoint
        assert self.tool_cls.category == "utility" or self.tool_cls.default_checkpoint
        # a model tool says how much GPU memory it takes: residency budgets, approval
        # thresholds and Ray placement read it (a utility takes none)
        res = self.tool_cls.resources
        assert (res.gpu_memory_gb > 0 and res.num_gpus > 0) == (self.tool_cls.category != "utility")

    # -- behaviour -----------------------------------------------------------------------------

    def test_input_output_json_round_trip(self, tool, ctx, store):
        args = self.make_inputs(store)[0]
        inp = tool.parse_input(args)
        assert type(inp).model_validate_json(inp.model_dump_json()) == inp
        out = tool.run([inp], ctx)[0]
        assert type(out).model_validate_json(out.model_dump_json()) == out

    def test_bad_inputs_rejected_naming_the_argument(self, tool):
        for args, arg in self.bad_inputs:
            with pytest.raises(ToolInputError) as e:
                tool.parse_input(args)
            assert e.value.details["arg"].split(".")[0] == arg, (args, e.value)

    def test_batch_of_three_equals_three_single_calls(self, tool, ctx, store):
        if not self.deterministic:
            pytest.skip(f"{self.tool_cls.name}: output depends on the batch "
                        f"({self.nondeterministic_reason or 'stochastic model'})")
        inputs = [tool.parse_input(a) for a in self.make_inputs(store)]
        assert len(inputs) == 3
        batched = tool.run(inputs, ctx)
        singles = [tool.run([i], ctx)[0] for i in inputs]
        if self.float_tolerance:
            assert_close([o.model_dump() for o in batched], [o.model_dump() for o in singles],
                         self.float_tolerance)
        else:
            assert [o.model_dump() for o in batched] == [o.model_dump() for o in singles]

    def test_outputs_are_of_the_declared_kind(self, tool, ctx, store):
        inp = tool.parse_input(self.make_inputs(store)[0])
        out = tool.run([inp], ctx)[0]
        for fname in type(out).model_fields:
            value = getattr(out, fname)
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, ArtifactRef):
                    check_artifact(store, ref, out)


def assert_close(a: Any, b: Any, tol: float, where: str = "output") -> None:
    """Equal, except floats within ``tol`` of each other."""
    if isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= tol, f"{where}: {a} vs {b}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_close(a[k], b[k], tol, f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, tol, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def check_artifact(store: ArtifactStore, ref: ArtifactRef, out: Any) -> None:
    data = store.read_bytes(ref)
    if ref.kind == "image":
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.size == (ref.width, ref.height)
    elif ref.kind == "audio":
        info = sf.info(io.BytesIO(data))
        assert info.frames > 0
        declared = getattr(out, "sample_rate", None)
        if declared is not None:
            assert info.samplerate == declared
        if ref.sample_rate is not None:  # the WAV decodes at the rate its ref declares
            assert info.samplerate == ref.sample_rate
            assert abs(info.frames / info.samplerate - (ref.duration_s or 0)) < 1e-3
    elif ref.kind == "video":
        assert ref.frames is None or ref.frames > 0
        check_video(store, ref, out)
    if ref.mime == "image/gif":
        check_gif(data, out)


def check_video(store: ArtifactStore, ref: ArtifactRef, out: Any) -> None:
    """An MP4 plays in browsers (H.264, yuv420p) and has the frame count its ref and the output
    declare."""
    from mmagent.artifacts import probe_video

    info = probe_video(store.path(ref))
    assert info.frames > 0 and info.frames == ref.frames
    assert (info.width, info.height) == (ref.width, ref.height)
    if ref.mime == "video/mp4":
        assert (info.codec, info.pix_fmt) == ("h264", "yuv420p"), info
    declared = getattr(out, "frames", None)
    if isinstance(declared, int):
        assert info.frames == declared


def check_gif(data: bytes, out: Any) -> None:
    """Every frame of a GIF decodes; an animated preview has the output's frame count."""
    from PIL import ImageSequence

    with Image.open(io.BytesIO(data)) as im:
        n = sum(1 for frame in ImageSequence.Iterator(im) if frame.convert("RGB"))
    declared = getattr(out, "frames", None)
    assert n >= 1 and (not isinstance(declared, int) or n == declared)
