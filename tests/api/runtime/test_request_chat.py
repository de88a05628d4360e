"""The chat completions shape, `{"messages": [...]}`: TGI 3.3.6's ChatRequest (router/src/lib.rs), turned into a
generate request by try_into_generate and checked by router/src/validation.rs. Expectations from the source."""

from __future__ import annotations

import pytest

from tests.api.runtime.request_cases import FORWARDED_MESSAGES, USER, message, parse
from tests.request_samples import CHAT_NULLABLE

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"properties": {"city": {"type": "string"}}}}}
JSON_FORMAT = {"type": "json", "value": {"properties": {"answer": {"type": "string"}}}}


def _forwarded(**fields: object) -> dict:
    return parse({"messages": USER, **fields}).body


def test_a_minimal_request_gets_the_model_and_a_budget() -> None:
    request = parse({"messages": USER})
    assert (request.shape, request.body) == ("chat", {"messages": USER, "model": "tgi", "max_tokens": 256})


def test_an_openai_client_request_is_normalised() -> None:
    # model: an adapter id unless "tgi"; top_p 1: refused by TGI, means no filtering; temperature 0: TGI's greedy.
    body = _forwarded(model="gpt-4o", top_p=1, temperature=0, presence_penalty=0, n=1, stream=False)
    assert body == {"messages": USER, "model": "tgi", "temperature": 0, "n": 1, "stream": False, "max_tokens": 256}


@pytest.mark.parametrize("model", [None, "tgi", "gpt-4o", "Qwen/Qwen2.5-7B-Instruct"])
def test_the_model_is_always_tgi(model: object) -> None:
    assert _forwarded(model=model)["model"] == "tgi"


@pytest.mark.parametrize(
    ("fields", "budget"),
    [
        ({}, 256),
        ({"max_tokens": None}, 256),
        ({"max_tokens": 1024}, 1024),
        ({"max_completion_tokens": 7}, 7),
        ({"max_completion_tokens": None}, 256),
    ],
)
def test_the_budget_is_max_tokens(fields: dict, budget: int) -> None:
    # max_completion_tokens is serde's alias of max_tokens (lib.rs): forwarded under the one name.
    body = _forwarded(**fields)
    assert (body["max_tokens"], "max_completion_tokens" in body) == (budget, False)


@pytest.mark.parametrize(("value", "forwarded"), [(-1.5, -1.5), (0, None), (0.0, None), (1, 1), (3, 3)])
def test_presence_penalty(value: float, forwarded: object) -> None:
    # repetition_penalty = presence_penalty + 2 (lib.rs) must be > 0 (validation.rs); OpenAI's 0 would be 2.
    assert _forwarded(presence_penalty=value).get("presence_penalty") == forwarded


def test_f32_rounding_of_openai_values() -> None:
    # top_p 0.99999999 is 1.0 as an f32: dropped like 1. presence_penalty -1.99999999 is -2.0: its
    # repetition penalty, the f32 sum + 2, is 0.
    assert "top_p" not in _forwarded(top_p=0.99999999)
    assert message({"messages": USER, "presence_penalty": -1.99999999}).startswith("presence_penalty: must be a number > -2")


ACCEPTED = {
    "frequency_penalty": [-2, 0.5, 2],
    "logprobs": [True, False],
    "top_logprobs": [0, 5],
    "seed": [0, 2**64 - 1],
    "temperature": [0, 0.5, 2, 7],
    "top_p": [0.01, 0.99],
    "stop": [[], ["\n", "User:"], ["a", "b", "c", "d"]],
    "tool_prompt": ["Use a tool."],
    "response_format": [
        JSON_FORMAT,
        {"type": "regex", "value": "yes|no"},
        {"type": "json_schema", "value": {"name": "a", "schema": {"properties": {}}}},
    ],
    "stream_options": [{}, {"include_usage": True}],
    "tools": [[], [TOOL]],
}


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in ACCEPTED.items() for v in values])
def test_accepted_fields_are_forwarded_unchanged(name: str, value: object) -> None:
    assert _forwarded(**{name: value})[name] == value


@pytest.mark.parametrize("name", CHAT_NULLABLE)
def test_a_null_option_is_dropped(name: str) -> None:
    assert _forwarded(**{name: None}) == {"messages": USER, "model": "tgi", "max_tokens": 256}


@pytest.mark.parametrize(
    "messages",
    [
        *FORWARDED_MESSAGES,
        [{"role": "user", "content": ""}],
        [{"role": "user", "content": []}],
        [{"role": "assistant", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "parameters": {}}}]}],
        [{"role": "user", "content": "Hi", "name": None, "tool_call_id": None}],
    ],
)
def test_accepted_messages_are_forwarded_unchanged(messages: list) -> None:
    assert parse({"messages": messages}).body["messages"] == messages


def test_an_answer_echoed_back_by_an_openai_client() -> None:
    # The SDK's message model carries fields TGI does not have; serde ignores them.
    answer = {
        "role": "assistant",
        "content": "Hi!",
        "refusal": None,
        "annotations": [],
        "audio": None,
        "function_call": None,
        "tool_calls": None,
    }
    assert parse({"messages": [*USER, answer, USER[0]]}).body["messages"][1] == answer


@pytest.mark.parametrize(
    "choice",
    ["auto", "none", "required", "get_weather", {"type": "function", "function": {"name": "get_weather"}}],
)
def test_tool_choice_with_tools(choice: object) -> None:
    assert _forwarded(tools=[TOOL], tool_choice=choice)["tool_choice"] == choice


def test_tool_choice_without_tools_is_ignored_by_tgi() -> None:
    assert _forwarded(tool_choice="anything")["tool_choice"] == "anything"


def test_a_tool_with_openai_strict() -> None:
    tool = {"type": "function", "function": {**TOOL["function"], "strict": True, "description": "Weather."}}
    assert _forwarded(tools=[tool])["tools"] == [tool]


def test_response_format_with_null_tools() -> None:
    assert _forwarded(tools=None, response_format=JSON_FORMAT)["response_format"] == JSON_FORMAT


MESSAGE_FIELDS = "one of annotations, audio, content, function_call, name, refusal, role, tool_call_id, tool_calls"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"messages": []}, "messages: must be a non-empty list of messages (got [])"),
        ({"messages": "Hi"}, 'messages: must be a non-empty list of messages (got "Hi")'),
        ({"messages": ["Hi"]}, 'messages[0]: must be an object (got "Hi")'),
        (
            {"messages": [{"role": "bot", "content": "x"}]},
            'messages[0].role: must be one of system, user, assistant, tool (got "bot")',
        ),
        (
            {"messages": [*USER, USER[0], {"role": "developer", "content": "x"}]},
            'messages[2].role: must be one of system, user, assistant, tool (got "developer")',
        ),
        ({"messages": [{"content": "x"}]}, "messages[0].role: must be one of system, user, assistant, tool"),
        (
            {"messages": [{"role": "user"}]},
            "messages[0].content: must be a string or a list of text parts (null only with tool_calls)",
        ),
        (
            {"messages": [{"role": "user", "content": None}]},
            "messages[0].content: must be a string or a list of text parts (null only with tool_calls) (got null)",
        ),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content: must be a string or a list of text parts (got 5)"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
            'messages[0].content[0].type: must be "text" (got "image_url")',
        ),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text: must be a string"),
        (
            {"messages": [{"role": "user", "content": "x", "weight": 1}]},
            f'messages[0].weight: must be {MESSAGE_FIELDS} (got "weight")',
        ),
        (
            {"messages": [{"role": "assistant", "content": "x", "function_call": {"name": "f", "arguments": "{}"}}]},
            'messages[0].function_call: must be null or absent: TGI ignores it (got {"name": "f", "arguments": "{}"})',
        ),
        (
            {
                "messages": [
                    {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}
                ]
            },
            "messages[0].tool_calls[0].id: must be present",
        ),
        ({"stream": True}, "stream: must be false or absent: an async endpoint cannot stream; poll GET /invocations/{id}"),
        ({"stream": None}, "stream: must be false or absent (got null)"),
        ({"n": 2}, "n: must be 1: TGI answers one choice (got 2)"),
        ({"logit_bias": {"50256": -100}}, 'logit_bias: must be null or absent: TGI does not apply it (got {"50256": -100})'),
        ({"logit_bias": [1.0]}, "logit_bias: must be null or absent: TGI does not apply it (got [1.0])"),
        (
            {"presence_penalty": -2},
            "presence_penalty: must be a number > -2 (TGI's repetition_penalty, presence_penalty + 2, must be > 0) (got -2)",
        ),
        ({"frequency_penalty": 3}, "frequency_penalty: must be a number with -2 ≤ value ≤ 2 (got 3)"),
        ({"temperature": -0.5}, "temperature: must be a number ≥ 0 (0: greedy) (got -0.5)"),
        ({"top_p": 0}, "top_p: must be a number with 0 < value ≤ 1 (1: dropped, no nucleus filtering) (got 0)"),
        ({"top_p": 1.5}, "top_p: must be a number with 0 < value ≤ 1 (1: dropped, no nucleus filtering) (got 1.5)"),
        ({"top_logprobs": 6}, "top_logprobs: must be an integer 0–5 (TGI's MAX_TOP_N_TOKENS) (got 6)"),
        ({"logprobs": "yes"}, 'logprobs: must be true or false (got "yes")'),
        ({"max_tokens": 0}, "max_tokens: must be an integer 1–1024 (got 0)"),
        ({"max_completion_tokens": 1025}, "max_completion_tokens: must be an integer 1–1024 (got 1025)"),
        (
            {"max_tokens": 5, "max_completion_tokens": 5},
            "max_completion_tokens: must be absent when max_tokens is given (an alias of max_tokens)",
        ),
        ({"stop": "\n"}, 'stop: must be a list of at most 4 non-empty strings (got "\\n")'),
        ({"seed": -1}, "seed: must be an integer 0–18446744073709551615 (a u64) (got -1)"),
        ({"model": 4}, "model: must be a string (got 4)"),
        ({"stream_options": None}, "stream_options: must be an object (got null)"),
        (
            {"tools": [TOOL], "tool_choice": "get_time"},
            'tool_choice: must be auto, none, required or one of the tools\' names (get_weather) (got "get_time")',
        ),
        ({"tool_choice": {"type": "function"}}, 'tool_choice.function: must be an object with "name"'),
        ({"tools": [{"type": "custom", "function": TOOL["function"]}]}, 'tools[0].type: must be "function" (got "custom")'),
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
            "tools[0].function.parameters: must be present, or else arguments (not both)",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}, "arguments": {}}}]},
            "tools[0].function.parameters: must be present, or else arguments (not both)",
        ),
        ({"tools": [{"type": "function", "function": {"parameters": {}}}]}, "tools[0].function.name: must be a string"),
        ({"response_format": {"type": "json_object"}}, "response_format.value: must be present"),
        (
            # OpenAI's form is translated, and TGI's rules still apply to it, named as sent.
            {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}},
            "response_format.json_schema.schema: must be a JSON Schema object with 'properties' (got {})",
        ),
    ],
)
def test_refused_fields(fields: dict, expected: str) -> None:
    assert message({"messages": USER, **fields}) == expected


def test_tools_and_response_format_are_mutually_exclusive() -> None:
    # "Grammar and tools are mutually exclusive" (lib.rs, try_into_generate), even with an empty tool list.
    assert message({"messages": USER, "tools": [], "response_format": JSON_FORMAT}).startswith(
        "response_format: must be absent or null when tools are given (TGI: mutually exclusive) (got {"
    )


def test_a_named_tool_must_exist_even_when_named_like_a_keyword() -> None:
    choice = {"type": "function", "function": {"name": "auto"}}
    assert message({"messages": USER, "tools": [TOOL], "tool_choice": choice}) == (
        "tool_choice: must be auto, none, required or one of the tools' names (get_weather) "
        '(got {"type": "function", "function": {"name": "auto"}})'
    )


def test_an_unknown_field_lists_the_chat_fields() -> None:
    # serde ignores it (e.g. OpenAI's `user`): refused (ours), so no option is silently dropped.
    assert message({"messages": USER, "user": "ann"}) == (
        "user: must be one of frequency_penalty, logit_bias, logprobs, max_completion_tokens, max_tokens, messages, model, "
        "n, presence_penalty, response_format, seed, stop, stream, stream_options, temperature, tool_choice, tool_prompt, "
        'tools, top_logprobs, top_p (got "user")'
    )


def test_openai_structured_output_is_translated_to_tgis_grammar() -> None:
    # OpenAI: {"type": "json_schema", "json_schema": {...}}; TGI reads the same object under "value"
    # (router/src/lib.rs GrammarType::JsonSchema (TGI v3.3.6)).
    config = {"name": "answer", "schema": {"type": "object", "properties": {"colour": {"type": "string"}}}, "strict": True}
    forwarded = _forwarded(response_format={"type": "json_schema", "json_schema": config})
    assert forwarded["response_format"] == {"type": "json_schema", "value": config}
