"""Whatever the Lambda forwards with engine="vllm", vLLM 0.30.0 accepts: checked against the vLLM stand-in
(tests/tools/engine_stand_in_vllm.py), encoded from vLLM's sources separately from the Lambda's rules. Requests are drawn
from the accepted-value tables of the shape tests, several fields at a time, so cross-field rules meet."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inference_api.request import RequestError

from tests.api.runtime import test_request_vllm_chat as chat
from tests.api.runtime import test_request_vllm_completions as completions
from tests.api.runtime import test_request_vllm_generate as generate
from tests.api.runtime.request_cases import LIMITS, USER
from tests.api.runtime.vllm_cases import parse

stand_in = pytest.importorskip("tests.tools.engine_stand_in_vllm")

CHAT = [(name, value) for name, values in chat.ACCEPTED.items() for value in values]
COMPLETIONS = [(name, value) for name, values in completions.ACCEPTED.items() for value in values]
GENERATE = [parameters for parameters, _ in generate.TRANSLATED]
MESSAGES = [[{"role": "system", "content": "Be brief."}, *USER], [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]]


def _fields(pairs: list) -> st.SearchStrategy:
    return st.lists(st.sampled_from(pairs), max_size=5).map(dict)


requests = st.one_of(
    st.builds(lambda messages, fields: {"messages": messages, **fields}, st.sampled_from(MESSAGES), _fields(CHAT)),
    st.builds(lambda fields: {"prompt": "Once upon a time", **fields}, _fields(COMPLETIONS)),
    st.builds(lambda parts: {"inputs": "Hello there", "parameters": {k: v for p in parts for k, v in p.items()}},
              st.lists(st.sampled_from(GENERATE), max_size=3)),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(request=requests)
def test_whatever_is_forwarded_vllm_accepts(request: dict) -> None:
    try:
        forwarded = parse(request).body
    except RequestError:  # a cross-field refusal of ours (one constraint, one budget): nothing forwarded
        return
    vllm = stand_in.VllmStandIn(max_model_len=LIMITS.max_total_tokens)
    status, answer = vllm.invoke(json.dumps(forwarded).encode())
    assert status == 200, (forwarded, answer)
    assert vllm.requests == [forwarded]


@pytest.mark.parametrize(
    ("parameters", "temperature"),
    [({}, 0.0), ({"do_sample": True}, 1.0), ({"temperature": 1}, 0.0), ({"temperature": 0.5}, 0.5), ({"top_k": 5}, 1.0)],
)
def test_generate_greedy_or_sampled_as_tgi_decides(parameters: dict, temperature: float) -> None:
    # The stand-in's effective SamplingParams: TGI's greedy is vLLM's temperature 0.
    vllm = stand_in.VllmStandIn(max_model_len=LIMITS.max_total_tokens)
    status, _ = vllm.invoke(json.dumps(parse({"inputs": "x", "parameters": parameters}).body).encode())
    assert (status, vllm.sampling[-1]["temperature"]) == (200, temperature)


def test_echo_prepends_the_prompt_as_return_full_text_does() -> None:
    vllm = stand_in.VllmStandIn(max_model_len=LIMITS.max_total_tokens, answer="Blue.")
    status, answer = vllm.invoke(
        json.dumps(parse({"inputs": "Sky colour?", "parameters": {"return_full_text": True}}).body).encode()
    )
    assert (status, json.loads(answer)["choices"][0]["text"]) == (200, "Sky colour?Blue.")
