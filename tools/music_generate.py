"""Music from a text prompt with MusicGen (``MusicgenForConditionalGeneration``).

MusicGen samples by default (top-k 250, classifier-free guidance 3.0, from the checkpoint's
generation config). Here the sampling is seeded per prompt: each prompt draws its noise from its
own generator seeded with its ``seed`` (Gumbel-max sampling, which picks a token with exactly the
probability that multinomial sampling would). So the same prompt, duration and seed give the same
audio whatever else shares the batch — dynamic batching in the serving layer changes nothing.
Option ``sampling: false`` decodes greedily instead (deterministic too, but repetitive).

Batching: prompts of the same duration share one ``generate`` call (guidance doubles its rows
with the unconditional half, as MusicGen's own ``generate`` does) on CPU, where float32 kernels
give a row the same numbers whatever its batch. On CUDA each prompt generates alone (option
``batch_rows``, default: true on CPU only): bf16/fp16 kernels are picked by batch shape, so a row
batched with others gets logits a rounding apart from the same row alone, and a sampled token
can flip; a seed must repeat across calls (it did not on an H200, in a batch of 3 against a
later call of 1). The noise comes from a CPU generator per seed, so it is the same on any device.

Progress: a ``TaskProgress`` event every 5% of the generated tokens.

>>> MusicGenerate.card()["inputs"]["duration"]["type"]
'number'
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import Field

from mmagent.artifacts import AudioRef
from mmagent.errors import ConfigError, ToolInputError
from mmagent.toolkit import PipelineTool, Ports, Resources, ToolContext, group_rows
from mmagent.tools._tiny import trained_tokenizer

__all__ = ["MusicGenerate"]

_MAX_DURATION_S = 30.0  # MusicGen was trained on 30 s clips
_OPTIONS = ("sampling", "guidance_scale", "top_k", "temperature", "max_duration_s",
            "batch_rows")
_PROGRESS_CHUNKS = 20

# Enough music-description English for the tiny model's tokenizer (build_tiny).
_TINY_CORPUS = [
    "an upbeat pop song with drums, bass and a catchy synth melody",
    "calm piano music for studying, slow tempo, soft and warm",
    "lofi hip hop beat with vinyl crackle and mellow jazz chords",
    "epic orchestral soundtrack with strings, brass and choir",
    "80s electronic track with heavy drums and a driving bassline",
    "acoustic guitar folk tune, happy and bright, with handclaps",
    "ambient drone with evolving pads and distant bells at night",
    "fast rock song with distorted electric guitars and loud cymbals",
    "a sad violin solo in a minor key, slow and emotional",
    "reggae groove with an organ, offbeat guitar and deep bass",
    "jazz trio with upright bass, brushed drums and a grand piano",
    "techno at 128 bpm with a kick drum, hi-hats and an acid line",
]


class MusicGenerate(PipelineTool):
    """Generate a music clip from a description (MusicGen, mono).

    Options (``options`` in ``mmagent.yaml``): ``sampling`` (default true: seeded sampling;
    false: greedy), ``guidance_scale``, ``top_k`` and ``temperature`` (default: the
    checkpoint's generation config), ``max_duration_s`` (a bound below 30 s), ``batch_rows``
    (prompts of one duration share a ``generate`` call; default: on CPU only, see above).

    >>> MusicGenerate.card()["outputs"]["audio"]["type"]
    'audio'
    """

    name = "music_generate"
    description = (
        "Composes a short instrumental music clip from a text description of its style, mood "
        "and instruments. Optional duration in seconds (up to 30) and seed."
    )
    default_checkpoint = "facebook/musicgen-small"
    model_class = "transformers.MusicgenForConditionalGeneration"
    processor_classes = {"processor": "transformers.AutoProcessor"}
    processor: Any  # set by load, from processor_classes
    # 590M parameters with the T5 encoder and EnCodec: ~1.2 GB of weights in fp16, plus the
    # KV cache of a guided batch (twice the rows) of up to 1500 steps.
    resources = Resources(num_gpus=0.25, num_cpus=1.0, gpu_memory_gb=3.0)
    option_names = _OPTIONS

    class Input(Ports):
        prompt: str = Field(min_length=1, max_length=1000,
                            description="the music to make: style, mood, instruments, tempo")
        duration: float = Field(10.0, gt=0, le=_MAX_DURATION_S,
                                description="length of the clip in seconds (at most 30)")
        seed: int = Field(0, ge=0, le=2**63 - 1,
                          description="random seed; the same prompt, duration and seed give "
                          "the same music")

    class Output(Ports):
        audio: AudioRef = Field(description="the music, mono 16-bit WAV")
        sample_rate: int = Field(description="samples per second of the audio")

    def configure(self) -> None:
        limit = self.options.get("max_duration_s", _MAX_DURATION_S)
        if not (isinstance(limit, int | float) and 0 < limit <= _MAX_DURATION_S):
            raise ConfigError(f"got max_duration_s {limit!r} for tool {self.name!r}; expected a "
                              f"number of seconds in (0, {_MAX_DURATION_S:g}]",
                              key="max_duration_s")
        self.max_duration_s = float(limit)

    # -- loading --------------------------------------------------------------------------------

    def load(self) -> None:
        import torch

        super().load()
        # EnCodec's LSTM weights arrive as separate tensors; cuDNN wants them in one chunk and
        # otherwise warns and re-compacts them on every call. Compact them once (no-op on CPU).
        for module in self.model.modules():
            if isinstance(module, torch.nn.LSTM):
                module.flatten_parameters()
        self.batch_rows = bool(self.options.get("batch_rows", self._device == "cpu"))
        gen = self.model.generation_config
        self.guidance_scale = float(self.options.get("guidance_scale",
                                                     gen.guidance_scale or 1.0))
        self.top_k = self.options.get("top_k", gen.top_k)
        self.temperature = float(self.options.get("temperature", gen.temperature or 1.0))
        self.sampling = bool(self.options.get("sampling", True))
        self.sample_rate = int(self.model.config.audio_encoder.sampling_rate)
        self.frame_rate = float(self.model.config.audio_encoder.frame_rate)

    # -- running --------------------------------------------------------------------------------

    def prepare(self, inputs: list[MusicGenerate.Input],
                ctx: ToolContext) -> list[MusicGenerate.Input]:
        # check inputs before any model runs
        for inp in inputs:
            if inp.duration > self.max_duration_s:
                raise ToolInputError(
                    f"tool {self.name!r}, argument 'duration': got {inp.duration:g} s; expected "
                    f"at most {self.max_duration_s:g} s", tool=self.name, arg="duration",
                    value=inp.duration, limit=self.max_duration_s)
        return list(inputs)

    def batches(self, rows: list[MusicGenerate.Input]) -> list[list[int]]:
        # one generate per duration (every row of a call runs the same number of steps), or per
        # prompt where batching would change a row's numbers (see the module doc)
        return group_rows([(self._frames(inp.duration), 0 if self.batch_rows else i)
                           for i, inp in enumerate(rows)])

    def _frames(self, duration: float) -> int:
        return max(1, math.ceil(duration * self.frame_rate))

    def encode(self, rows: list[MusicGenerate.Input], ctx: ToolContext) -> dict[str, Any]:
        enc = self.processor(text=[inp.prompt for inp in rows], padding=True,
                             return_tensors="pt").to(self._device)
        return {"enc": enc, "seeds": [inp.seed for inp in rows],
                "frames": self._frames(rows[0].duration)}

    def forward(self, encoded: dict[str, Any], ctx: ToolContext) -> Any:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        # 1. the prompts through the text encoder, and (with guidance) the unconditional half:
        #    a null text, as MusicGen's generate builds it
        enc, seeds = encoded["enc"], encoded["seeds"]
        hidden = self.model.text_encoder(input_ids=enc["input_ids"],
                                         attention_mask=enc["attention_mask"]).last_hidden_state
        mask = enc["attention_mask"]
        guided = self.guidance_scale > 1.0
        if guided:
            hidden = torch.cat([hidden, torch.zeros_like(hidden)])
            mask = torch.cat([mask, torch.zeros_like(mask)])
        # 2. the delay pattern offsets codebook k by k steps: K - 1 extra steps give `frames`
        steps = encoded["frames"] + self.model.decoder.num_codebooks - 1
        sampler = _SeededSampler(
            seeds=seeds, num_codebooks=self.model.decoder.num_codebooks,
            guidance_scale=self.guidance_scale if guided else None, top_k=self.top_k,
            temperature=self.temperature, sampling=self.sampling)
        # 3. generate, each token picked by the seeded sampler; progress every 5%
        audio = self.model.generate(
            encoder_outputs=(hidden,), attention_mask=mask, guidance_scale=1.0,
            do_sample=False, max_new_tokens=steps,
            logits_processor=LogitsProcessorList([sampler]),
            stopping_criteria=StoppingCriteriaList([_Progress(ctx, steps)]))
        return audio[: len(seeds)]  # drop the unconditional rows' audio

    def decode(self, outputs: Any, rows: list[MusicGenerate.Input],
               ctx: ToolContext) -> list[MusicGenerate.Output]:
        # cut each clip to its requested length (frames cover it, rounded up)
        results = []
        for clip, inp in zip(outputs, rows, strict=True):
            n = round(inp.duration * self.sample_rate)
            samples = clip[0, :n].float().cpu().numpy().clip(-1.0, 1.0)
            results.append(self.Output(audio=ctx.store.put_audio(samples, self.sample_rate),
                                       sample_rate=self.sample_rate))
        return results

    # -- tiny checkpoint ------------------------------------------------------------------------

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight MusicGen (~0.3 MB): tiny T5 encoder, EnCodec (16 kHz, 50 frames/s,
        4 codebooks of 64 codes) and decoder, with a T5 tokenizer trained in code."""
        import torch
        from transformers import (
            EncodecConfig,
            EncodecFeatureExtractor,
            GenerationConfig,
            MusicgenConfig,
            MusicgenDecoderConfig,
            MusicgenForConditionalGeneration,
            MusicgenProcessor,
            T5Config,
            T5Tokenizer,
        )

        # transformers 5 has one (tokenizers-backed) T5 tokenizer; T5TokenizerFast is its alias
        tokenizer = trained_tokenizer(T5Tokenizer, _TINY_CORPUS)
        codes = 64
        text = T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=1,
                        num_heads=2, pad_token_id=tokenizer.pad_token_id,
                        eos_token_id=tokenizer.eos_token_id,
                        # a PretrainedConfig keeps extra keyword arguments as attributes; its
                        # typed signature lists only T5's own fields
                        decoder_start_token_id=tokenizer.pad_token_id)  # type: ignore[call-arg]
        # hop 8*5*4*2 = 320 samples at 16 kHz: 50 frames/s; 2.2 kbps at 50 Hz: 4 codebooks.
        audio = EncodecConfig(sampling_rate=16_000, audio_channels=1, hidden_size=16,
                              num_filters=4, num_residual_layers=1, upsampling_ratios=[8, 5, 4, 2],
                              codebook_size=codes, codebook_dim=16, target_bandwidths=[2.2],
                              num_lstm_layers=1, use_causal_conv=False)
        # As in the real checkpoints, the start/pad token is one past the codebook.
        decoder = MusicgenDecoderConfig(vocab_size=codes, hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, ffn_dim=32, num_codebooks=4,
                                        max_position_embeddings=2048, pad_token_id=codes,
                                        bos_token_id=codes, audio_channels=1)
        config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=audio.to_dict(),
                                decoder=decoder.to_dict())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = MusicgenForConditionalGeneration(config)
            # EnCodec's codebooks start as zeros (training fills them): random ones make the
            # audio depend on the generated codes.
            for name, buf in model.audio_encoder.named_buffers():
                if name.endswith("codebook.embed"):
                    buf.normal_()
        model.generation_config = GenerationConfig(
            decoder_start_token_id=codes, pad_token_id=codes, do_sample=True, guidance_scale=3.0,
            top_k=16, max_length=1500)
        model.save_pretrained(path)
        feature_extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=16_000)
        MusicgenProcessor(feature_extractor=feature_extractor,
                          tokenizer=tokenizer).save_pretrained(path)


class _SeededSampler:
    """Guidance, temperature, top-k, then a token per row with noise from the row's own seed.

    MusicGen's rows are ``(prompt, codebook)`` pairs, conditional ones first, then (with
    guidance) the unconditional copies. Both copies of a prompt get the same token: the scores
    returned are 0 for it and -inf elsewhere, so greedy ``generate`` takes it.
    """

    def __init__(self, seeds: list[int], num_codebooks: int, guidance_scale: float | None,
                 top_k: int | None, temperature: float, sampling: bool) -> None:
        self.seeds = seeds
        self.num_codebooks = num_codebooks
        self.guidance_scale = guidance_scale
        self.top_k = top_k
        self.temperature = temperature
        self.sampling = sampling
        self._generators: list[Any] | None = None

    def __call__(self, input_ids, scores):
        import torch

        batch, k, vocab = len(self.seeds), self.num_codebooks, scores.shape[-1]
        copies = scores.shape[0] // (batch * k)
        logits = scores.float().view(copies, batch, k, vocab)
        if self.guidance_scale is not None:
            cond, uncond = logits[0], logits[1]
            logits = uncond + self.guidance_scale * (cond - uncond)
        else:
            logits = logits[0]
        logits = logits / max(self.temperature, 1e-5)
        if self.top_k:
            kth = logits.topk(min(self.top_k, vocab), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, -math.inf)
        if self.sampling:
            if self._generators is None:
                # CPU generators: a seed draws the same noise on every device (a CUDA
                # generator's stream differs from a CPU one's)
                self._generators = [torch.Generator().manual_seed(s) for s in self.seeds]
            uniform = torch.stack([torch.rand((k, vocab), generator=g)
                                   for g in self._generators]).to(scores.device)
            gumbel = -torch.log(-torch.log(uniform.clamp(1e-10, 1.0 - 1e-7)))
            logits = logits + gumbel
        choice = logits.argmax(dim=-1)  # (batch, codebooks)
        out = torch.full_like(scores, -math.inf).view(copies, batch, k, vocab)
        out.scatter_(-1, choice.expand(copies, batch, k).unsqueeze(-1), 0.0)
        return out.view_as(scores)


class _Progress:
    """A stopping criterion that never stops: it reports generated tokens in chunks."""

    def __init__(self, ctx: ToolContext, total: int) -> None:
        self.ctx = ctx
        self.total = total
        self.every = max(1, total // _PROGRESS_CHUNKS)
        self._start: int | None = None

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        if self._start is None:
            self._start = input_ids.shape[-1] - 1
        step = input_ids.shape[-1] - self._start
        if step % self.every == 0 or step == self.total:
            self.ctx.progress(step, self.total, f"generated {step}/{self.total} tokens")
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
