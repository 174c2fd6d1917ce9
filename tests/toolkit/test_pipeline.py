"""PipelineTool: a checkpoint's classes loaded by name through from_pretrained, and a batch run
as groups of encode -> forward -> decode."""

from __future__ import annotations

import torch
from pydantic import Field

from mmagent.toolkit import PipelineTool, Ports, ToolContext, group_rows


class Doubler(PipelineTool):
    """A linear layer whose weights are saved and reloaded like a real checkpoint."""

    name = "doubler"
    description = "Doubles numbers with a one-weight linear model."
    model_class = "tests.toolkit.test_pipeline.TinyLinear"

    class Input(Ports):
        x: float = Field(description="a number")
        group: str = Field("a", description="rows of one group share a forward pass")

    class Output(Ports):
        y: float = Field(description="about 2x")
        batch: int = Field(description="how many rows its forward pass had")

    def batches(self, rows):
        return group_rows([r.group for r in rows])

    def encode(self, rows, ctx):
        return torch.tensor([[r.x] for r in rows], dtype=self._dtype, device=self._device)

    def forward(self, encoded, ctx):
        assert torch.is_inference_mode_enabled()
        return self.model(encoded)

    def decode(self, outputs, rows, ctx):
        return [self.Output(y=float(v), batch=len(rows)) for v in outputs[:, 0]]


class TinyLinear(torch.nn.Linear):
    """``from_pretrained`` over a state dict file, as transformers models have it."""

    @classmethod
    def from_pretrained(cls, path, dtype=None):
        model = cls(1, 1, bias=False)
        model.load_state_dict(torch.load(f"{path}/weights.pt"))
        return model.to(dtype)


def test_checkpoint_is_loaded_placed_and_run_in_groups(tmp_path, store):
    with torch.no_grad():
        weights = TinyLinear(1, 1, bias=False)
        weights.weight.fill_(2.0)
    torch.save(weights.state_dict(), tmp_path / "weights.pt")
    tool = Doubler(checkpoint=str(tmp_path), device="cpu")
    tool.ensure_loaded()
    assert isinstance(tool.model, TinyLinear) and not tool.model.training
    outs = tool.run([tool.parse_input({"x": 1.0}), tool.parse_input({"x": 2.0, "group": "b"}),
                     tool.parse_input({"x": 3.0})], ToolContext(store))
    assert [(o.y, o.batch) for o in outs] == [(2.0, 2), (4.0, 1), (6.0, 2)]
    assert tool.memory_bytes() == 4  # one float32 weight


def test_group_rows_keeps_first_seen_order():
    assert group_rows([3, 1, 3, 2, 1]) == [[0, 2], [1, 4], [3]]
