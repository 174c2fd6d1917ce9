"""Speech recognition with openai-whisper: text, language and timestamped segments.

The checkpoint is a whisper model name (``turbo``, ``base``, ``small.en``, ...; downloaded once
into ``<cache_dir>/whisper``) or a path to a ``.pt`` file that ``whisper.load_model`` reads (a
directory holding ``model.pt`` works too).

Batching: clips of at most 30 s are padded to whisper's 30 s window, their log-mel spectrograms
stacked, and decoded together by one ``whisper.decode`` call per requested language (``None``
detects the language of each clip in the same call). Longer clips go one at a time through
``whisper.transcribe``, which slides the window. Decoding is greedy (temperature 0, no
temperature fallback), so a clip's transcript does not depend on what shares its batch.

Audio is decoded here (soundfile, else the ffmpeg inside ``imageio-ffmpeg``) and resampled to
16 kHz, so no ffmpeg is needed on PATH.

>>> SpeechRecognize.card()["outputs"]["segments"]["type"]
'list[json]'
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import asdict
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from mmagent.artifacts import AudioRef, load_mono
from mmagent.errors import ConfigError, ToolInputError, ToolLoadError
from mmagent.toolkit import TINY, Ports, Resources, Tool, ToolContext

__all__ = ["SpeechRecognize", "Segment"]

logger = logging.getLogger(__name__)

_SAMPLE_RATE = 16_000  # whisper.audio.SAMPLE_RATE
_WINDOW_S = 30.0  # whisper.audio.CHUNK_LENGTH: one decoder window
_OPTIONS = ("max_audio_seconds", "beam_size")
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "MMAGENT_OFFLINE")
_TINY_CROSS_SCALE = 10.0  # see build_tiny


def _language_code(value: str) -> str:
    """A whisper language code for a code or an English name ('en', 'English', 'german')."""
    from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

    key = value.strip().lower()
    if key in LANGUAGES:
        return key
    if key in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[key]
    raise ValueError(f"got {value!r}; expected a whisper language code such as 'en', 'de', "
                     "'fr', 'ja' or an English language name such as 'german'")


class Segment(Ports):
    """A stretch of the transcript with its time span in the clip."""

    start: float = Field(description="seconds from the start of the clip")
    end: float = Field(description="seconds from the start of the clip")
    text: str = Field(description="what was said in this span")


class SpeechRecognize(Tool):
    """Transcribe speech with whisper.

    Options (``options`` in ``mmagent.yaml``): ``max_audio_seconds`` (a tighter bound than
    ``limits.max_audio_seconds``) and ``beam_size`` (None: greedy; beam search is deterministic
    too, but slower).

    >>> SpeechRecognize.card()["inputs"]["language"]["required"]
    False
    """

    name = "speech_recognize"
    description = (
        "Transcribes speech in an audio clip into text with whisper. Returns the text, the "
        "spoken language (detected unless given) and timestamped segments."
    )
    default_checkpoint = "turbo"
    # large-v3-turbo, 809M parameters: ~1.6 GB of weights in fp16; whisper's README measures
    # ~6 GB of GPU memory in use, which a batch of 30 s windows needs.
    resources = Resources(num_gpus=0.5, num_cpus=1.0, gpu_memory_gb=6.0)
    worker = True  # runs on its own long-lived thread, batching concurrent calls
    option_names = _OPTIONS

    class Input(Ports):
        audio: AudioRef = Field(description="the speech to transcribe")
        language: str | None = Field(
            None, min_length=2, max_length=30,
            description="language spoken, as a code ('en', 'de') or name ('german'); None "
            "detects it")

        @field_validator("language")
        @classmethod
        def _known_language(cls, value: str | None) -> str | None:
            return None if value is None else _language_code(value)

    class Output(Ports):
        text: str = Field(description="the whole transcript")
        language: str = Field(description="language code of the speech, given or detected")
        segments: list[Segment] = Field(
            description="timestamped spans of the transcript, in order: {start, end, text}")

    def configure(self) -> None:
        limit = self.options.get("max_audio_seconds")
        if limit is not None and not (isinstance(limit, int | float) and limit > 0):
            raise ConfigError(f"got max_audio_seconds {limit!r} for tool {self.name!r}; expected "
                              "a positive number of seconds", key="max_audio_seconds")
        beam = self.options.get("beam_size")
        if beam is not None and not (isinstance(beam, int) and beam >= 1):
            raise ConfigError(f"got beam_size {beam!r} for tool {self.name!r}; expected an "
                              "integer >= 1 or None", key="beam_size")

    # -- loading --------------------------------------------------------------------------------

    def load(self) -> None:
        import torch
        import whisper

        model_file = self._model_file()
        self._device = self.device()
        # whisper runs fp16 activations on CUDA (it has no bf16 mode: bf16 resolved means fp16
        # here) and fp32 on CPU, where fp16 kernels are slow or missing.
        self._fp16 = self._device.startswith("cuda") and self.torch_dtype() != torch.float32
        try:
            self.model = whisper.load_model(model_file, device=self._device,
                                            download_root=str(self.cache_dir / "whisper"))
        except (RuntimeError, pickle.UnpicklingError, EOFError, KeyError, TypeError) as e:
            # a corrupt or foreign file, a checksum mismatch, tensors of the wrong shape
            why = (str(e) or type(e).__name__).splitlines()[0]
            raise ToolLoadError(f"tool {self.name!r} could not load whisper checkpoint "
                                f"{self.checkpoint!r}: {why}",
                                tool=self.name, checkpoint=self.checkpoint) from e
        self.model.eval()
        if self._fp16:
            half_weights(self.model)
        logger.info("speech_recognize: loaded %s on %s (fp16=%s)", model_file, self._device,
                    self._fp16)

    def _model_file(self) -> str:
        """A whisper model name or the path of a ``.pt`` file, for ``whisper.load_model``."""
        import whisper

        ckpt = str(self.checkpoint)
        if ckpt == TINY:
            return str(Path(self.checkpoint_path()) / "model.pt")
        if ckpt in whisper.available_models():
            url = whisper._MODELS[ckpt]  # the file name load_model downloads to
            cached = self.cache_dir / "whisper" / os.path.basename(url)
            if not cached.is_file() and any(os.environ.get(v, "") in ("1", "true", "True")
                                            for v in _OFFLINE_VARS):
                raise ToolLoadError(
                    f"tool {self.name!r}: whisper model {ckpt!r} is not in {cached.parent} and "
                    "downloads are off (HF_HUB_OFFLINE=1); expected the file "
                    f"{cached.name} there", tool=self.name, checkpoint=ckpt)
            return ckpt
        path = Path(ckpt).expanduser()
        if path.is_dir():
            path = path / "model.pt"
        if path.is_file():
            return str(path)
        raise ToolLoadError(
            f"tool {self.name!r}: got checkpoint {ckpt!r}; expected a whisper model name (one of "
            f"{whisper.available_models()}) or the path of a .pt file", tool=self.name,
            checkpoint=ckpt)

    # -- running --------------------------------------------------------------------------------

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        # 1. check inputs: languages the model knows, then decode and bound every clip
        self._check_languages(inputs)
        limit = ctx.store.limits.max_audio_seconds
        if self.options.get("max_audio_seconds") is not None:
            limit = min(limit, float(self.options["max_audio_seconds"]))
        clips = []
        for inp in inputs:
            samples = load_mono(ctx.store, inp.audio, _SAMPLE_RATE)
            seconds = samples.size / _SAMPLE_RATE
            if seconds > limit:
                raise ToolInputError(
                    f"tool {self.name!r}, argument 'audio': got {seconds:.1f} s of audio; "
                    f"expected at most {limit:g} s", tool=self.name, arg="audio",
                    value=round(seconds, 3), limit=limit)
            clips.append(samples)

        # 2. clips within one window: one batched decode per requested language
        outputs: list[BaseModel | None] = [None] * len(inputs)
        groups: dict[str | None, list[int]] = {}
        long_rows = []
        for i, (inp, clip) in enumerate(zip(inputs, clips, strict=True)):
            if clip.size <= _WINDOW_S * _SAMPLE_RATE:
                groups.setdefault(inp.language, []).append(i)
            else:
                long_rows.append(i)
        done, total = 0, len(inputs)
        for language, rows in groups.items():
            for i, out in zip(rows, self._decode_window([clips[i] for i in rows], language),
                              strict=True):
                outputs[i] = out
            done += len(rows)
            ctx.progress(done, total, f"transcribed {done}/{total} clips")

        # 3. longer clips: whisper's sliding-window transcribe, one clip at a time
        for i in long_rows:
            outputs[i] = self._transcribe_long(clips[i], inputs[i].language)
            done += 1
            ctx.progress(done, total, f"transcribed {done}/{total} clips")
        return outputs  # type: ignore[return-value]

    def _check_languages(self, inputs: list[BaseModel]) -> None:
        from whisper.tokenizer import LANGUAGES

        known = list(LANGUAGES)[: self.model.num_languages]
        for inp in inputs:
            lang = inp.language
            if lang is None:
                continue
            if not self.model.is_multilingual and lang != "en":
                raise ToolInputError(
                    f"tool {self.name!r}, argument 'language': got {lang!r}; the English-only "
                    f"checkpoint {self.checkpoint!r} expects 'en' or None", tool=self.name,
                    arg="language", value=lang)
            if lang not in known:
                raise ToolInputError(
                    f"tool {self.name!r}, argument 'language': got {lang!r}; checkpoint "
                    f"{self.checkpoint!r} knows {len(known)} languages, not this one",
                    tool=self.name, arg="language", value=lang)

    def _decode_window(self, clips: list, language: str | None) -> list[BaseModel]:
        import torch
        import whisper

        mel = torch.stack([
            whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(c)),
                                        n_mels=self.model.dims.n_mels)
            for c in clips
        ]).to(self._device)
        options = whisper.DecodingOptions(
            task="transcribe", language=language, temperature=0.0,
            beam_size=self.options.get("beam_size"), fp16=self._fp16)
        with torch.inference_mode():
            results = whisper.decode(self.model, mel, options)
        tokenizer = whisper.tokenizer.get_tokenizer(
            self.model.is_multilingual, num_languages=self.model.num_languages,
            task="transcribe")
        outs = []
        for clip, res in zip(clips, results, strict=True):
            duration = clip.size / _SAMPLE_RATE
            # whisper.transcribe's rule: a window that is probably silence yields no text
            if res.no_speech_prob > 0.6 and res.avg_logprob < -1.0:
                outs.append(self.Output(text="", language=res.language, segments=[]))
                continue
            text, segments = _segments(res.tokens, tokenizer, duration)
            outs.append(self.Output(text=text, language=res.language, segments=segments))
        return outs

    def _transcribe_long(self, clip, language: str | None) -> BaseModel:
        import torch

        with torch.inference_mode():
            res = self.model.transcribe(
                clip, language=language, task="transcribe", temperature=0.0, verbose=None,
                fp16=self._fp16, beam_size=self.options.get("beam_size"))
        duration = clip.size / _SAMPLE_RATE
        # res["text"] keeps special tokens (<|en|>) a weak model may emit; segment texts do not.
        text = "".join(s["text"] for s in res["segments"]).strip()
        segments = [Segment(start=min(round(float(s["start"]), 2), duration),
                            end=min(round(float(s["end"]), 2), duration), text=s["text"].strip())
                    for s in res["segments"] if s["text"].strip()]
        return self.Output(text=text, language=res["language"], segments=segments)

    # -- tiny checkpoint ------------------------------------------------------------------------

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight multilingual whisper (~4 MB, almost all of it the 51865-token
        embedding), saved as ``model.pt`` the way ``whisper.load_model`` reads it."""
        import torch
        from whisper.model import ModelDimensions, Whisper

        # n_audio_ctx stays 1500 (a 30 s window); n_vocab below 51865 breaks the tokenizer.
        dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=16, n_audio_head=2,
                               n_audio_layer=1, n_vocab=51865, n_text_ctx=64, n_text_state=16,
                               n_text_head=2, n_text_layer=1)
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(0)
            model = Whisper(dims)
            # whisper leaves the decoder's positional embedding uninitialised (torch.empty;
            # checkpoints fill it): give it values, or the build is neither random nor repeatable.
            model.decoder.positional_embedding.normal_(0.0, 0.02)
            # Stronger cross-attention: at PyTorch's default scale the random decoder ignores
            # the audio and every clip gets the same transcript, which would hide batching
            # mistakes.
            for block in model.decoder.blocks:
                for param in block.cross_attn.parameters():
                    param.mul_(_TINY_CROSS_SCALE)
        torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()},
                   Path(path) / "model.pt")


def _segments(tokens: list[int], tokenizer, duration: float) -> tuple[str, list[Segment]]:
    """The transcript and its timed segments, split at whisper's timestamp tokens.

    Whisper writes ``<|t0|> text <|t1|><|t1|> text <|t2|>``; text with no closing timestamp
    runs to the end of the clip, text with no opening one from the previous end (or 0).
    Special tokens (``<|en|>``, ...) are dropped, as ``whisper.transcribe`` drops them.
    """
    begin = tokenizer.timestamp_begin
    segments: list[Segment] = []
    pieces: list[str] = []
    start: float | None = None
    last_end = 0.0
    text: list[int] = []

    def close(end: float) -> None:
        nonlocal start, last_end, text
        piece = tokenizer.decode(text)
        pieces.append(piece)
        words = piece.strip()
        s = min(start if start is not None else last_end, duration)
        e = min(max(end, s), duration)
        if words:  # times to whisper's 10 ms, never past the end of the clip
            segments.append(Segment(start=min(round(s, 2), duration),
                                    end=min(round(e, 2), duration), text=words))
        last_end, start, text = e, None, []

    for tok in tokens:
        if tok >= begin:
            t = (tok - begin) * 0.02  # whisper's timestamp resolution
            if text:
                close(t)
            else:
                start = t
        elif tok < tokenizer.eot:
            text.append(tok)
    if text:
        close(duration)
    return "".join(pieces).strip(), segments


def half_weights(model) -> None:
    """Store whisper's matmul weights in fp16, once.

    ``whisper.load_model`` keeps fp32 weights and its ``Linear``/``Conv1d`` cast them to the
    activations' dtype on every forward: with fp16 activations, 3.1 GB of fp32 weights for
    large-v3-turbo and a cast per layer per decoding step (seen on an H200). Cast once instead:
    half the memory, no per-step copies. LayerNorms and positional embeddings stay fp32, as
    whisper computes its norms in fp32 (``LayerNorm.forward`` upcasts its input).
    """
    import torch
    from whisper.model import Conv1d, Linear

    for module in model.modules():
        if isinstance(module, Linear | Conv1d | torch.nn.Embedding):
            module.half()
