"""The completions shape with the vLLM engine: vLLM 0.30.0's CompletionRequest
(vllm/entrypoints/openai/completion/protocol.py) and SamplingParams (vllm/sampling_params.py). Each refusal names the
upstream rule behind it, or "ours". Expectations from the source, not the code."""

from __future__ import annotations

import pytest

from tests.api.runtime.vllm_cases import BUDGET, message, parse

PROMPT = "Once upon a time"


def _forwarded(**fields: object) -> dict:
    return parse({"prompt": PROMPT, **fields}).body


def test_a_minimal_request_gets_a_budget_and_no_model() -> None:
    request = parse({"prompt": PROMPT})
    assert (request.shape, request.body) == ("completions", {"prompt": PROMPT, "max_tokens": BUDGET})


def test_an_openai_client_request_is_forwarded_as_vllm_reads_it() -> None:
    body = _forwarded(model="gpt-3.5-turbo-instruct", top_p=1, temperature=0, max_tokens=None, suffix=None, n=1, stream=False)
    assert body == {"prompt": PROMPT, "top_p": 1, "temperature": 0, "n": 1, "stream": False, "max_tokens": BUDGET}


@pytest.mark.parametrize(("given", "forwarded"), [(None, BUDGET), (1, 1), (1024, 1024)])
def test_the_budget_is_always_explicit(given: object, forwarded: int) -> None:
    # vLLM reads an absent or null max_tokens as 16 (protocol.py:61,417-423): our default instead.
    assert _forwarded(max_tokens=given)["max_tokens"] == forwarded


@pytest.mark.parametrize("prompt", ["x", " ", ["a"], ["a", "b", "c", "d"]])
def test_one_to_four_text_prompts(prompt: object) -> None:
    assert parse({"prompt": prompt}).body["prompt"] == prompt


ACCEPTED = {
    "echo": [True, False],  # the prompt is prepended to the text (completion/serving.py:533-554)
    "logprobs": [0, 5, 20],
    "frequency_penalty": [-2, 2],
    "presence_penalty": [-2, 0, 2],
    "logit_bias": [{"50256": -100}],
    "seed": [-1, 0, 2**63 - 1],
    "stop": ["\n", ["a", "b", "c", "d"]],
    "temperature": [0, 2],
    "top_p": [0.5, 1],
    "top_k": [-1, 0, 40],
    "min_p": [0, 1],
    "repetition_penalty": [0.5, 1.2],
    "truncate_prompt_tokens": [-1, 1, 2048 - BUDGET],  # ≤ max_model_len − max_tokens (renderers/params.py:251-263)
    "truncation_side": ["left", "right"],
    "response_format": [{"type": "json_object"}, {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}],
    "structured_outputs": [{"regex": "[0-9]+"}, {"choice": ["a", "b"]}],
    "user": ["u"],
}


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in ACCEPTED.items() for v in values])
def test_accepted_fields_are_forwarded_unchanged(name: str, value: object) -> None:
    assert _forwarded(**{name: value})[name] == value


@pytest.mark.parametrize("name", [*ACCEPTED, "model", "suffix", "stream", "stream_options"])
def test_a_null_field_is_dropped(name: str) -> None:
    assert _forwarded(**{name: None}) == {"prompt": PROMPT, "max_tokens": BUDGET}


def test_truncation_counts_the_budget_forwarded() -> None:
    # TokenizeParams: truncate_prompt_tokens ≤ max_model_len − max_tokens (renderers/params.py:251-263).
    assert _forwarded(max_tokens=1024, truncate_prompt_tokens=1024)["truncate_prompt_tokens"] == 1024
    assert message({"prompt": PROMPT, "max_tokens": 1024, "truncate_prompt_tokens": 1025}) == (
        "truncate_prompt_tokens: must be -1 or an integer 1–1024 (max_model_len − max_tokens) (got 1025)"
    )


PROMPTS = "a non-empty string or a list of 1–4 of them"
BOUND = f"-1 or an integer 1–{2048 - BUDGET} (max_model_len − max_tokens)"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"prompt": ""}, 'prompt: must be a non-empty string (got "")'),  # protocol.py:567-586
        ({"prompt": None}, f"prompt: must be {PROMPTS} (got null)"),  # protocol.py:567-586
        ({"prompt": []}, f"prompt: must be {PROMPTS} (got [])"),  # ours: vLLM renders no prompt at all
        ({"prompt": list("abcde")}, f'prompt: must be {PROMPTS} (got ["a", "b", "c", "d", "e"])'),  # ours: vLLM takes 1024
        ({"prompt": ["a", ""]}, 'prompt[1]: must be a non-empty string (got "")'),  # ours
        ({"prompt": [1, 2, 3]}, "prompt[0]: must be a non-empty string (got 1)"),  # ours: token ids (protocol.py:50-56)
        ({"prompt": [[1, 2]]}, "prompt[0]: must be a non-empty string (got [1, 2])"),  # ours
        ({"suffix": "The end."}, 'suffix: must be null or absent: vLLM does not support a suffix (got "The end.")'),  # ours
        ({"n": 2}, "n: must be 1: one completion per inference (several: send several requests) (got 2)"),  # ours
        ({"n": None}, "n: must be 1: one completion per inference (several: send several requests) (got null)"),  # n: int
        ({"max_tokens": 0}, "max_tokens: must be an integer 1–1024 (got 0)"),  # sampling_params.py:606-611
        ({"max_tokens": 1025}, "max_tokens: must be an integer 1–1024 (got 1025)"),  # ours
        ({"logprobs": 21}, "logprobs: must be an integer 0–20 (vLLM's --max-logprobs) (got 21)"),  # sampling_params.py:838-853
        ({"logprobs": -1}, "logprobs: must be an integer 0–20 (vLLM's --max-logprobs) (got -1)"),  # the vocabulary > 20
        ({"logprobs": True}, "logprobs: must be an integer 0–20 (vLLM's --max-logprobs) (got true)"),  # ours: lax bool
        ({"echo": "yes"}, 'echo: must be true or false (got "yes")'),  # ours: pydantic's lax bool reads it
        ({"temperature": 2.5}, "temperature: must be a number with 0 ≤ value ≤ 2 (0: greedy) (got 2.5)"),  # :583-588
        ({"top_p": 0}, "top_p: must be a number with 0 < value ≤ 1 (got 0)"),  # :589-594
        ({"min_p": -0.1}, "min_p: must be a number with 0 ≤ value ≤ 1 (got -0.1)"),  # :604-605
        ({"repetition_penalty": -1}, "repetition_penalty: must be a number > 0 (got -1)"),  # :566-570
        ({"seed": -(2**63) - 1}, "seed: must be an integer -9223372036854775808–9223372036854775807 (an int64; -1: random) "
                                 "(got -9223372036854775809)"),  # protocol.py:64
        ({"stop": [""]}, 'stop: must be a non-empty string or a list of at most 4 of them (got [""])'),  # :650-651
        ({"truncate_prompt_tokens": 0}, f"truncate_prompt_tokens: must be {BOUND} (got 0)"),  # ours: keeps nothing
        ({"truncate_prompt_tokens": -2}, f"truncate_prompt_tokens: must be {BOUND} (got -2)"),  # Field(ge=-1)
        ({"truncate_prompt_tokens": 1793}, f"truncate_prompt_tokens: must be {BOUND} (got 1793)"),  # params.py:251-263
        ({"truncate_prompt_tokens": 5.0}, "truncate_prompt_tokens: must be an integer (got 5.0)"),  # ours: lax 5.0
        ({"truncation_side": "middle"}, 'truncation_side: must be "left" or "right" (got "middle")'),  # protocol.py:87
        ({"response_format": {"type": "json_schema"}},
         'response_format.json_schema: must be an object with "name" and "schema"'),  # protocol.py:440-451
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}},
          "structured_outputs": {"regex": "a"}},
         "structured_outputs: must be absent or null when response_format is json_object or json_schema (one constraint)"),
        ({"structured_outputs": {"json": {}, "regex": "a"}},
         'structured_outputs: must be an object with exactly one of json, regex, choice, grammar, json_object '
         '(got ["json", "regex"])'),  # protocol.py:479-484
        ({"stream": True}, "stream: must be false or absent: an async endpoint cannot stream; poll GET /invocations/{id}"),
        ({"stream_options": {"include_usage": True}},
         'stream_options: must be null, {} or absent (vLLM takes stream options only with stream true) '
         '(got {"include_usage": true})'),  # protocol.py:554-565
    ],
)  # fmt: skip
def test_refused_fields(fields: dict, expected: str) -> None:
    assert message({"prompt": PROMPT, **fields}) == expected


@pytest.mark.parametrize(
    "name",
    # vLLM 0.30.0 has no best_of: it would be an ignored extra (docs/design/vllm-engine.md §3.1); the others are vLLM
    # fields we do not forward (prompt_embeds: tensors) or TGI's and OpenAI chat's names.
    ["best_of", "prompt_embeds", "use_beam_search", "prompt_logprobs", "add_special_tokens", "priority", "max_new_tokens",
     "max_completion_tokens", "guided_regex", "requestType"],
)  # fmt: skip
def test_other_fields_are_refused_as_unknown(name: str) -> None:
    assert message({"prompt": PROMPT, name: 1}) == (
        f"{name}: must be one of echo, frequency_penalty, logit_bias, logprobs, max_tokens, min_p, model, n, presence_penalty, "
        "prompt, repetition_penalty, response_format, seed, stop, stream, stream_options, structured_outputs, suffix, "
        f'temperature, top_k, top_p, truncate_prompt_tokens, truncation_side, user (got "{name}")'
    )
