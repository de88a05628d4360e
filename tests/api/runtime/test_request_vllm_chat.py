"""The chat completions shape with the vLLM engine: vLLM 0.30.0's ChatCompletionRequest
(vllm/entrypoints/openai/chat_completion/protocol.py) and SamplingParams (vllm/sampling_params.py). Each refusal names
the upstream rule behind it, or "ours". Expectations from the source, not the code."""

from __future__ import annotations

import pytest

from tests.api.runtime.request_cases import USER
from tests.api.runtime.vllm_cases import BUDGET, SCHEMA_FORMAT, TOOL, message, parse


def _forwarded(**fields: object) -> dict:
    return parse({"messages": USER, **fields}).body


def test_a_minimal_request_gets_a_budget_and_no_model() -> None:
    request = parse({"messages": USER})
    assert (request.shape, request.body) == ("chat", {"messages": USER, "max_completion_tokens": BUDGET})


def test_an_openai_client_request_is_forwarded_as_vllm_reads_it() -> None:
    # model: overwritten with null by the container (api_router.py:65): dropped. top_p 1, temperature 0,
    # presence_penalty 0 are vLLM's own values (sampling_params.py): forwarded as sent.
    body = _forwarded(model="gpt-4o", top_p=1, temperature=0, presence_penalty=0, n=1, stream=False, user="u-1")
    assert body == {
        "messages": USER, "top_p": 1, "temperature": 0, "presence_penalty": 0, "n": 1, "stream": False, "user": "u-1",
        "max_completion_tokens": BUDGET,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "budget"),
    [
        ({}, BUDGET),
        ({"max_tokens": None}, BUDGET),
        ({"max_tokens": 1024}, 1024),
        ({"max_completion_tokens": 7}, 7),
        ({"max_tokens": None, "max_completion_tokens": 7}, 7),
        ({"max_tokens": 9, "max_completion_tokens": None}, 9),
    ],
)
def test_the_budget_is_max_completion_tokens(fields: dict, budget: int) -> None:
    # vLLM reads max_completion_tokens before the deprecated max_tokens (protocol.py:618-623): one name forwarded.
    body = _forwarded(**fields)
    assert (body["max_completion_tokens"], "max_tokens" in body) == (budget, False)


ACCEPTED = {
    "frequency_penalty": [-2, 0, 2],
    "presence_penalty": [-2, 0.5, 2],
    "logit_bias": [{}, {"50256": -100}, {"0": 5.5, "12": 200}],  # clamped to ±100 by vLLM
    "logprobs": [True, False],
    "n": [1],
    "seed": [-(2**63), -1, 0, 2**63 - 1],  # int64; -1 is "no seed"
    "stop": ["\n", [], ["\n", "User:"], ["a", "b", "c", "d"]],
    "temperature": [0, 0.005, 1, 2],
    "top_p": [1e-9, 0.5, 1],
    "top_k": [-1, 0, 1, 50, 2**63 - 1],
    "min_p": [0, 0.05, 1],
    "repetition_penalty": [1e-9, 1, 1.3],
    "response_format": [{"type": "text"}, {"type": "json_object"}, SCHEMA_FORMAT],
    "structured_outputs": [
        {"json": {"type": "object"}}, {"json": '{"type": "object"}'}, {"regex": "[0-9]+"}, {"choice": ["yes", "no"]},
        {"grammar": 'root ::= "a"'}, {"json_object": True}, {"json": {}, "regex": None},
    ],
    "parallel_tool_calls": [True, False],
    "user": ["u-1"],
}  # fmt: skip


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in ACCEPTED.items() for v in values])
def test_accepted_fields_are_forwarded_unchanged(name: str, value: object) -> None:
    assert _forwarded(**{name: value})[name] == value


@pytest.mark.parametrize("name", [name for name in ACCEPTED if name != "n"] + ["model", "top_logprobs", "tool_choice"])
def test_a_null_field_is_dropped(name: str) -> None:
    # Every field here is `X | None` (protocol.py:216-380): null reads as the default, so it is left out.
    assert _forwarded(**{name: None}) == {"messages": USER, "max_completion_tokens": BUDGET}


def test_null_n_and_stream_options_are_dropped() -> None:
    assert _forwarded(n=None, stream=None, stream_options=None) == {"messages": USER, "max_completion_tokens": BUDGET}
    assert _forwarded(stream_options={}) == {"messages": USER, "max_completion_tokens": BUDGET}  # falsy: accepted


@pytest.mark.parametrize("top_logprobs", [0, 1, 20])
def test_top_logprobs_with_logprobs(top_logprobs: int) -> None:
    assert _forwarded(logprobs=True, top_logprobs=top_logprobs)["top_logprobs"] == top_logprobs


USE_LOGPROBS = "top_logprobs: must be 0 or absent unless logprobs is true"
CONSTRAINED = "tool_choice: must be auto, none or absent when response_format or structured_outputs constrains the output"
ONE_CONSTRAINT = "structured_outputs: must be absent or null when response_format is json_object or json_schema (one constraint)"
CONSTRAINTS = "an object with exactly one of json, regex, choice, grammar, json_object"
TOOL_CHOICES = 'one of none, auto, required, or {"type": "function", "function": {"name": ...}}'


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # SamplingParams._verify_args (sampling_params.py:549-662).
        ({"temperature": 2.01}, "temperature: must be a number with 0 ≤ value ≤ 2 (0: greedy) (got 2.01)"),  # :583-588
        ({"temperature": -0.1}, "temperature: must be a number with 0 ≤ value ≤ 2 (0: greedy) (got -0.1)"),  # :577-582
        ({"top_p": 0}, "top_p: must be a number with 0 < value ≤ 1 (got 0)"),  # :589-594
        ({"top_p": 1.0000001}, "top_p: must be a number with 0 < value ≤ 1 (got 1.0000001)"),
        ({"top_k": -2}, "top_k: must be an integer -1–9223372036854775807 (0 or -1: no top-k) (got -2)"),  # :595-603
        ({"top_k": 2.0}, "top_k: must be an integer -1–9223372036854775807 (0 or -1: no top-k) (got 2.0)"),  # ours: lax 2.0
        ({"min_p": 1.5}, "min_p: must be a number with 0 ≤ value ≤ 1 (got 1.5)"),  # :604-605
        ({"presence_penalty": -2.5}, "presence_penalty: must be a number with -2 ≤ value ≤ 2 (got -2.5)"),  # :553-556
        ({"frequency_penalty": 3}, "frequency_penalty: must be a number with -2 ≤ value ≤ 2 (got 3)"),  # :557-560
        ({"repetition_penalty": 0}, "repetition_penalty: must be a number > 0 (got 0)"),  # :566-570
        ({"temperature": "0.5"}, 'temperature: must be a number with 0 ≤ value ≤ 2 (0: greedy) (got "0.5")'),  # ours: lax
        ({"temperature": True}, "temperature: must be a number with 0 ≤ value ≤ 2 (0: greedy) (got true)"),  # ours: lax
        ({"seed": 2**63}, "seed: must be an integer -9223372036854775808–9223372036854775807 (an int64; -1: random) "
                          "(got 9223372036854775808)"),  # Field(le=2**63-1), protocol.py:231
        ({"stop": ""}, 'stop: must be a non-empty string or a list of at most 4 of them (got "")'),  # :650-651
        ({"stop": ["a", ""]}, 'stop: must be a non-empty string or a list of at most 4 of them (got ["a", ""])'),
        ({"stop": list("abcde")}, 'stop: must be a non-empty string or a list of at most 4 of them '
                                  '(got ["a", "b", "c", "d", "e"])'),  # VLLM_MAX_STOP_STRINGS, envs.py:112
        # Budget: SamplingParams max_tokens ≥ 1 (:606-611); the ceiling is ours.
        ({"max_tokens": 0}, "max_tokens: must be an integer 1–1024 (got 0)"),
        ({"max_completion_tokens": 1025}, "max_completion_tokens: must be an integer 1–1024 (got 1025)"),
        ({"max_tokens": 5, "max_completion_tokens": 6},
         "max_completion_tokens: must be absent or null when max_tokens is given (one budget)"),  # ours
        ({"n": 2}, "n: must be 1: one completion per inference (several: send several requests) (got 2)"),  # ours
        # Logprobs: ≤ --max-logprobs 20 (sampling_params.py:838-853); -1 (the vocabulary) is over it (protocol.py:852-858).
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs: must be an integer 0–20 (vLLM's --max-logprobs) (got 21)"),
        ({"logprobs": True, "top_logprobs": -1}, "top_logprobs: must be an integer 0–20 (vLLM's --max-logprobs) (got -1)"),
        ({"top_logprobs": 2}, f"{USE_LOGPROBS} (got 2)"),  # protocol.py:860-864
        ({"logprobs": False, "top_logprobs": 2}, f"{USE_LOGPROBS} (got 2)"),
        ({"logprobs": 1}, "logprobs: must be true or false (got 1)"),  # ours: pydantic's lax bool reads 1
        ({"logit_bias": {"a": 1}}, 'logit_bias.a: must be keyed by a token id (decimal digits) (got "a")'),  # :421-446
        ({"logit_bias": {"-1": 1}}, 'logit_bias.-1: must be keyed by a token id (decimal digits) (got "-1")'),  # :925-943
        ({"logit_bias": {"5": "x"}}, 'logit_bias.5: must be a number (clamped to -100…100) (got "x")'),
        ({"logit_bias": [1.0]}, "logit_bias: must be an object (got [1.0])"),  # dict[str, float]
        # response_format (generate/base/protocol.py:92-133; protocol.py:764-795).
        ({"response_format": {"type": "json_schema"}},
         'response_format.json_schema: must be an object with "name" and "schema"'),  # protocol.py:779-790
        ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
         "response_format.json_schema.name: must be a string"),  # JsonSchemaResponseFormat.name: str
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a"}}},
         "response_format.json_schema.schema: must be a JSON Schema object"),  # json=None: sampling_params.py:123-127
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": None}}},
         "response_format.json_schema.schema: must be a JSON Schema object (got null)"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "json_schema": {}}}},
         'response_format.json_schema.json_schema: must be one of description, name, schema, strict (got "json_schema")'),
        ({"response_format": {"type": "json"}},
         'response_format.type: must be one of text, json_object, json_schema (got "json")'),  # TGI's name
        ({"response_format": {"type": "structural_tag", "format": {}}},
         'response_format.type: must be one of text, json_object, json_schema (got "structural_tag")'),  # ours
        ({"response_format": {"type": "json_object", "value": {}}},
         'response_format.value: must be one of type (got "value")'),  # ours: unknown key
        # structured_outputs (sampling_params.py:87-127).
        ({"structured_outputs": {}}, f"structured_outputs: must be {CONSTRAINTS} (got {{}})"),  # :123-127
        ({"structured_outputs": {"regex": "a", "choice": ["a"]}},
         f'structured_outputs: must be {CONSTRAINTS} (got ["regex", "choice"])'),  # :118-122; protocol.py:883-897
        ({"structured_outputs": {"choice": []}}, "structured_outputs.choice: must be a non-empty list of strings (got [])"),
        ({"structured_outputs": {"json": "{"}},
         'structured_outputs.json: must be a JSON Schema object, or a string holding one (got "{")'),
        ({"structured_outputs": {"json_object": False}}, "structured_outputs.json_object: must be true (got false)"),  # ours
        ({"structured_outputs": {"structural_tag": "{}"}}, 'structured_outputs.structural_tag: must be one of choice, '
                                                           'grammar, json, json_object, regex (got "structural_tag")'),
        ({"response_format": {"type": "json_object"}, "structured_outputs": {"regex": "a"}}, ONE_CONSTRAINT),  # ours
        # tools and tool_choice (protocol.py:911-995).
        ({"tools": []}, "tools: must be a non-empty list of tools (got [])"),  # :919-925
        ({"tool_choice": "auto"}, 'tool_choice: must be none or absent without tools (got "auto")'),  # :936-943
        ({"tool_choice": "required"}, 'tool_choice: must be none or absent without tools (got "required")'),
        ({"tools": [TOOL], "tool_choice": "any"}, f'tool_choice: must be {TOOL_CHOICES} (got "any")'),  # :947-955
        ({"tools": [TOOL], "tool_choice": {"function": {"name": "get_time"}}},
         'tool_choice.function.name: must be one of the tools\' names (get_weather) (got "get_time")'),  # :985-994
        ({"tools": [TOOL], "tool_choice": {"function": {"name": ""}}},
         'tool_choice.function.name: must be a non-empty string (got "")'),  # :978-984
        ({"tools": [TOOL], "tool_choice": {"type": "function"}}, 'tool_choice.function: must be an object with "name"'),
        ({"tools": [TOOL], "tool_choice": "required", "response_format": SCHEMA_FORMAT},
         f'{CONSTRAINED} (got "required")'),  # abstract_tool_parser.py:139-147: replaced (ours)
        ({"tools": [TOOL], "tool_choice": {"function": {"name": "get_weather"}}, "structured_outputs": {"regex": "a"}},
         f'{CONSTRAINED} (got {{"function": {{"name": "get_weather"}}}})'),  # protocol.py:898-907
        ({"tools": [{"type": "custom", "function": {"name": "f"}}]}, 'tools[0].type: must be "function" (got "custom")'),
        ({"tools": [{"type": "function"}]}, 'tools[0].function: must be an object with "name"'),
        ({"tools": [{"function": {"name": "f", "arguments": {}}}]},
         'tools[0].function.arguments: must be one of description, name, parameters, strict (got "arguments")'),
        ({"tools": [{"function": {"name": "f", "parameters": []}}]},
         "tools[0].function.parameters: must be a JSON Schema object (got [])"),
        # Ours: stream, stream_options only with stream (protocol.py:797-808), unknown fields.
        ({"stream": True}, "stream: must be false or absent: an async endpoint cannot stream; poll GET /invocations/{id}"),
        ({"stream": "yes"}, 'stream: must be false, null or absent (got "yes")'),  # ours: lax "yes" is true
        ({"stream_options": {"include_usage": True}},
         'stream_options: must be null, {} or absent (vLLM takes stream options only with stream true) '
         '(got {"include_usage": true})'),
        ({"model": 4}, "model: must be a string (got 4)"),  # ours: the container overwrites it first
    ],
)  # fmt: skip
def test_refused_fields(fields: dict, expected: str) -> None:
    assert message({"messages": USER, **fields}) == expected


@pytest.mark.parametrize(
    "name",
    # vLLM fields we do not forward, OpenAI ones it lacks, the guided_* fields it silently ignores
    # (serve/engine/protocol.py:25-34), the session key its SageMaker route reads (docs/design/vllm-engine.md §2.4).
    ["echo", "use_beam_search", "chat_template", "chat_template_kwargs", "kv_transfer_params", "vllm_xargs", "priority",
     "request_id", "cache_salt", "min_tokens", "ignore_eos", "guided_json", "requestType", "tool_prompt", "store"],
)  # fmt: skip
def test_other_fields_are_refused_as_unknown(name: str) -> None:
    assert message({"messages": USER, name: 1}).startswith(f"{name}: must be one of frequency_penalty, logit_bias, ")
