"""The OpenAI shapes as TGI 3.3.6 reads them: chat completions (`ChatRequest`) and completions (`CompletionRequest`).

TGI turns both into a generate request (router/src/lib.rs, ChatRequest::try_into_generate; router/src/server.rs,
completions), so the sampling rules are validation.rs's, reached through the names below.
"""

from __future__ import annotations

from typing import Any

from inference_api import openai_shapes, tgi
from inference_api.tgi import DROP, Invalid, Rules, TokenBudget, boolean, described, nullable, string

_TOOL_CHOICES = ("auto", "none", "required")


def chat_rules(budget: TokenBudget) -> Rules:
    """The fields of a chat completions request, as parse_chat checks them."""
    fields = {
        "model": tgi.tgi_model,
        "messages": _messages,
        "frequency_penalty": nullable(tgi.frequency_penalty),
        "logit_bias": _unused,
        "logprobs": nullable(boolean),
        "top_logprobs": nullable(tgi.top_n_tokens),  # becomes top_n_tokens (router/src/lib.rs (TGI v3.3.6))
        "max_tokens": budget.check,
        "max_completion_tokens": budget.check,
        "n": _n,
        "presence_penalty": nullable(_presence_penalty),
        "stop": nullable(tgi.stop),
        "stream": tgi.refused_stream,
        "seed": nullable(tgi.seed),
        "temperature": nullable(tgi.temperature_or_greedy),
        "top_p": nullable(tgi.openai_top_p),
        "tools": nullable(_tools),
        "tool_prompt": nullable(string),
        "tool_choice": nullable(_tool_choice),
        "response_format": nullable(_response_format),
        "stream_options": _stream_options,
    }
    return Rules(fields, {"messages": "a non-empty list of messages"})


def parse_chat(request: dict[str, Any], budget: TokenBudget) -> tuple[dict[str, Any], list[str]]:
    """The body the container receives, and the text of every message content (for the byte limit)."""
    rules = chat_rules(budget)
    rules.require(request)
    if "max_tokens" in request and "max_completion_tokens" in request:
        # An alias of max_tokens: serde refuses both as a duplicate field (router/src/lib.rs (TGI v3.3.6)).
        raise Invalid("max_completion_tokens", "absent when max_tokens is given (an alias of max_tokens)")
    body = tgi.apply(request, rules.fields)
    if "max_completion_tokens" in body:
        body["max_tokens"] = body.pop("max_completion_tokens")
    body.setdefault("max_tokens", budget.default)  # every forwarded request names its budget (ours)
    body["model"] = "tgi"
    _tools_and_formats(body)
    return body, openai_shapes.message_texts(body)


def completions_rules(budget: TokenBudget) -> Rules:
    """The fields of a completions request, as parse_completions checks them."""
    fields = {
        "model": tgi.tgi_model,
        "prompt": _prompt,
        "max_tokens": budget.check,
        "temperature": nullable(tgi.temperature_or_greedy),
        "top_p": nullable(tgi.openai_top_p),
        "stream": tgi.refused_stream,
        "seed": nullable(tgi.seed),
        "suffix": _suffix,
        "repetition_penalty": nullable(tgi.positive),
        "frequency_penalty": nullable(tgi.frequency_penalty),
        "stop": nullable(tgi.stop),
    }
    return Rules(fields, {"prompt": "a non-empty string or a list of them"})


def parse_completions(request: dict[str, Any], budget: TokenBudget) -> tuple[dict[str, Any], list[str]]:
    """The body the container receives, and its prompts (for the byte limit)."""
    rules = completions_rules(budget)
    rules.require(request)
    body = tgi.apply(request, rules.fields)
    body.setdefault("max_tokens", budget.default)  # every forwarded request names its budget (ours)
    body["model"] = "tgi"
    return body, openai_shapes.prompts(body)


@described(
    f'{tgi.GRAMMAR}, or OpenAI\'s {{"type": "json_schema", "json_schema": {{"name", "schema", "strict"}}}}',
    tgi.tagged_schema(tgi.GRAMMAR_TYPES, ("type",), value={}, json_schema={"type": "object"}),
)
def _response_format(field: str, value: Any) -> Any:
    """TGI's GrammarType, or OpenAI's structured-output form translated into it.

    OpenAI clients send {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}; TGI reads the same
    object under "value" (router/src/lib.rs GrammarType::JsonSchema (TGI v3.3.6)) and would refuse the OpenAI
    key. The translation moves it; every rule of TGI's still applies to it, with errors named as sent."""
    if isinstance(value, dict) and value.get("type") == "json_schema" and "json_schema" in value and "value" not in value:
        unknown = sorted(set(value) - {"type", "json_schema"})
        if unknown:  # as tgi.grammar refuses any key of GrammarType but its two
            raise Invalid(f"{field}.{unknown[0]}", "one of type, value", unknown[0])
        tgi.json_schema_config(f"{field}.json_schema", value["json_schema"])
        return {"type": "json_schema", "value": value["json_schema"]}
    return tgi.grammar(field, value)


# Prompt: a string or a non-empty list of strings (router/src/lib.rs (TGI v3.3.6)), at most max_client_batch_size of
# them (router/src/server.rs, completions); each one non-empty (router/src/validation.rs).
_prompt = openai_shapes.prompt(
    tgi.MAX_CLIENT_BATCH_SIZE,
    f"a non-empty string or a list of 1–{tgi.MAX_CLIENT_BATCH_SIZE} of them (TGI's MAX_CLIENT_BATCH_SIZE)",
)
# Any suffix but null is refused (router/src/server.rs, completions (TGI v3.3.6)).
_suffix = openai_shapes.absent("TGI does not support a suffix")
# logit_bias: Option<Vec<f32>> that TGI never applies (router/src/lib.rs (TGI v3.3.6)); OpenAI's object form fails
# serde, and a list is refused too (ours): the caller would not get what it asked for.
_unused = openai_shapes.absent("TGI does not apply it")


@described("1: TGI answers one choice", tgi.or_null({"const": 1}))
def _n(field: str, value: Any) -> Any:
    # n: Option<u32> that TGI ignores, answering one choice (router/src/lib.rs (TGI v3.3.6)): only 1 (ours).
    if value is None:
        return DROP
    if not tgi.is_int(value) or value != 1:
        raise Invalid(field, "1: TGI answers one choice", value)
    return value


@described("a number > -2 (TGI's repetition_penalty, presence_penalty + 2, must be > 0)", {"type": "number"})
def _presence_penalty(field: str, value: Any) -> Any:
    # TGI's repetition_penalty = presence_penalty + 2 (router/src/lib.rs), which must be > 0
    # (router/src/validation.rs (TGI v3.3.6)). OpenAI's 0 (no penalty) would become a penalty of 2: dropped (ours).
    if not tgi.is_number(value) or tgi.f32(tgi.f32(value) + 2) <= 0:  # the sum is an f32 too
        raise Invalid(field, "a number > -2 (TGI's repetition_penalty, presence_penalty + 2, must be > 0)", value)
    return DROP if tgi.f32(value) == 0 else value


# StreamOptions: a struct, so serde refuses null (router/src/lib.rs (TGI v3.3.6)); unused without a stream.
_stream_options = openai_shapes.record({"include_usage": boolean}, {})


@described("any JSON value")
def _any(field: str, value: Any) -> Any:
    return value


@described("an object", {"type": "object"})
def _function(field: str, value: Any, extra: dict[str, tgi.Check] | None = None) -> Any:
    # FunctionDefinition: name, arguments (alias parameters: both is a duplicate field), optional description
    # (router/src/lib.rs (TGI v3.3.6)); arguments is any JSON value but must be there.
    rules = {"name": string, "description": nullable(string), "arguments": _any, "parameters": _any, **(extra or {})}
    openai_shapes.record(rules, {"name": "a string"})(field, value)
    if ("arguments" in value) == ("parameters" in value):
        raise Invalid(f"{field}.parameters", "present, or else arguments (not both)")
    return value


# Message (router/src/lib.rs (TGI v3.3.6)). role: String, any value; the chat template decides what it renders, and the
# presets' templates drop or refuse other roles: ROLES only (ours). tool_call_id and the fields of an OpenAI answer that
# a client echoes back are not Message's: serde ignores them, and so does TGI.
_message_fields = openai_shapes.message(
    # MessageContent: a string or a list of chunks tagged by type (router/src/lib.rs (TGI v3.3.6)). An image_url chunk
    # reaches a text model as the text `![](url)`, and makes a vision model fetch the URL: text only (ours).
    openai_shapes.text_content(untyped=None),
    # Vec<ToolCall>: id, type and function, all required (router/src/lib.rs (TGI v3.3.6)).
    openai_shapes.tool_calls(string, _function),
    "TGI ignores it",
)


@described(_message_fields.allowed, _message_fields.schema)  # type: ignore[attr-defined]
def _message(field: str, message: Any) -> Any:
    _message_fields(field, message)
    # MessageBody, untagged: `content`, or else `tool_calls` (router/src/lib.rs (TGI v3.3.6)).
    if message.get("content") is None and message.get("tool_calls") is None:
        allowed = "a string or a list of text parts (null only with tool_calls)"
        raise Invalid(f"{field}.content", allowed, message.get("content", DROP))
    return message


# Vec<Message> (router/src/lib.rs (TGI v3.3.6)); an empty list is refused (ours: nothing to answer).
_messages = openai_shapes.list_of("a non-empty list of messages", _message, non_empty=True)


@described("an object", {"type": "object"})
def _tool_function(field: str, value: Any) -> Any:
    return _function(field, value, {"strict": nullable(boolean)})


# Vec<Tool>: type and function (router/src/lib.rs (TGI v3.3.6)). TGI treats every tool as a function whatever its type:
# "function" only (ours). OpenAI's `strict` is accepted and ignored, as TGI does.
_tool = {"type": openai_shapes.function_type, "function": _tool_function}
_tools = openai_shapes.list_of("a list of tools", openai_shapes.record(_tool, {"type": '"function"', "function": "a function"}))


@described(
    'auto, none, required, a tool\'s name, or {"type": "function", "function": {"name": ...}}',
    {"anyOf": [{"type": "string"}, {"type": "object"}]},
)
def _tool_choice(field: str, value: Any) -> Any:
    # ToolChoice (router/src/lib.rs (TGI v3.3.6)): "auto", "none", "required", any other string (a tool's name),
    # or {"type": "function", "function": {"name": ...}}.
    if isinstance(value, str):
        return value
    openai_shapes.record(openai_shapes.NAMED_TOOL, {"type": '"function"', "function": 'an object with "name"'})(field, value)
    openai_shapes.record({"name": string}, {"name": "a string"})(f"{field}.function", value["function"])
    return value


def _tools_and_formats(body: dict[str, Any]) -> None:
    tools, choice = body.get("tools"), body.get("tool_choice")
    if tools is not None and body.get("response_format") is not None:
        # "Grammar and tools are mutually exclusive" (router/src/lib.rs, try_into_generate (TGI v3.3.6)).
        raise Invalid("response_format", "absent or null when tools are given (TGI: mutually exclusive)", body["response_format"])
    if isinstance(choice, dict):
        name = choice["function"]["name"]
    else:
        name = None if choice in (None, *_TOOL_CHOICES) else choice
    if tools is not None and name is not None:
        # A named tool must be one of the tools (router/src/infer/tool_grammar.rs (TGI v3.3.6)).
        names = [tool["function"]["name"] for tool in tools]
        if name not in names:
            raise Invalid("tool_choice", f"auto, none, required or one of the tools' names ({', '.join(names)})", choice)
