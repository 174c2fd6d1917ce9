"""``usage`` in chat completions reports the planner's token counts (it was always 0)."""

import json

import httpx

from tests.serving.conftest import KEY_A

H = {"Authorization": f"Bearer {KEY_A}"}


def test_usage_counts_the_planners_tokens_plain_and_streaming(server):
    # the fake planner reports 1 prompt and 1 completion token per call; the offline profile
    # asks twice (what to deliver, then the plan)
    body = {"messages": [{"role": "user", "content": "Please echo tokens"}]}
    r = httpx.post(server.base_url + "/v1/chat/completions", json=body, headers=H, timeout=60)
    assert r.status_code == 200
    assert r.json()["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    with httpx.stream("POST", server.base_url + "/v1/chat/completions", headers=H, timeout=60,
                      json={**body, "stream": True}) as s:
        chunks = [json.loads(line[5:]) for line in s.iter_lines()
                  if line.startswith("data:") and "[DONE]" not in line]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 4


def test_the_responses_api_reports_the_same_tokens(server):
    r = httpx.post(server.base_url + "/v1/responses", json={"input": "Please echo tokens"},
                   headers=H, timeout=60)
    assert r.status_code == 200
    usage = r.json()["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (2, 2, 4)
