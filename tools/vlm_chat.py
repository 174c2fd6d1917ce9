"""The end-to-end path: one vision-language model answers about images (LLaVA family).

Loaded through transformers' ``AutoModelForImageTextToText`` and ``AutoProcessor``, so LLaVA,
LLaVA-NeXT, LLaVA-OneVision, Qwen2-VL / Qwen2.5-VL and Idefics checkpoints load by their id. The
prompt is built with the checkpoint's own chat template: the previous turns (``history``), then a
user turn with the images followed by the question.

A batch runs one greedy ``generate`` per request (no padding across requests), so an answer never
depends on what shares its batch; generated tokens are reported as progress events.

>>> import tempfile, PIL.Image
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> ref = store.put_image(PIL.Image.new("RGB", (64, 48), (200, 30, 30)))
>>> tool = VLMChat(checkpoint="tiny", device="cpu")
>>> tool.ensure_loaded()
>>> out = tool.run([tool.parse_input({"images": [ref], "question": "what is this?",
...                                   "max_new_tokens": 4})], ToolContext(store))
>>> isinstance(out[0].answer, str)
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from mmagent.artifacts import ImageRef
from mmagent.toolkit import PipelineTool, Ports, Resources, ToolContext
from mmagent.tools._tiny import trained_tokenizer

__all__ = ["VLMChat", "ChatTurn", "MAX_IMAGES", "MAX_QUESTION_CHARS", "MAX_HISTORY_TURNS"]

MAX_IMAGES = 8
MAX_QUESTION_CHARS = 2000
MAX_HISTORY_TURNS = 20

# Chat-like English for the tiny model's BPE vocabulary (build_tiny).
_TINY_CORPUS = [
    "what is in this picture", "the picture shows a cat sitting on a red couch",
    "describe the image in detail", "there is a dog running in a green field",
    "how many people are there", "two people are walking on the beach at sunset",
    "what colour is the car", "the car is red", "is it raining", "yes it is raining",
    "user", "assistant", "system", "you are a helpful assistant",
]
# A minimal template in the shape of LLaVA-OneVision's: images first, then text, per turn.
_TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: "
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{{ '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


class ChatTurn(Ports):
    """One earlier turn of the conversation."""

    role: Literal["system", "user", "assistant"] = Field(description="who spoke")
    content: str = Field(max_length=MAX_QUESTION_CHARS, description="what was said")


class VLMChat(PipelineTool):
    """Answer a question about one or more images with a vision-language model.

    >>> VLMChat.card()["inputs"]["images"]["type"]
    'list[image]'
    """

    name = "vlm_chat"
    description = (
        "A vision-language model that looks at one or more images and answers a question or "
        "instruction about them in free text; earlier conversation turns can be given as history."
    )
    default_checkpoint = "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"
    model_class = "transformers.AutoModelForImageTextToText"
    processor_classes = {"processor": "transformers.AutoProcessor"}
    processor: Any  # set by load, from processor_classes
    # 0.9B parameters: ~1.8 GB of weights in fp16, plus the KV cache of a few thousand image
    # tokens (AnyRes tiling) per image.
    resources = Resources(num_gpus=0.25, num_cpus=1.0, gpu_memory_gb=4.0)

    class Input(Ports):
        images: list[ImageRef] = Field(min_length=1, max_length=MAX_IMAGES,
                                       description=f"the images to look at (1 to {MAX_IMAGES})")
        question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                              description="the question or instruction about the images")
        history: list[ChatTurn] = Field(
            [], max_length=MAX_HISTORY_TURNS,
            description="earlier turns, oldest first, as {role, content} objects")
        max_new_tokens: int = Field(128, ge=1, le=1024, description="most tokens in the answer")

    class Output(Ports):
        answer: str = Field(description="the model's answer")

    def load(self) -> None:
        super().load()
        if getattr(self.processor, "chat_template", None) is None:
            raise ValueError(f"{self.checkpoint_path()} has no chat template; expected a chat "
                             "checkpoint")

    def batches(self, rows: list[VLMChat.Input]) -> list[list[int]]:
        # one generate per request: no padding across requests
        return [[i] for i in range(len(rows))]

    def encode(self, rows: list[VLMChat.Input], ctx: ToolContext) -> dict[str, Any]:
        (inp,) = rows
        # 1. the conversation: history as text turns, then the images and the question
        messages = [{"role": t.role, "content": [{"type": "text", "text": t.content}]}
                    for t in inp.history]
        messages.append({"role": "user", "content": [
            *({"type": "image"} for _ in inp.images), {"type": "text", "text": inp.question}]})
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True,
                                                    tokenize=False)
        # 2. preprocess the images with the prompt (the processor expands image tokens)
        images = [ctx.store.load_image(ref) for ref in inp.images]
        enc = self.processor(images=images, text=prompt, return_tensors="pt")
        return {"max_new_tokens": inp.max_new_tokens,
                **{k: (v.to(self._device, self._dtype) if v.is_floating_point() else
                       v.to(self._device)) for k, v in enc.items()}}

    def forward(self, encoded: dict[str, Any], ctx: ToolContext) -> Any:
        # 3. greedy generation, one progress event per token; what came after the prompt
        streamer = _ProgressStreamer(ctx, encoded["max_new_tokens"])
        out = self.model.generate(**encoded, do_sample=False, num_beams=1, streamer=streamer)
        return out[0, encoded["input_ids"].shape[1]:]

    def decode(self, outputs: Any, rows: list[VLMChat.Input],
               ctx: ToolContext) -> list[VLMChat.Output]:
        # 4. the answer's text
        return [self.Output(answer=self.processor.decode(outputs,
                                                         skip_special_tokens=True).strip())]

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight LLaVA (tiny Llama + CLIP vision tower, ~0.5 MB) with a BPE tokenizer
        trained in code, a chat template, and a PIL image processor."""
        import torch
        from transformers import (
            CLIPImageProcessorPil,
            LlamaTokenizer,
            LlavaConfig,
            LlavaForConditionalGeneration,
            LlavaProcessor,
        )

        tokenizer = trained_tokenizer(LlamaTokenizer, _TINY_CORPUS)
        tokenizer.add_special_tokens({"pad_token": "<pad>",
                                      "additional_special_tokens": ["<image>"]})
        image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32},
                                                crop_size={"height": 32, "width": 32})
        # 32x32 images in 8x8 patches: 16 patch tokens + CLS, CLS dropped ("default") = 16.
        processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                   patch_size=8, vision_feature_select_strategy="default",
                                   num_additional_image_tokens=1,
                                   chat_template=_TINY_CHAT_TEMPLATE)
        init = 0.1  # at 0.02 the random model ignores its inputs and always says the same
        config = LlavaConfig(
            vision_config={
                "model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 37,
                "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 32,
                "patch_size": 8, "initializer_range": init,
            },
            text_config={
                "model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 32,
                "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2, "max_position_embeddings": 1024,
                "initializer_range": init, "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
            },
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
            vision_feature_layer=-1,
            vision_feature_select_strategy="default",
            # a PretrainedConfig keeps extra keyword arguments as attributes; its typed
            # signature lists only Llava's own fields
            initializer_range=init,  # type: ignore[call-arg]
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = LlavaForConditionalGeneration(config)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.save_pretrained(path)
        processor.save_pretrained(path)


class _ProgressStreamer:
    """A transformers streamer that turns each generated token into a progress event."""

    def __init__(self, ctx: ToolContext, total: int) -> None:
        self.ctx, self.total, self.step, self._prompt_seen = ctx, total, 0, False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate first puts the prompt
            self._prompt_seen = True
            return
        self.step += 1
        self.ctx.progress(self.step, self.total, "generating tokens")

    def end(self) -> None:
        pass
