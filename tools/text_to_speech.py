"""Text to speech: VITS (``VitsModel``, MMS English by default) or the espeak-ng synthesiser.

The backend is the ``backend`` option given to the constructor (``options.backend`` in
``mmagent.yaml``; the other options are ``seed``, ``noise_scale`` and ``noise_scale_duration``):

- ``"vits"``: the checkpoint (default ``facebook/mms-tts-eng``, 16 kHz) through transformers.
- ``"espeak"``: the ``espeak-ng`` binary (22.05 kHz); no model is loaded, whatever the checkpoint.
- ``"auto"`` (default): ``"espeak"`` when the checkpoint is ``"espeak"``, otherwise ``"vits"``.

VITS samples noise, so each batch runs under a fixed seed (option ``seed``, default 0): the same
batch always gives the same audio. The noise drawn for a text still depends on what shares its
batch; options ``noise_scale=0`` and ``noise_scale_duration=0`` remove the noise, and with it
that dependence, at some cost in expressiveness.

>>> import tempfile
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolContext
>>> tts = TextToSpeech(backend="espeak")
>>> tts.ensure_loaded()
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> out = tts.run([tts.parse_input({"text": "Hello there."})], ToolContext(store))
>>> (out[0].sample_rate, out[0].audio.duration_s > 0.3)
(22050, True)
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from mmagent.artifacts import AudioRef
from mmagent.errors import ConfigError, ToolExecutionError, ToolInputError, ToolLoadError
from mmagent.toolkit import Ports, Resources, Tool, ToolContext, group_rows

__all__ = ["TextToSpeech"]

logger = logging.getLogger(__name__)

_BACKENDS = ("auto", "vits", "espeak")
_OPTIONS = ("backend", "seed", "noise_scale", "noise_scale_duration")
_ESPEAK = "espeak-ng"
_ESPEAK_VOICE = "en-us"
_ESPEAK_WPM = 175  # espeak-ng's default rate, i.e. speed 1.0
_ESPEAK_TIMEOUT_S = 120.0


class TextToSpeech(Tool):
    """Speak text aloud; returns a WAV artifact.

    espeak-ng reads numbers and punctuation; MMS-TTS knows only lower-case letters and drops
    anything else (write numbers out in words for the VITS backend).

    >>> TextToSpeech(backend="espeak").backend
    'espeak'
    >>> TextToSpeech.card()["outputs"]["audio"]["type"]
    'audio'
    """

    name = "text_to_speech"
    description = (
        "Reads English text aloud and returns the speech as audio. Optional voice (espeak-ng "
        "voices such as 'en-us' or 'en-gb') and speed."
    )
    default_checkpoint = "facebook/mms-tts-eng"
    # MMS-TTS is 36M parameters (~0.15 GB in fp32) plus activations that grow with text length.
    resources = Resources(num_gpus=0.1, num_cpus=1.0, gpu_memory_gb=0.5)
    worker = True  # runs on its own long-lived thread, batching concurrent calls
    option_names = _OPTIONS

    class Input(Ports):
        text: str = Field(min_length=1, max_length=2000, description="the text to speak")
        voice: str | None = Field(
            None, max_length=50, pattern=r"^[A-Za-z0-9_/-]+(\+[A-Za-z0-9_-]+)?$",
            description="espeak-ng voice, e.g. 'en-us', 'en-gb' or 'en-us+f3'; None for the "
            "default. The VITS backend has a single voice and accepts only None")
        speed: float = Field(1.0, ge=0.5, le=2.0,
                             description="speaking rate; 1.0 is the voice's normal pace")

        @field_validator("text")
        @classmethod
        def _has_words(cls, text: str) -> str:
            if not any(c.isalnum() for c in text):
                raise ValueError(f"got {text[:40]!r}; expected text with letters or digits")
            return text

    class Output(Ports):
        audio: AudioRef = Field(description="the speech, mono 16-bit WAV")
        sample_rate: int = Field(description="samples per second of the audio")

    def configure(self) -> None:
        backend = self.options.get("backend", "auto")
        if backend not in _BACKENDS:
            raise ConfigError(f"got backend {backend!r} for tool {self.name!r} (option "
                              f"'backend'); expected one of {list(_BACKENDS)}")
        if backend == "auto":
            backend = "espeak" if self.checkpoint == "espeak" else "vits"
        self.backend: str = backend

    @classmethod
    def offline_settings(cls) -> dict[str, Any]:
        # espeak-ng speaks real words with nothing downloaded; the tiny VITS makes noise
        return {"options": {"backend": "espeak"}}

    # -- loading --------------------------------------------------------------------------------

    def load(self) -> None:
        if self.backend == "espeak":
            self._load_espeak()
        else:
            self._load_vits()

    def _load_espeak(self) -> None:
        binary = shutil.which(_ESPEAK)
        if binary is None:
            raise ToolLoadError(
                f"tool {self.name!r}, backend 'espeak': the {_ESPEAK} binary is not on PATH; "
                f"install espeak-ng: apt-get install espeak-ng", tool=self.name, backend="espeak")
        self._espeak = binary

    def _load_vits(self) -> None:
        import torch
        from transformers import VitsModel, VitsTokenizer
        from transformers.utils import is_phonemizer_available

        path = self.checkpoint_path()
        self._device = self.device()
        # VITS is small and its spline flows are touchy in half precision: fp32 unless asked.
        self._dtype = torch.float32 if self.dtype_pref == "auto" else self.torch_dtype()
        # The model first: an unreachable hub id fails here with a plain OSError, whereas
        # VitsTokenizer.from_pretrained fails with a TypeError (no vocab file found).
        self.model = VitsModel.from_pretrained(path, dtype=self._dtype).to(self._device).eval()
        try:
            self.tokenizer = VitsTokenizer.from_pretrained(path)
        except TypeError as e:
            raise ToolLoadError(f"tool {self.name!r}: checkpoint {self.checkpoint!r} has no "
                                "vocab.json for VitsTokenizer", tool=self.name,
                                checkpoint=self.checkpoint) from e
        if self.tokenizer.phonemize and not is_phonemizer_available():
            raise ToolLoadError(f"tool {self.name!r}: checkpoint {self.checkpoint!r} needs "
                                "phonemizer; install it: pip install phonemizer",
                                tool=self.name, checkpoint=self.checkpoint)
        for key in ("noise_scale", "noise_scale_duration"):
            if self.options.get(key) is not None:
                setattr(self.model, key, float(self.options[key]))
        self._seed = int(self.options.get("seed", 0))
        logger.info("text_to_speech: loaded %s on %s (%s)", path, self._device, self._dtype)

    # -- running --------------------------------------------------------------------------------

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        if self.backend == "espeak":
            return [self._espeak_one(inp, ctx) for inp in inputs]
        return self._run_vits(inputs, ctx)

    def _espeak_one(self, inp: Any, ctx: ToolContext) -> BaseModel:
        import soundfile as sf

        voice = inp.voice or _ESPEAK_VOICE
        args = [self._espeak, "--stdout", "-v", voice, "-s", str(round(_ESPEAK_WPM * inp.speed))]
        # The text goes in on stdin, so text that starts with "-" is never read as an option.
        try:
            proc = subprocess.run(args, input=inp.text.encode(), capture_output=True,
                                  timeout=_ESPEAK_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as e:
            raise ToolExecutionError(f"tool {self.name!r}: espeak-ng took over "
                                     f"{_ESPEAK_TIMEOUT_S:g} s", tool=self.name) from e
        stderr = proc.stderr.decode(errors="replace").strip()
        first = stderr.splitlines()[0] if stderr else f"exit status {proc.returncode}"
        if "voice does not exist" in stderr:
            raise ToolInputError(f"tool {self.name!r}, argument 'voice': got {voice!r}; expected "
                                 "an espeak-ng voice (see `espeak-ng --voices`)",
                                 tool=self.name, arg="voice")
        if proc.returncode != 0 or not proc.stdout:
            raise ToolExecutionError(f"tool {self.name!r}: espeak-ng failed: {first}",
                                     tool=self.name)
        # espeak-ng streams its WAV with placeholder sizes in the header; soundfile reads up to
        # the real end of the data, and put_audio writes a clean file.
        samples, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
        return self.Output(audio=ctx.store.put_audio(samples, sr), sample_rate=sr)

    def _run_vits(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        import torch

        # 1. check inputs before any model runs
        for inp in inputs:
            if inp.voice is not None:
                raise ToolInputError(
                    f"tool {self.name!r}, argument 'voice': got {inp.voice!r}; expected None "
                    f"(the VITS checkpoint {self.checkpoint!r} has a single voice)",
                    tool=self.name, arg="voice")
            spoken, _ = self.tokenizer.prepare_for_tokenization(inp.text)
            if not spoken.strip():
                raise ToolInputError(
                    f"tool {self.name!r}, argument 'text': got {inp.text[:40]!r}; expected "
                    f"characters the checkpoint {self.checkpoint!r} can speak", tool=self.name,
                    arg="text")

        # 2. one forward per speed (speaking_rate is a scalar for the whole batch)
        sr = int(self.model.config.sampling_rate)
        outputs: list[BaseModel | None] = [None] * len(inputs)
        cuda = [torch.device(self._device).index or 0] if self._device.startswith("cuda") else []
        for rows in group_rows([inp.speed for inp in inputs]):
            speed = inputs[rows[0]].speed
            enc = self.tokenizer([inputs[i].text for i in rows], padding=True,
                                 return_tensors="pt").to(self._device)
            with torch.inference_mode(), torch.random.fork_rng(devices=cuda):
                torch.manual_seed(self._seed)
                out = self.model(**enc, speaking_rate=speed)
            # 3. cut each row of the padded waveform to its own length
            waves = out.waveform.float().cpu().numpy().clip(-1.0, 1.0)
            for row, i in enumerate(rows):
                samples = waves[row, : int(out.sequence_lengths[row])]
                outputs[i] = self.Output(audio=ctx.store.put_audio(samples, sr), sample_rate=sr)
        return outputs  # type: ignore[return-value]

    # -- tiny checkpoint ------------------------------------------------------------------------

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """A random-weight VITS (~0.2 MB) with a character vocabulary, at 16 kHz."""
        import torch
        from transformers import VitsConfig, VitsModel, VitsTokenizer

        path = Path(path)
        chars = ["<pad>", *" abcdefghijklmnopqrstuvwxyz'-", "<unk>"]
        vocab = path / "vocab.json"
        vocab.write_text(json.dumps({c: i for i, c in enumerate(chars)}))
        tokenizer = VitsTokenizer(str(vocab), phonemize=False, add_blank=True, normalize=True)
        config = VitsConfig(
            vocab_size=len(chars), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            ffn_dim=16, flow_size=16, spectrogram_bins=16, upsample_initial_channel=16,
            upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8],
            resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3], [1, 3]],
            duration_predictor_filter_channels=16, duration_predictor_num_flows=2,
            depth_separable_num_layers=2, prior_encoder_num_flows=2,
            prior_encoder_num_wavenet_layers=2, posterior_encoder_num_wavenet_layers=2,
            sampling_rate=16_000, pad_token_id=0,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = VitsModel(config)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
