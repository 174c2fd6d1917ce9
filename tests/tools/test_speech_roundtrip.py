"""Speech quality on real weights: 20 sentences spoken by text_to_speech, heard back by
speech_recognize (whisper tiny.en, bundled), word error rate.

The offline voice (hibari) must come back with WER <= 5 %. The same sentences through espeak-ng,
the offline voice before it, are scored beside it (``record_property``: ``--junitxml`` shows
both): that gap is why hibari speaks by default. To keep this cheap, the clips of each voice are
joined (0.6 s of silence between sentences) into windows of at most 25 s, so whisper runs 4
windows a voice, not 20 clips. Measured on 2 shared CPU cores: hibari 1.2 %, espeak-ng 7.9 %
(sentence by sentence, without the context of a window: 0.8 % and 17.8 %).
"""

import re
import shutil

import numpy as np
import pytest

from mmagent.artifacts import load_mono
from mmagent.toolkit import ToolContext
from mmagent.tools.speech_recognize import SpeechRecognize
from mmagent.tools.text_to_speech import TextToSpeech

pytest.importorskip("faster_whisper")
pytest.importorskip("hibari")

SENTENCES = (
    "The train to the city leaves every weekday morning at half past seven.",
    "Please remember to water the plants while we are away on holiday.",
    "My sister bought three loaves of bread and a dozen eggs at the market.",
    "We need two more chairs for the dinner party on Saturday night.",
    "The library closes early on Sundays, so return your books before noon.",
    "He walked four miles along the river before the rain started.",
    "Could you turn the music down a little while I make this call?",
    "Our flight was delayed by forty minutes because of the heavy fog.",
    "The recipe calls for one cup of sugar and two cups of flour.",
    "She has lived in the same small house for twenty years.",
    "The children played football in the park until the sun went down.",
    "I left my umbrella on the bus this morning.",
    "There are seven days in a week and twelve months in a year.",
    "The doctor said I should drink more water and sleep eight hours.",
    "Turn left at the next corner and the bakery is on your right.",
    "We watched a funny film and ate popcorn on the sofa.",
    "The meeting has been moved to Thursday afternoon at three o'clock.",
    "My grandmother tells wonderful stories about growing up on a farm.",
    "The shop on the corner sells fresh fruit and vegetables every day.",
    "Please send me the report by Friday so I can read it over the weekend.",
)
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SR = 16_000


def number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return str(n)


def normalize(text: str) -> list[str]:
    """Lowercase words, digits spelled out (whisper writes "40 minutes"), punctuation dropped,
    apostrophes inside words kept ("o'clock")."""
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", text.lower())
    return re.sub(r"[^\w\s']|(?<!\w)'|'(?!\w)", " ", text.replace("-", " ")).split()


def wer(ref: list[str], hyp: list[str]) -> float:
    """Word edits (substitutions, deletions, insertions) / reference words."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1] / len(ref)


@pytest.fixture(scope="module")
def asr():
    tool = SpeechRecognize(checkpoint="bundled/tiny.en")
    tool.ensure_loaded()
    return tool


def round_trip(backend: str, asr, store) -> tuple[float, str]:
    """(WER, what was heard) of the 20 sentences spoken by ``backend``."""
    tts = TextToSpeech(backend=backend)
    tts.ensure_loaded()
    ctx = ToolContext(store)
    spoken = tts.run([tts.parse_input({"text": s}) for s in SENTENCES], ctx)
    gap = np.zeros(int(0.6 * SR), np.float32)
    windows, current = [], []
    for out in spoken:
        clip = load_mono(store, out.audio, SR)
        if current and sum(c.size for c in current) + clip.size > 25 * SR:
            windows.append(np.concatenate(current))
            current = []
        current += [clip, gap]
    windows.append(np.concatenate(current))
    refs = [asr.parse_input({"audio": store.put_audio(w, SR), "language": "en"})
            for w in windows]
    heard = " ".join(out.text for out in asr.run(refs, ctx))
    return wer(normalize(" ".join(SENTENCES)), normalize(heard)), heard


def test_normalize_and_wer():
    assert normalize("Delayed by 40 minutes, at three o'clock.") == [
        "delayed", "by", "forty", "minutes", "at", "three", "o'clock"]
    assert wer("a b c d".split(), "a x c".split()) == 0.5


def test_offline_voice_is_understood_and_espeak_is_reported_beside_it(asr, store,
                                                                       record_property):
    hibari, heard = round_trip("hibari", asr, store)
    record_property("wer_hibari_tiny_en", round(hibari, 4))
    assert hibari <= 0.05, f"hibari -> whisper tiny.en WER {hibari:.1%}; heard: {heard}"
    if shutil.which("espeak-ng") is None:
        pytest.skip(f"hibari WER {hibari:.1%}; espeak-ng is not installed for the comparison")
    espeak, heard = round_trip("espeak", asr, store)
    record_property("wer_espeak_tiny_en", round(espeak, 4))
    # the honest reason for the neural voice: espeak-ng is heard far worse
    assert espeak > hibari, f"espeak-ng WER {espeak:.1%} against hibari {hibari:.1%}; {heard}"
