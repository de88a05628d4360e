"""The parts of the OpenAI shapes that both engines check alike: messages and their text content, tool calls, prompts,
and the fields an engine takes and then does nothing with.

Only what TGI 3.3.6 (tgi_openai.py) and vLLM 0.30.0 (vllm_chat.py, vllm_completions.py) check the same way is here; what
differs comes in as an argument (the engine's limit, its words, its check of a function). Each engine's rules, and the
upstream lines they follow, stay in that engine's module, beside the use of these helpers.
"""

from __future__ import annotations

from typing import Any

from inference_api import tgi
from inference_api.tgi import DROP, Check, Invalid, described, field_schema, nullable, rule, string

ROLES = ("system", "user", "assistant", "tool")
"""A message's roles (ours): the chat template decides what a role renders, and templates drop or refuse others."""
ROLE = f"one of {', '.join(ROLES)}"

role = rule(lambda value: value in ROLES, ROLE, {"enum": list(ROLES)})
function_type = rule(lambda value: value == "function", '"function"', {"const": "function"})
a_list = rule(lambda value: isinstance(value, list), "a list", {"type": "array"})
NAMED_TOOL: dict[str, Check] = {"type": function_type, "function": tgi.obj}
"""A named tool choice, {"type": "function", "function": {"name": ...}}, before its function's name is checked."""


def absent(unread: str) -> Check:
    """A field the engine takes and then does nothing with (`unread` says so, in its words): null (dropped) or absent only,
    so that a caller does not believe it got what it asked for (ours)."""

    @described(f"null or absent: {unread}", {"type": "null"})
    def check(field: str, value: Any) -> Any:
        if value is not None:
            raise Invalid(field, f"null or absent: {unread}", value)
        return DROP

    return check


def record(rules: dict[str, Check], required: dict[str, str]) -> Check:
    """An object whose fields `rules` check, then with each `required` field present (field → what it must be)."""
    properties = {name: field_schema(check) for name, check in rules.items()}
    schema = {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}

    @described("an object", schema)
    def check(field: str, value: Any) -> Any:
        tgi.apply(tgi.obj(field, value), rules, f"{field}.")
        for name, allowed in required.items():
            tgi.require(value, name, f"{field}.", allowed)
        return value

    return check


def list_of(allowed: str, item: Check, *, non_empty: bool = False) -> Check:
    """A list (a non-empty one if so asked) whose every item passes `item`; forwarded as sent."""
    schema = {"type": "array", "items": item.schema or {}, **({"minItems": 1} if non_empty else {})}  # type: ignore[attr-defined]

    @described(allowed, schema)
    def check(field: str, value: Any) -> Any:
        if not isinstance(value, list) or (non_empty and not value):
            raise Invalid(field, allowed, value)
        for index, each in enumerate(value):
            item(f"{field}[{index}]", each)
        return value

    return check


def message(content: Check, tool_calls: Check, unread: str, **more: Check) -> Check:
    """A chat message: its role (one of ROLES, required), content, name, tool_calls, tool_call_id, `more` of the engine's,
    and the fields of an OpenAI answer's message that a client echoes back into the conversation, which neither engine
    reads: accepted, but a non-null legacy function_call or audio would be lost, so refused (ours, `unread` says why)."""
    rules = {
        "role": role,
        "content": nullable(content),
        "name": nullable(string),
        "tool_calls": nullable(tool_calls),
        "tool_call_id": nullable(string),
        "refusal": nullable(string),
        "annotations": nullable(a_list),
        "function_call": absent(unread),
        "audio": absent(unread),
        **more,
    }
    return record(rules, {"role": ROLE})


def text_content(untyped: Any = DROP) -> Check:
    """A message's content: a string or a list of text parts, {"type": "text", "text": ...} (ours: an image, audio or
    file part would make the engine fetch a URL, or a text model refuse it). A part without a type is reported with
    `untyped` as its value (DROP: none)."""
    properties = {"type": {"const": "text"}, "text": {"type": "string"}}
    part = {"type": "object", "properties": properties, "required": ["type", "text"], "additionalProperties": False}

    @described("a string or a list of text parts", {"anyOf": [{"type": "string"}, {"type": "array", "items": part}]})
    def check(field: str, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if not isinstance(value, list):
            raise Invalid(field, "a string or a list of text parts", value)
        for index, part in enumerate(value):
            where = f"{field}[{index}]"
            if tgi.obj(where, part).get("type") != "text":
                raise Invalid(f"{where}.type", '"text"', part.get("type", untyped))
            tgi.apply(part, {"type": string, "text": string}, f"{where}.")
            tgi.require(part, "text", f"{where}.", "a string")
        return value

    return check


def message_texts(body: dict[str, Any]) -> list[str]:
    """The text of every message's content (for the byte limit)."""
    return [text for message in body["messages"] for text in _texts(message.get("content"))]


def _texts(content: Any) -> list[str]:
    return [content] if isinstance(content, str) else [part["text"] for part in content or []]


def tool_calls(kind: Check, function: Check) -> Check:
    """An assistant's tool calls: a list of {id, type, function}, all three required; `kind` checks the type."""
    call = record({"id": string, "type": kind, "function": function}, dict.fromkeys(("id", "type", "function"), "present"))
    return list_of("a list of tool calls", call)


def prompt(maximum: int, allowed: str) -> Check:
    """A completions prompt: a non-empty string, or a list of 1 to `maximum` of them; `allowed` says so to the caller."""
    one = {"type": "string", "minLength": 1}

    @described(allowed, {"anyOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": maximum}]})
    def check(field: str, value: Any) -> Any:
        prompts = [value] if isinstance(value, str) else value
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= maximum:
            raise Invalid(field, allowed, value)
        for index, one in enumerate(prompts):
            if not isinstance(one, str) or not one:
                raise Invalid(field if isinstance(value, str) else f"{field}[{index}]", "a non-empty string", one)
        return value

    return check


def prompts(body: dict[str, Any]) -> list[str]:
    """The prompts of a completions body (for the byte limit)."""
    prompt = body["prompt"]
    return [prompt] if isinstance(prompt, str) else list(prompt)
