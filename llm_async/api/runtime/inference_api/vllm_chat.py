"""The chat completions shape, `{"messages": [...]}`, as vLLM 0.30.0 reads it: ChatCompletionRequest
(vllm/entrypoints/openai/chat_completion/protocol.py:213-1056 (vLLM 0.30.0)), its messages typed by
vllm/entrypoints/chat_utils.py:336-392 and OpenAI's message types, its sampling checked by vllm/sampling_params.py.
"""

from __future__ import annotations

from typing import Any

from inference_api import openai_shapes, tgi, vllm
from inference_api.tgi import DROP, Invalid, Rules, TokenBudget, boolean, described, nullable, string

_TOOL_CHOICES = ("none", "auto", "required")
TOOL_CALL_PARSER = False
"""Whether the container runs with --enable-auto-tool-choice and --tool-call-parser (SM_VLLM_ENABLE_AUTO_TOOL_CHOICE,
SM_VLLM_TOOL_CALL_PARSER; the parser is the model's). llm_async/model/environment.py sets neither, and then vLLM refuses
tool_choice auto (the default beside tools), required and a named tool (vllm/renderers/online_renderer.py:204-226
(vLLM 0.30.0)): tools are taken with tool_choice "none" only. Set it with the container's flags."""


def chat_rules(budget: TokenBudget) -> Rules:
    """The fields of a chat completions request, as parse_chat checks them."""
    fields = {
        "messages": _messages,
        "model": vllm.model,
        "frequency_penalty": nullable(vllm.penalty),  # float | None = 0.0 (protocol.py:218)
        "logit_bias": nullable(vllm.logit_bias),
        "logprobs": nullable(boolean),  # bool | None (protocol.py:220)
        "top_logprobs": nullable(vllm.logprobs_count),  # int | None = 0 (protocol.py:221)
        "max_tokens": budget.check,  # int | None, deprecated (protocol.py:222-226)
        "max_completion_tokens": budget.check,  # int | None (protocol.py:227)
        "n": nullable(vllm.one),  # int | None = 1 (protocol.py:228)
        "presence_penalty": nullable(vllm.penalty),  # (protocol.py:229)
        "response_format": nullable(vllm.response_format),  # (protocol.py:230)
        "seed": nullable(vllm.seed),
        "stop": nullable(vllm.stop),
        "stream": vllm.stream,
        "stream_options": vllm.stream_options,
        "temperature": nullable(vllm.temperature),  # float | None (protocol.py:235)
        "top_p": nullable(vllm.top_p),  # (protocol.py:236)
        "tools": nullable(_tools),  # (protocol.py:237)
        "tool_choice": nullable(_tool_choice),  # (protocol.py:238-244)
        "parallel_tool_calls": nullable(boolean),  # bool | None = True (protocol.py:260)
        "user": nullable(string),  # "ignored by vLLM" (protocol.py:262-263)
        "top_k": nullable(vllm.top_k),  # (protocol.py:267)
        "min_p": nullable(vllm.min_p),  # (protocol.py:268)
        "repetition_penalty": nullable(vllm.repetition_penalty),  # (protocol.py:269)
        "structured_outputs": nullable(vllm.structured_outputs),  # (protocol.py:377-380)
    }
    return Rules(fields, {"messages": "a non-empty list of messages"})


def parse_chat(request: dict[str, Any], budget: TokenBudget) -> tuple[dict[str, Any], list[str]]:
    """The body the container receives, and the text of every message content (for the byte limit)."""
    rules = chat_rules(budget)
    rules.require(request)
    if request.get("max_tokens") is not None and request.get("max_completion_tokens") is not None:
        # vLLM reads max_completion_tokens and ignores max_tokens (protocol.py:618-623): one budget (ours).
        raise Invalid("max_completion_tokens", "absent or null when max_tokens is given (one budget)")
    body = tgi.apply(request, rules.fields)
    # Every forwarded request names its budget (ours), under the name vLLM reads first (protocol.py:618-623); the
    # container also refuses a budget over max_model_len (vllm/renderers/params.py:237-249 (vLLM 0.30.0)).
    named = next((name for name in ("max_completion_tokens", "max_tokens") if request.get(name) is not None), None)
    tokens = body[named] if named else budget.default
    body.pop("max_tokens", None)
    body["max_completion_tokens"] = tokens
    if body.get("top_logprobs") and not body.get("logprobs"):
        # "when using `top_logprobs`, `logprobs` must be set to true" (protocol.py:860-864 (vLLM 0.30.0)).
        raise Invalid("top_logprobs", "0 or absent unless logprobs is true", body["top_logprobs"])
    _tools_and_formats(body)
    vllm.one_constraint(body)
    return body, openai_shapes.message_texts(body)


_called = openai_shapes.record({"name": string, "arguments": string}, {"name": "a string", "arguments": "a string of JSON"})
# OpenAI's message types, else CustomChatCompletionMessageParam (vllm/entrypoints/chat_utils.py:356-392 (vLLM 0.30.0)).
# Any string is a custom role (chat_utils.py:356-360); the chat template decides what it renders, and templates drop or
# refuse others: ROLES only (ours), as for TGI. OpenAI's `developer` is refused too. The fields of an OpenAI answer that
# a client echoes back: vLLM's message parser does not read them (chat_utils.py:2005-2070).
_message_fields = openai_shapes.message(
    # A string or a list of parts (chat_utils.py:336-353). Text parts only (ours): an image, audio or video part makes a
    # multimodal model fetch its URL from the container, and a text model refuse the request. A text part's text is
    # Required (ChatCompletionContentPartTextParam).
    openai_shapes.text_content(),
    # OpenAI's ChatCompletionMessageFunctionToolCallParam: id, type "function", function {name, arguments: str}, all
    # required; any other type is a 400 (chat_utils.py:2106-2113 (vLLM 0.30.0)). Arguments as an object fail OpenAI's type.
    openai_shapes.tool_calls(openai_shapes.function_type, _called),
    "vLLM does not read it",
    reasoning=nullable(string),  # read into the assistant turn for interleaved thinking (chat_utils.py:2038-2042)
)


@described(_message_fields.allowed, _message_fields.schema)  # type: ignore[attr-defined]
def _message(field: str, message: Any) -> Any:
    _message_fields(field, message)
    if message.get("content") is None and not (message["role"] == "assistant" and message.get("tool_calls")):
        # OpenAI's user, system and tool messages require content; an assistant's is optional with tool calls.
        # An assistant message with neither is read as empty (chat_utils.py:2015-2016): refused (ours).
        allowed = "a string or a list of text parts (null only in an assistant message with tool_calls)"
        raise Invalid(f"{field}.content", allowed, message.get("content", DROP))
    return message


# list[ChatCompletionMessageParam] (protocol.py:216); an empty list is refused (ours: nothing to answer).
_messages = openai_shapes.list_of("a non-empty list of messages", _message, non_empty=True)
# TGI's `arguments` alias of parameters is not vLLM's: it would be ignored, so it is refused (as unknown, ours).
_function = openai_shapes.record(
    {
        "name": string,
        "description": nullable(string),
        "parameters": nullable(vllm.json_schema_object),
        "strict": nullable(boolean),
    },
    {"name": "a string"},
)
# list[ChatCompletionToolsParam]: type "function" (the default), function: FunctionDefinition {name, description,
# parameters: object, strict} (protocol.py:184-186; vllm/entrypoints/generate/base/protocol.py:246-251).
# "`tools` must not be an empty array" (protocol.py:919-925 (vLLM 0.30.0)).
_tools = openai_shapes.list_of(
    "a non-empty list of tools",
    openai_shapes.record({"type": openai_shapes.function_type, "function": _function}, {"function": 'an object with "name"'}),
    non_empty=True,
)


@described(
    'one of none, auto, required, or {"type": "function", "function": {"name": ...}}',
    {"anyOf": [{"enum": list(_TOOL_CHOICES)}, {"type": "object"}]},
)
def _tool_choice(field: str, value: Any) -> Any:
    # "none" | "auto" | "required" | {type: "function", function: {name}} (protocol.py:204-210,238-244); another string
    # is a 400 (protocol.py:947-955), and so is an empty name (protocol.py:978-984 (vLLM 0.30.0)).
    if isinstance(value, str):
        if value not in _TOOL_CHOICES:
            raise Invalid(field, 'one of none, auto, required, or {"type": "function", "function": {"name": ...}}', value)
        return value
    openai_shapes.record(openai_shapes.NAMED_TOOL, {"function": 'an object with "name"'})(field, value)
    tgi.apply(value["function"], {"name": string}, f"{field}.function.")
    if not value["function"].get("name"):
        raise Invalid(f"{field}.function.name", "a non-empty string", value["function"].get("name", DROP))
    return value


def _tools_and_formats(body: dict[str, Any]) -> None:
    tools, choice = body.get("tools"), body.get("tool_choice")
    if choice not in (None, "none") and tools is None:
        # "When using `tool_choice`, `tools` must be set." (protocol.py:936-943 (vLLM 0.30.0)).
        raise Invalid("tool_choice", "none or absent without tools", choice)
    if isinstance(choice, dict):
        # The named tool must be one of the tools (protocol.py:985-994 (vLLM 0.30.0)).
        names = [tool["function"]["name"] for tool in tools or []]
        if choice["function"]["name"] not in names:
            raise Invalid(
                "tool_choice.function.name", f"one of the tools' names ({', '.join(names)})", choice["function"]["name"]
            )
    if (choice == "required" or isinstance(choice, dict)) and vllm.constrained(body):
        # A forced tool call constrains the output to the tools' schema: vLLM replaces structured_outputs and drops
        # response_format (vllm/tool_parsers/abstract_tool_parser.py:139-147); a named tool beside a json, regex or choice
        # constraint is a 400 (protocol.py:898-907 (vLLM 0.30.0)). Refused either way (ours).
        raise Invalid(
            "tool_choice", "auto, none or absent when response_format or structured_outputs constrains the output", choice
        )
    if not TOOL_CALL_PARSER and tools is not None and choice != "none":
        # Beside tools an absent tool_choice is "auto" (protocol.py:927-930); the serving layer, after the checks above,
        # refuses it without a parser, and so required and a named tool (vllm/renderers/online_renderer.py:204-226).
        allowed = '"none" beside tools: the container has no tool-call parser (vLLM then refuses auto, required and named)'
        raise Invalid("tool_choice", allowed, DROP if choice is None else choice)
