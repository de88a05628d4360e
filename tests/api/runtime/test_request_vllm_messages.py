"""The chat shape's messages and tools with the vLLM engine: vLLM 0.30.0's message types
(vllm/entrypoints/chat_utils.py, OpenAI's types), ChatCompletionToolsParam and the tool_choice rules
(vllm/entrypoints/openai/chat_completion/protocol.py), and the container's tool-call parser (none). Each refusal names
the upstream rule behind it, or "ours"."""

from __future__ import annotations

import pytest
from inference_api import vllm_chat

from tests.api.runtime.request_cases import FORWARDED_MESSAGES, USER
from tests.api.runtime.vllm_cases import BUDGET, SCHEMA_FORMAT, TOOL, message, parse


def _forwarded(**fields: object) -> dict:
    return parse({"messages": USER, **fields}).body


@pytest.mark.parametrize(
    "messages",
    [
        *FORWARDED_MESSAGES,
        [{"role": "user", "content": ""}, {"role": "user", "content": []}],
        # An answer an OpenAI client echoes back: vLLM's ChatMessage fields (protocol.py:62-72).
        [{"role": "assistant", "content": "Hi", "refusal": None, "annotations": [], "audio": None, "function_call": None,
          "tool_calls": [], "reasoning": None}],
        [{"role": "assistant", "content": "42", "reasoning": "6 × 7"}],
    ],
)  # fmt: skip
def test_accepted_messages_are_forwarded_unchanged(messages: list) -> None:
    assert parse({"messages": messages}).body["messages"] == messages


TOOLS = [[TOOL], [{"function": {"name": "f"}}], [{"function": {"name": "f", "parameters": None, "strict": False}}]]


@pytest.mark.parametrize("tools", TOOLS)
def test_tools_are_forwarded_with_tool_choice_none(tools: list) -> None:
    # The container has no tool-call parser (llm_async/model/environment.py): only "none" is served beside tools.
    assert _forwarded(tools=tools, tool_choice="none") == {
        "messages": USER, "tools": tools, "tool_choice": "none", "max_completion_tokens": BUDGET,
    }  # fmt: skip


NO_PARSER = (
    'tool_choice: must be "none" beside tools: the container has no tool-call parser (vLLM then refuses auto, required and named)'
)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tools": [TOOL]}, NO_PARSER),  # absent beside tools is "auto" (protocol.py:927-930)
        ({"tools": [TOOL], "tool_choice": None}, NO_PARSER),  # null: dropped, so "auto" too
        ({"tools": [TOOL], "tool_choice": "auto"}, f'{NO_PARSER} (got "auto")'),  # online_renderer.py:210-216
        ({"tools": [TOOL], "tool_choice": "required"}, f'{NO_PARSER} (got "required")'),  # online_renderer.py:217-226
        ({"tools": [TOOL], "tool_choice": {"function": {"name": "get_weather"}}},
         f'{NO_PARSER} (got {{"function": {{"name": "get_weather"}}}})'),
    ],
)  # fmt: skip
def test_without_a_tool_call_parser_tools_take_tool_choice_none(fields: dict, expected: str) -> None:
    assert message({"messages": USER, **fields}) == expected


@pytest.fixture
def tool_call_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container run with SM_VLLM_ENABLE_AUTO_TOOL_CHOICE=true and SM_VLLM_TOOL_CALL_PARSER set."""
    monkeypatch.setattr(vllm_chat, "TOOL_CALL_PARSER", True)


@pytest.mark.usefixtures("tool_call_parser")
@pytest.mark.parametrize(
    ("fields", "tool_choice"),
    [
        ({"tools": [TOOL]}, None),  # vLLM sets "auto" (protocol.py:927-930)
        ({"tools": [TOOL], "tool_choice": "auto"}, "auto"),
        ({"tools": [TOOL], "tool_choice": "required"}, "required"),
        ({"tools": [TOOL], "tool_choice": "none"}, "none"),
        ({"tool_choice": "none"}, "none"),  # "none" needs no tools (protocol.py:932-934)
        ({"tools": [TOOL], "tool_choice": {"function": {"name": "get_weather"}}}, {"function": {"name": "get_weather"}}),
        ({"tools": [TOOL], "tool_choice": "auto", "response_format": SCHEMA_FORMAT}, "auto"),
    ],
)
def test_accepted_tools_with_a_tool_call_parser(fields: dict, tool_choice: object) -> None:
    assert _forwarded(**fields).get("tool_choice") == tool_choice


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], "messages: must be a non-empty list of messages (got [])"),  # ours
        ([{"role": "bot", "content": "x"}], 'messages[0].role: must be one of system, user, assistant, tool (got "bot")'),
        ([{"role": "developer", "content": "x"}],
         'messages[0].role: must be one of system, user, assistant, tool (got "developer")'),  # ours: templates
        ([{"content": "x"}], "messages[0].role: must be one of system, user, assistant, tool"),
        ([{"role": "user"}],  # ours: CustomChatCompletionMessageParam takes it (chat_utils.py:356-385)
         "messages[0].content: must be a string or a list of text parts (null only in an assistant message with tool_calls)"),
        ([{"role": "user", "content": None}], "messages[0].content: must be a string or a list of text parts (null only in "
                                              "an assistant message with tool_calls) (got null)"),
        ([{"role": "assistant", "content": None, "tool_calls": []}], "messages[0].content: must be a string or a list of "
                                                                     "text parts (null only in an assistant message with "
                                                                     "tool_calls) (got null)"),  # ours
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}],
         'messages[0].content[0].type: must be "text" (got "image_url")'),  # ours
        ([{"role": "user", "content": [{"type": "text"}]}], "messages[0].content[0].text: must be a string"),
        ([{"role": "assistant", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": {}}}]}],
         "messages[0].tool_calls[0].function.arguments: must be a string (got {})"),  # OpenAI: arguments: str
        ([{"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{}"}}]}],
         "messages[0].tool_calls[0].type: must be present"),
        ([{"role": "assistant", "tool_calls": [{"id": "1", "type": "custom", "function": {"name": "f", "arguments": ""}}]}],
         'messages[0].tool_calls[0].type: must be "function" (got "custom")'),  # chat_utils.py:2106-2113
        ([{"role": "assistant", "content": "x", "function_call": {"name": "f", "arguments": "{}"}}],
         'messages[0].function_call: must be null or absent: vLLM does not read it (got {"name": "f", "arguments": "{}"})'),
        # Ours: vLLM renames the deprecated reasoning_content to reasoning (protocol.py:554-556); send reasoning.
        ([{"role": "user", "content": "x", "reasoning_content": "y"}],
         "messages[0].reasoning_content: must be one of annotations, audio, content, function_call, name, reasoning, refusal, "
         'role, tool_call_id, tool_calls (got "reasoning_content")'),
    ],
)  # fmt: skip
def test_refused_messages(messages: list, expected: str) -> None:
    assert message({"messages": messages}) == expected
