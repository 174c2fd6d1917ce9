"""LocalChatBackend's decoding stops as soon as it is told to, even inside a forward pass (the
prompt's pass takes seconds on a CPU), and says how many tokens it spent. A tiny random-weight
Llama built in code and reloaded with from_pretrained."""

import threading

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from mmagent.errors import PlanningStoppedError
from mmagent.planner._backends import stop_when
from mmagent.planner._local import _greedy_decode, _stop_between_layers

PROMPT = list(range(3, 40))


class _Vocab:
    """What decoding reads of an llguidance tokenizer when it is unconstrained."""

    eos_tokens: list[int] = []
    vocab_size = 64


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2)
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    m = LlamaForCausalLM.from_pretrained(path).eval()
    _stop_between_layers(m)  # as LocalChatBackend does when it loads a model
    return m


def _count(model, hook):
    counts = [0]

    def inc(*_a):
        counts[0] += 1

    handles = ([layer.register_forward_pre_hook(inc) for layer in model.model.layers]
               if hook == "layers" else [model.register_forward_hook(inc)])
    return counts, handles


def test_a_stop_inside_the_prompt_pass_runs_no_further_layer(model):
    layers, handles = _count(model, "layers")
    try:
        with stop_when(lambda: "time is up" if layers[0] >= 2 else None), \
                pytest.raises(PlanningStoppedError) as e:
            _greedy_decode(model, PROMPT, 16, None, _Vocab())
    finally:
        for h in handles:
            h.remove()
    assert layers[0] == 2  # the third of four layers never ran
    assert e.value.message.endswith("stopped after 0 of at most 16 tokens: time is up")
    assert (e.value.details["prompt_tokens"], e.value.details["completion_tokens"]) == (0, 0)


def test_a_stop_between_tokens_reports_the_tokens_spent(model):
    passes, handles = _count(model, "model")
    try:
        with stop_when(lambda: "cancelled" if passes[0] >= 3 else None), \
                pytest.raises(PlanningStoppedError) as e:
            _greedy_decode(model, PROMPT, 16, None, _Vocab())
    finally:
        for h in handles:
            h.remove()
    assert passes[0] == 3
    assert e.value.details == {"reason": "cancelled", "prompt_tokens": len(PROMPT),
                               "completion_tokens": 3}


def test_without_a_stop_decoding_is_plain_greedy_decoding(model):
    tokens, passes = _greedy_decode(model, PROMPT, 8, None, _Vocab())
    with torch.inference_mode():
        expected = model.generate(torch.tensor([PROMPT]), max_new_tokens=8, do_sample=False,
                                  pad_token_id=0)[0, len(PROMPT):].tolist()
    assert tokens == expected and passes == 8


def test_a_stop_is_the_calling_threads_own(model):
    other: list = []
    go = threading.Event()

    def decode_unstopped():
        go.wait(10)
        other.append(_greedy_decode(model, PROMPT, 4, None, _Vocab())[0])

    thread = threading.Thread(target=decode_unstopped)
    thread.start()
    with stop_when(lambda: "time is up"), pytest.raises(PlanningStoppedError):
        go.set()
        _greedy_decode(model, PROMPT, 4, None, _Vocab())
    thread.join(30)
    assert len(other) == 1 and len(other[0]) == 4
