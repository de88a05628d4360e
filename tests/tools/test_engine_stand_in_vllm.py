"""The vLLM 0.30.0 stand-in itself: what it accepts and refuses on SageMaker's /invocations, each refusal with the vLLM
rule behind it (vllm/<path>:<line> of the vLLM 0.30.0 wheel; mhcs/ is model_hosting_container_standards 0.1.16), and
the shapes of its answers."""

import json
from typing import Any

import pytest
from moto import mock_aws

from tests.tools import stand_in_helpers as s3_side
from tests.tools.engine_stand_in import Answer, count_tokens
from tests.tools.engine_stand_in_vllm import VllmStandIn, complete_from_s3
from tests.tools.stand_in_helpers import request_body, sse_events, words

MAX_MODEL_LEN = 64
PROMPT = "What colour is the sky?"  # 5 tokens for the stand-in (whitespace words)
USER = [{"role": "user", "content": PROMPT}]
CHAT_PROMPT_TOKENS = 7  # "<|im_start|>user", the 4 middle words, "sky?<|im_end|>", "<|im_start|>assistant"
ANSWER_TOKENS = 2  # "Blue." and the end-of-sequence token
COLOUR_SCHEMA = {"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}
MISLEADING = "Either prompt or prompt_embeds must be provided and non-empty. (parameter=prompt)"
NO_HANDLER = "Cannot find suitable handler for request. Expected one of: ['ChatCompletionRequest', 'CompletionRequest']"


@pytest.fixture
def vllm() -> VllmStandIn:
    return VllmStandIn(max_model_len=MAX_MODEL_LEN)


def _error(answer: Answer) -> dict[str, Any]:
    assert answer.content_type == "application/json", answer
    body = json.loads(answer.body)
    assert list(body) == ["error"] and list(body["error"]) == ["message", "type", "param", "code"], body
    assert body["error"]["code"] == answer.status
    return body["error"]


# ---- accepted --------------------------------------------------------------------------------------------------------
ACCEPTED: list[tuple[str, Any, str]] = [
    ("chat: one user message", {"messages": USER}, "chat.completion"),
    (
        "chat: a conversation, with a system message and an earlier answer",
        {"messages": [{"role": "system", "content": "Be brief."}, *USER, {"role": "assistant", "content": "Blue."}, *USER]},
        "chat.completion",
    ),
    (
        "chat: content as text parts (joined with a newline: chat_utils.py:1811-1870)",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What"}, {"type": "text", "text": "sky?"}]}]},
        "chat.completion",
    ),
    (
        "chat: any role string (vLLM's CustomChatCompletionMessageParam, chat_utils.py:356-385)",
        {"messages": [{"role": "narrator", "content": PROMPT}]},
        "chat.completion",
    ),
    (
        "chat: an assistant's function tool call, then the tool's result",
        {
            "messages": [
                *USER,
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "1", "content": "sunny"},
            ]
        },
        "chat.completion",
    ),
    (
        "chat: unknown fields ignored, removed guided_* included (engine/protocol.py:37-76)",
        {"messages": USER, "foo": 1, "guided_json": {"type": "object"}, "best_of": 3, "inputs": "x"},
        "chat.completion",
    ),
    ("chat: any model (MHCS overwrites it with null: inject_to_body.py:57-60)", {"messages": USER, "model": "gpt-4"},
     "chat.completion"),
    (
        "chat: pydantic's lax coercions: numeric strings, an integral float, a bool string",
        {"messages": USER, "temperature": "0.5", "max_tokens": 5.0, "stream": "false", "top_p": 1},
        "chat.completion",
    ),
    (
        "chat: every Optional field null",
        {"messages": USER, "temperature": None, "top_p": None, "n": None, "max_tokens": None, "stop": None, "seed": None,
         "frequency_penalty": None, "presence_penalty": None, "logprobs": None, "top_logprobs": None, "tool_choice": None},
        "chat.completion",
    ),
    ("chat: max_completion_tokens and max_tokens (the first wins)", {"messages": USER, "max_completion_tokens": 3,
                                                                     "max_tokens": 500}, "chat.completion"),
    ("chat: tools with tool_choice none (no tool parser needed)", {"messages": USER, "tools": [TOOL], "tool_choice": "none"},
     "chat.completion"),
    (
        "chat: response_format json_schema (the schema under \"schema\")",
        {"messages": USER, "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": COLOUR_SCHEMA}}},
        "chat.completion",
    ),
    ("chat: response_format json_object", {"messages": USER, "response_format": {"type": "json_object"}}, "chat.completion"),
    ("chat: structured_outputs choice", {"messages": USER, "structured_outputs": {"choice": ["Blue", "Grey"]}},
     "chat.completion"),
    ("chat: n 2 with sampling", {"messages": USER, "n": 2, "temperature": 0.7}, "chat.completion"),
    ("chat: greedy (temperature 0) with n 1", {"messages": USER, "temperature": 0}, "chat.completion"),
    ("chat: seed -1 (random: sampling_params.py:498-499)", {"messages": USER, "seed": -1}, "chat.completion"),
    ("chat: seed at the int64 maximum", {"messages": USER, "seed": 2**63 - 1}, "chat.completion"),
    ("chat: a priority (nothing in 0.30.0 refuses it)", {"messages": USER, "priority": 5}, "chat.completion"),
    ("chat: logprobs with 20 top logprobs (max_logprobs)", {"messages": USER, "logprobs": True, "top_logprobs": 20},
     "chat.completion"),
    ("chat: 4 stop strings (VLLM_MAX_STOP_STRINGS)", {"messages": USER, "stop": ["a", "b", "c", "d"]}, "chat.completion"),
    ("chat: echo", {"messages": USER, "echo": True}, "chat.completion"),
    (
        "chat: continue_final_message without the generation prompt",
        {"messages": [*USER, {"role": "assistant", "content": "It is"}], "continue_final_message": True,
         "add_generation_prompt": False},
        "chat.completion",
    ),
    ("chat: truncate_prompt_tokens keeps a long prompt in", {"messages": [{"role": "user", "content": words(100)}],
                                                             "truncate_prompt_tokens": 20}, "chat.completion"),
    ("completions: a prompt", {"prompt": PROMPT}, "text_completion"),
    ("completions: a list of prompts", {"prompt": [PROMPT, "Why?"], "max_tokens": 4}, "text_completion"),
    ("completions: token ids", {"prompt": [1, 2, 3]}, "text_completion"),
    ("completions: lists of token ids", {"prompt": [[1, 2], [3]]}, "text_completion"),
    ("completions: max_tokens null is 16 (completion/protocol.py:417-423)", {"prompt": PROMPT, "max_tokens": None},
     "text_completion"),
    ("completions: n 3", {"prompt": PROMPT, "n": 3}, "text_completion"),
    ("completions: echo with max_tokens 0", {"prompt": PROMPT, "echo": True, "max_tokens": 0}, "text_completion"),
    ("completions: logprobs 5", {"prompt": PROMPT, "logprobs": 5}, "text_completion"),
    ("completions: a TGI-style extra key beside the prompt", {"prompt": PROMPT, "parameters": {"top_n_tokens": 9}},
     "text_completion"),
    (
        "completions: beam search builds no SamplingParams, so no penalty range applies (completion/protocol.py:287-307)",
        {"prompt": PROMPT, "use_beam_search": True, "n": 2, "presence_penalty": 9},
        "text_completion",
    ),
]


@pytest.mark.parametrize(("name", "request_", "kind"), ACCEPTED, ids=[row[0] for row in ACCEPTED])
def test_accepted(vllm: VllmStandIn, name: str, request_: Any, kind: str) -> None:
    answer = vllm.respond(request_body(request_))
    assert answer.status == 200, answer.body
    assert answer.content_type == "application/json"
    assert json.loads(answer.body)["object"] == kind
    assert vllm.requests == [request_]  # as received: the model is not yet null


# ---- refused before the request models -------------------------------------------------------------------------------
BEFORE_DISPATCH: list[tuple[str, bytes, str, str]] = [
    # (rule, body, type, message)
    ("mhcs sessions/transform.py:108-115: bytes that are not JSON", b"{",
     "Bad Request", "JSON decode error: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("the same: an empty body", b"", "Bad Request", "JSON decode error: Expecting value: line 1 column 1 (char 0)"),
    ("json.loads raises UnicodeDecodeError (a ValueError: error_response.py:69-72)", b"\xff{}",
     "BadRequestError", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    ("mhcs sessions/transform.py:169-178: a session request, sessions off", request_body({"requestType": "NEW_SESSION"}),
     "Bad Request", "Invalid payload. stateful sessions not enabled"),
    ("mhcs sessions/transform.py:41: `in` on a number", b"5", "BadRequestError", "argument of type 'int' is not iterable"),
    ("the same on null", b"null", "BadRequestError", "argument of type 'NoneType' is not iterable"),
    ("mhcs transforms/utils.py:63: body['model'] on an array", b"[1]",
     "BadRequestError", "list indices must be integers or slices, not str"),
    ("the same on a string", b'"hello"', "BadRequestError", "'str' object does not support item assignment"),
]


@pytest.mark.parametrize(("rule", "body", "error_type", "message"), BEFORE_DISPATCH, ids=[r[0] for r in BEFORE_DISPATCH])
def test_refused_before_the_request_models(vllm: VllmStandIn, rule: str, body: bytes, error_type: str, message: str) -> None:
    answer = vllm.respond(body)
    assert answer.status == 400
    assert _error(answer) == {"message": message, "type": error_type, "param": None, "code": 400}
    assert vllm.requests == []


def test_content_type_must_be_exactly_application_json(vllm: VllmStandIn) -> None:
    """vllm/entrypoints/serve/utils/api_utils.py:350-356: lower-cased, cut at ";", not stripped; the error is
    FastAPI's RequestValidationError as handlers/validation.py:149-195 renders it."""
    for accepted in ("application/json", "Application/JSON", "application/json; charset=utf-8"):
        assert vllm.respond(request_body({"prompt": PROMPT}), accepted).status == 200
    message = "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed"
    for refused in (None, "", "text/plain", "application/vnd.api+json", "application/json ;charset=utf-8"):
        answer = vllm.respond(request_body({"prompt": PROMPT}), refused)
        assert _error(answer) == {"message": message, "type": "Bad Request", "param": None, "code": 400}


def test_a_body_holding_request_type_is_a_malformed_session_request(vllm: VllmStandIn) -> None:
    """mhcs sessions/transform.py:25-47: pydantic's errors (SessionRequest forbids extra keys) are the message; a JSON
    string containing the word counts too (Python's `in`)."""
    error = _error(vllm.respond(request_body({"messages": USER, "requestType": "NEW_SESSION"})))
    assert error["type"] == "Bad Request" and error["param"] is None
    assert json.loads(error["message"]) == [
        {"type": "extra_forbidden", "loc": ["messages"], "msg": "Extra inputs are not permitted", "input": USER}
    ]
    error = _error(vllm.respond(request_body("no requestType here")))
    assert json.loads(error["message"])[0]["type"] == "model_type"


# ---- refused while dispatching: a body neither model takes -----------------------------------------------------------
FALLS_THROUGH: list[tuple[str, Any]] = [
    ("an empty object", {}),
    ("TGI's generate shape", {"inputs": PROMPT, "parameters": {"max_new_tokens": 5}}),
    ("chat: seed beyond int64 (Field(ge=-2**63, le=2**63-1), chat protocol.py:231)", {"messages": USER, "seed": 2**63}),
    ("chat: 5 stop strings (VLLM_MAX_STOP_STRINGS 4, generate/base/protocol.py:28-30)",
     {"messages": USER, "stop": ["a", "b", "c", "d", "e"]}),
    ("chat: a wrong type (n is an int)", {"messages": USER, "n": "two"}),
    ("chat: a message without a role", {"messages": [{"content": PROMPT}]}),
    ("chat: a content that is a number", {"messages": [{"role": "user", "content": 5}]}),
    ("chat: response_format of an unknown type", {"messages": USER, "response_format": {"type": "regex"}}),
    ("chat: a tool name that is no string (tool_choice none skips the raw tool checks)",
     {"messages": USER, "tools": [{"function": {"name": 5}}], "tool_choice": "none"}),
    (
        "chat: an assistant tool call missing its function (checked lazily in the after-validator, protocol.py:559-575)",
        {"messages": [*USER, {"role": "assistant", "tool_calls": [{"id": "1", "type": "function"}]}]},
    ),
    ("chat: messages as a string (iterated by a before-validator, then not a list)", {"messages": "hello"}),
]


@pytest.mark.parametrize(("rule", "request_"), FALLS_THROUGH, ids=[r[0] for r in FALLS_THROUGH])
def test_a_failed_chat_falls_through_to_the_misleading_prompt_error(vllm: VllmStandIn, rule: str, request_: Any) -> None:
    """api_router.py:82-88: a ValidationError tries CompletionRequest, whose validate_prompt_and_prompt_embeds
    (completion/protocol.py:567-586) refuses any body without a prompt."""
    error = _error(vllm.respond(request_body(request_)))
    assert error == {"message": MISLEADING, "type": "BadRequestError", "param": "prompt", "code": 400}


NO_HANDLER_BODIES: list[tuple[str, Any]] = [
    ("a prompt that is a number", {"prompt": 5}),
    ("n null: CompletionRequest.n is a plain int (completion/protocol.py:62)", {"prompt": PROMPT, "n": None}),
    ("a negative token id (Field(ge=0), completion/protocol.py:51)", {"prompt": [-1, 2]}),
    ("a prompt list mixing strings and ids", {"prompt": ["a", 1]}),
    ("completions: stop with 5 strings", {"prompt": PROMPT, "stop": ["a", "b", "c", "d", "e"]}),
]


@pytest.mark.parametrize(("rule", "request_"), NO_HANDLER_BODIES, ids=[r[0] for r in NO_HANDLER_BODIES])
def test_no_suitable_handler(vllm: VllmStandIn, rule: str, request_: Any) -> None:
    """api_router.py:90-96: only a body with a non-empty prompt that still fails gets here."""
    error = _error(vllm.respond(request_body(request_)))
    assert error == {"message": NO_HANDLER, "type": "BadRequestError", "param": None, "code": 400}


# ---- refused by a before-validator (the error escapes the dispatch loop) ---------------------------------------------
C = "vllm/entrypoints/openai/chat_completion/protocol.py"
P = "vllm/entrypoints/openai/completion/protocol.py"
BEFORE_VALIDATORS: list[tuple[str, Any, int, str, str | None]] = [
    # (rule, body, status, message, param)
    (f"{C}:1021-1022 iterates messages raw: a number", {"messages": 5}, 400, "'int' object is not iterable", None),
    (f"{C}:1021-1022: null", {"messages": None}, 400, "'NoneType' object is not iterable", None),
    (f"{C}:920-925: empty tools", {"messages": USER, "tools": []}, 400,
     "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely. (parameter=tools)",
     "tools"),
    (f"{C}:920-925 runs on completions bodies too", {"prompt": PROMPT, "tools": []}, 400,
     "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely. (parameter=tools)",
     "tools"),
    (f"{C}:938-943: tool_choice without tools", {"messages": USER, "tool_choice": "auto"}, 400,
     "When using `tool_choice`, `tools` must be set. (parameter=tool_choice)", "tool_choice"),
    (f"{C}:947-955: an unknown tool_choice", {"messages": USER, "tools": [TOOL], "tool_choice": "any"}, 400,
     'Invalid value for `tool_choice`: any! Only named tools, "none", "auto" or "required" are supported. '
     "(parameter=tool_choice)", "tool_choice"),
    (f"{C}:985-994: a named tool that is not in tools",
     {"messages": USER, "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "other"}}}, 400,
     "The tool specified in `tool_choice` does not match any of the specified `tools` (parameter=tool_choice)",
     "tool_choice"),
    (f"{C}:985-987 indexes raw tools: a KeyError is a 500 (error_response.py:82-85)",
     {"messages": USER, "tools": [{}], "tool_choice": {"type": "function", "function": {"name": "f"}}}, 500, "'function'",
     None),
    (f"{C}:852-864: top_logprobs without logprobs", {"messages": USER, "top_logprobs": 2}, 400,
     "when using `top_logprobs`, `logprobs` must be set to true. (parameter=top_logprobs)", "top_logprobs"),
    (f"{C}:852-864 also on a completions body", {"prompt": PROMPT, "top_logprobs": 2}, 400,
     "when using `top_logprobs`, `logprobs` must be set to true. (parameter=top_logprobs)", "top_logprobs"),
    (f"{C}:821-825 shadows {P}:510-514 for completions bodies", {"prompt": PROMPT, "logprob_token_ids": [1]}, 400,
     "when using `logprob_token_ids`, `logprobs` must be set to true. (parameter=logprob_token_ids)", "logprob_token_ids"),
    (f"{C}:831-838: a non-numeric top_logprobs", {"messages": USER, "top_logprobs": "x"}, 400,
     "`top_logprobs` must be an integer. (parameter=top_logprobs, value=x)", "top_logprobs"),
    (f"{C}:839-844: prompt_logprobs with stream", {"messages": USER, "stream": True, "prompt_logprobs": 1}, 400,
     "`prompt_logprobs` are not available when `stream=True`. (parameter=prompt_logprobs)", "prompt_logprobs"),
    (f"{P}:541-550: a negative completions logprobs", {"prompt": PROMPT, "logprobs": -2}, 400,
     "`logprobs` must be a positive value or -1. (parameter=logprobs, value=-2)", "logprobs"),
    (f"{C}:797-808: stream_options without stream", {"messages": USER, "stream_options": {"include_usage": True}}, 400,
     "Stream options can only be defined when `stream=True`. (parameter=stream_options)", "stream_options"),
    (f"{C}:779-790: json_schema without its json_schema", {"messages": USER, "response_format": {"type": "json_schema"}},
     400, "When response_format type is 'json_schema', the 'json_schema' field must be provided. "
     "(parameter=response_format)", "response_format"),
    ("generate/base/protocol.py:179-188: a malformed structural tag",
     {"messages": USER, "response_format": {"type": "structural_tag"}}, 400,
     "Invalid response_format structural_tag specification. (parameter=response_format)", "response_format"),
    (f"{C}:893-897: two structured-output constraints (no parameter in chat)",
     {"messages": USER, "structured_outputs": {"json": {}, "regex": "a"}}, 400,
     "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice').", None),
    (f"{C}:893-897 shadows {P}:479-484 (its parameter) for completions bodies",
     {"prompt": PROMPT, "structured_outputs": {"json": {}, "regex": "a"}}, 400,
     "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice').", None),
    (f"{C}:899-907: a constraint and a named tool",
     {"messages": USER, "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
      "structured_outputs": {"regex": "a"}}, 400,
     "You can only either use constraints for structured outputs or tools, not both.", None),
    (f"{C}:883-891 calls .get on it: a string is an AttributeError, a 500", {"messages": USER, "structured_outputs": "x"},
     500, "'str' object has no attribute 'get'", None),
    (f"{C}:1002-1006: both continue_final_message and add_generation_prompt sent",
     {"messages": USER, "continue_final_message": True, "add_generation_prompt": True}, 400,
     "Cannot set both `continue_final_message` and `add_generation_prompt` to True.", None),
    ("generate/base/protocol.py:45-52: a cache_salt with a slash", {"messages": USER, "cache_salt": "a/b"}, 400,
     "Parameter 'cache_salt' must be at most 128 characters and must not contain '@', '/', '\\\\', or NUL. "
     "(parameter=cache_salt)", "cache_salt"),
    ("generate/base/protocol.py:40-44: an empty cache_salt", {"prompt": PROMPT, "cache_salt": ""}, 400,
     "Parameter 'cache_salt' must be a non-empty string if provided. (parameter=cache_salt)", "cache_salt"),
    ("sampling_params.py:51-70, a BeforeValidator: a fractional thinking_token_budget",
     {"messages": USER, "thinking_token_budget": 1.5}, 400,
     "`thinking_token_budget` must be a non-negative integer or -1 for unlimited. "
     "(parameter=thinking_token_budget, value=1.5)", "thinking_token_budget"),
    ("sampling_params.py:190-195, a dataclass __post_init__: repetition_detection without min_count",
     {"messages": USER, "repetition_detection": {"max_pattern_size": 2}}, 400,
     "min_count must be >= 2 to detect repetitive patterns in engine output. If you do not wish to detect repetitive "
     "patterns, set max_pattern_size to 0.", None),
    (f"{P}:588-608: more than 1024 prompts", {"prompt": ["a"] * 1025}, 400,
     "prompt list length 1025 exceeds the maximum allowed count of 1024. To increase this limit, set the "
     "VLLM_MAX_COMPLETION_PROMPTS environment variable. (parameter=prompt)", "prompt"),
]


@pytest.mark.parametrize(("rule", "request_", "status", "message", "param"), BEFORE_VALIDATORS,
                         ids=[r[0] for r in BEFORE_VALIDATORS])
def test_refused_by_a_before_validator(vllm: VllmStandIn, rule: str, request_: Any, status: int, message: str,
                                       param: str | None) -> None:
    error = _error(vllm.respond(request_body(request_)))
    error_type = "BadRequestError" if status == 400 else "InternalServerError"
    assert error == {"message": message, "type": error_type, "param": param, "code": status}


def test_an_empty_structured_outputs_is_refused_while_validating(vllm: VllmStandIn) -> None:
    """sampling_params.py:123-127: StructuredOutputsParams.__post_init__ runs inside pydantic; its message shows the
    dataclass's __dict__."""
    error = _error(vllm.respond(request_body({"messages": USER, "structured_outputs": {}})))
    assert error["message"].startswith("You must use one kind of structured outputs constraint but none are specified: {")
    assert "'_backend': None" in error["message"] and error["param"] is None


# ---- refused by the serving layer and SamplingParams ------------------------------------------------------------------
S = "vllm/sampling_params.py"
R = "vllm/renderers/online_renderer.py"
SERVING: list[tuple[str, Any, str, str | None]] = [
    # (rule, body, message, param)
    (f"{R}:210-216 via {C}:929-930: tools alone mean tool_choice auto", {"messages": USER, "tools": [TOOL]},
     '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set', None),
    (f"{R}:217-226: required", {"messages": USER, "tools": [TOOL], "tool_choice": "required"},
     'tool_choice="required" requires --tool-call-parser to be set', None),
    (f"{R}:217-226: a named tool",
     {"messages": USER, "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
     'tool_choice=function "get_weather" requires --tool-call-parser to be set', None),
    (f"{R}:579-595: a chat template", {"messages": USER, "chat_template": "{{ messages }}"},
     "Chat template is passed with request, but --trust-request-chat-template is not set. Refused request with "
     "untrusted chat template.", None),
    (f"{R}:579-595: a chat template in chat_template_kwargs", {"messages": USER, "chat_template_kwargs": {"chat_template": ""}},
     "Chat template is passed with request, but --trust-request-chat-template is not set. Refused request with "
     "untrusted chat template.", None),
    ("renderers/params.py:237-249: max_tokens above max_model_len", {"messages": USER, "max_tokens": 65},
     "max_tokens=65 cannot be greater than max_model_len=max_total_tokens=64. Please request fewer output tokens. "
     "(parameter=max_tokens, value=65)", "max_tokens"),
    ("the same, named after max_completion_tokens", {"messages": USER, "max_completion_tokens": 65},
     "max_completion_tokens=65 cannot be greater than max_model_len=max_total_tokens=64. Please request fewer output "
     "tokens. (parameter=max_completion_tokens, value=65)", "max_completion_tokens"),
    ("renderers/params.py:251-263: truncate_prompt_tokens above the input room",
     {"prompt": PROMPT, "max_tokens": 60, "truncate_prompt_tokens": 5},
     "truncate_prompt_tokens=5 cannot be greater than max_model_len - max_tokens = 4. Please request a smaller "
     "truncation size. (parameter=truncate_prompt_tokens, value=5)", "truncate_prompt_tokens"),
    ("transformers apply_chat_template, via renderers/hf.py:865-880: continue_final_message alone "
     "(add_generation_prompt defaults to true)", {"messages": USER, "continue_final_message": True},
     "continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you want the "
     "model to continue the final message, and add_generation_prompt when you want to add a header that will prompt it "
     "to start a new assistant message instead.", None),
    ("multimodal/registry.py:233-235: an image for a text-only model (the path sanitised)",
     {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}]},
     "<path> is not a multimodal model", None),
    ("chat_utils.py:1972-1980: an unknown part type (a custom role's parts are validated eagerly)",
     {"messages": [{"role": "narrator", "content": [{"type": "video"}]}]},
     "Unsupported chat content part type: 'video'. Supported types: audio_embeds, audio_url, image_embeds, image_pil, "
     "image_url, input_audio, input_image, input_text, output_text, prompt_embeds, refusal, text, thinking, "
     "tool_reference, video_embeds, video_url. (parameter=type, value=video)", "type"),
    ("chat_utils.py:1794-1796: a part without a type", {"messages": [{"role": "narrator", "content": [{"x": 1}]}]},
     "Missing 'type' field in multimodal part. (parameter=type)", "type"),
    ("chat_utils.py:2011 subscripts an openai-harmony Message", {"messages": [{"author": {"role": "user"}}]},
     "'Message' object is not subscriptable", None),
    ("chat_utils.py:2105-2113: an assistant's custom tool call",
     {"messages": [{"role": "assistant", "content": "x", "tool_calls": [
         {"id": "1", "type": "custom", "custom": {"name": "f", "input": "i"}}]}, *USER]},
     "chat completions only support assistant tool_calls of type 'function'. (parameter=tool_calls)", "tool_calls"),
    (f"{S}:583-588: temperature above 2", {"messages": USER, "temperature": 2.5},
     "temperature must be in [0, 2], got 2.5. (parameter=temperature, value=2.5)", "temperature"),
    (f"{S}:571-576: a temperature that is not finite", {"messages": USER, "temperature": "inf"},
     "temperature must be a finite number, got inf. (parameter=temperature, value=inf)", "temperature"),
    (f"{S}:589-594: top_p 0", {"messages": USER, "top_p": 0}, "top_p must be in (0, 1], got 0.0. (parameter=top_p, value=0.0)",
     "top_p"),
    (f"{S}:596-599: top_k below -1", {"prompt": PROMPT, "top_k": -2}, "top_k must be 0 (disable), or at least 1, got -2.",
     None),
    (f"{S}:604-605: min_p above 1", {"prompt": PROMPT, "min_p": 1.5}, "min_p must be in [0, 1], got 1.5.", None),
    (f"{S}:553-556: presence_penalty", {"messages": USER, "presence_penalty": 3}, "presence_penalty must be in [-2, 2], got 3.0.",
     None),
    (f"{S}:557-560: frequency_penalty", {"prompt": PROMPT, "frequency_penalty": -2.5},
     "frequency_penalty must be in [-2, 2], got -2.5.", None),
    (f"{S}:566-570: repetition_penalty 0", {"messages": USER, "repetition_penalty": 0},
     "repetition_penalty must be greater than zero, got 0.0.", None),
    (f"{S}:35-48: n 0", {"messages": USER, "n": 0}, "n must be at least 1, got 0.", None),
    (f"{S}:684-688: greedy with n 2", {"messages": USER, "temperature": 0, "n": 2},
     "n must be 1 when using greedy sampling, got 2.", None),
    (f"{S}:606-611: completions max_tokens 0 without echo", {"prompt": PROMPT, "max_tokens": 0},
     "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)", "max_tokens"),
    (f"{S}:616-620: min_tokens above max_tokens", {"prompt": PROMPT, "max_tokens": 2, "min_tokens": 3},
     "min_tokens must be less than or equal to max_tokens=2, got 3.", None),
    (f"{S}:650-651: an empty stop string", {"messages": USER, "stop": ""}, "stop cannot contain an empty string.", None),
    (f"{S}:658-662: an empty bad word", {"prompt": PROMPT, "bad_words": [""]},
     "bad_words cannot contain an empty string. Got bad_words=['']", None),
    (f"{S}:421-445: a logit_bias key that is no token id", {"messages": USER, "logit_bias": {"blue": 5}},
     "logit_bias contains key(s) that cannot be converted to integer token IDs: ['blue'] (parameter=logit_bias, "
     "value=['blue'])", "logit_bias"),
    (f"{S}:664-682: extra_args integers within 64 bits", {"prompt": PROMPT, "vllm_xargs": {"k": 2**64}},
     "extra_args integers must be between -2**63 and 2**64 - 1. (parameter=extra_args)", "extra_args"),
    (f"generate/base/protocol.py:147-150 then {S}:123-127: json_schema without its schema",
     {"messages": USER, "response_format": {"type": "json_schema", "json_schema": {"name": "c"}}},
     "You must use one kind of structured outputs constraint but none are specified: ", None),
    (f"{R}:550-551: suffix", {"prompt": PROMPT, "suffix": "!"}, "suffix is not currently supported", None),
    (f"{R}:553-554: echo with prompt embeds", {"prompt": PROMPT, "echo": True, "prompt_embeds": "AAAA"},
     "Echo is unsupported with prompt embeds.", None),
    ("renderers/embed_utils.py:20-28: prompt embeds", {"prompt_embeds": "AAAA"},
     "You must set `--enable-prompt-embeds` to input `prompt_embeds`. (parameter=prompt_embeds)", "prompt_embeds"),
    ("renderers/base.py:493-498: an empty prompt list is no prompt (it passes completion/protocol.py:575)",
     {"prompt": []}, "You must pass at least one prompt", None),
    ("completion/serving.py:131-135: stream with beam search", {"prompt": PROMPT, "stream": True, "use_beam_search": True},
     "Streaming is not currently supported with beam search", None),
]


@pytest.mark.parametrize(("rule", "request_", "message", "param"), SERVING, ids=[r[0] for r in SERVING])
def test_refused_by_the_serving_layer(vllm: VllmStandIn, rule: str, request_: Any, message: str, param: str | None) -> None:
    error = _error(vllm.respond(request_body(request_)))
    assert error["type"] == "BadRequestError" and error["code"] == 400 and error["param"] == param
    assert error["message"] == message or (message.endswith(": ") and error["message"].startswith(message)), error
    assert vllm.requests == []


def test_a_list_of_plain_strings_is_refused_for_a_user_message(vllm: VllmStandIn) -> None:
    """openai's user message wins the union tie and validates its content lazily (chat_utils.py:388-392): the string
    part fails pydantic when vLLM iterates it, a ValidationError (a ValueError: 400), not a fall-through."""
    error = _error(vllm.respond(request_body({"messages": [{"role": "user", "content": ["What colour is the sky?"]}]})))
    assert error["type"] == "BadRequestError" and error["param"] is None
    assert error["message"].startswith("4 validation errors for ValidatorIterator\n0.ChatCompletionContentPartTextParam\n")


# ---- refused by the engine (SamplingParams.verify, the prompt) ---------------------------------------------------------
ENGINE: list[tuple[str, Any, str, str | None]] = [
    (f"{S}:838-853: more than max_logprobs (20)", {"messages": USER, "logprobs": True, "top_logprobs": 21},
     "Requested sample logprobs of 21, which is greater than max allowed: 20 (parameter=logprobs, value=21)", "logprobs"),
    (f"{S}:838-853: -1 is the whole vocabulary", {"prompt": PROMPT, "logprobs": -1},
     "Requested sample logprobs of 152064, which is greater than max allowed: 20 (parameter=logprobs, value=152064)",
     "logprobs"),
    (f"{S}:889-898: prompt logprobs", {"prompt": PROMPT, "prompt_logprobs": 21},
     "Requested prompt logprobs of 21, which is greater than max allowed: 20 (parameter=prompt_logprobs, value=21)",
     "prompt_logprobs"),
    (f"{S}:925-943: a logit_bias token out of the vocabulary", {"messages": USER, "logit_bias": {"200000": 1}},
     "token_id(s) [200000] in logit_bias contain out-of-vocab token ids. Vocabulary size: 152064 (parameter=logit_bias, "
     "value=[200000])", "logit_bias"),
    (f"{S}:900-924: a stop token out of the vocabulary", {"prompt": PROMPT, "stop_token_ids": [-1]},
     "token_id(s) [-1] in stop_token_ids contain out-of-vocab token ids. Vocabulary size: 152064 "
     "(parameter=stop_token_ids, value=[-1])", "stop_token_ids"),
    (f"{S}:1012-1017: empty allowed_token_ids", {"prompt": PROMPT, "allowed_token_ids": []},
     "allowed_token_ids is not None and empty! (parameter=allowed_token_ids, value=[])", "allowed_token_ids"),
    (f"{S}:1121-1127: an empty choice", {"messages": USER, "structured_outputs": {"choice": []}},
     "Choice '[]' cannot be an empty list", None),
    (f"{S}:1137-1143: an empty JSON schema string", {"messages": USER, "structured_outputs": {"json": " "}},
     "structured_outputs.json cannot be an empty string", None),
    (f"{S}:1144-1149: json_object false", {"prompt": PROMPT, "structured_outputs": {"json_object": False}},
     "structured_outputs.json_object must be True if set; omit structured_outputs to disable structured outputs", None),
    ("v1/engine/input_processor.py:115-122: a thinking budget without a reasoning parser",
     {"messages": USER, "thinking_token_budget": 10},
     "thinking_token_budget is set but reasoning_config is not configured. Please set --reasoning-parser and/or "
     "--reasoning-config to use thinking_token_budget.", None),
    ("v1/engine/input_processor.py:448-449: an empty prompt", {"prompt": [""]}, "The decoder prompt cannot be empty", None),
    ("v1/engine/input_processor.py:537-549: a token id out of the vocabulary", {"prompt": [1, 152064]},
     "Token id 152064 is out of vocabulary", None),
    ("generate/beam_search/online.py:60-65: each beam step's SamplingParams checks the temperature",
     {"messages": USER, "use_beam_search": True, "temperature": 2.5},
     "temperature must be in [0, 2], got 2.5. (parameter=temperature, value=2.5)", "temperature"),
    ("generate/beam_search/online.py:60-65: and asks for 2 * width logprobs",
     {"messages": USER, "use_beam_search": True, "n": 11},
     "Requested sample logprobs of 22, which is greater than max allowed: 20 (parameter=logprobs, value=22)", "logprobs"),
    ("sampling_params.py:734-741: a bad word of no token", {"prompt": PROMPT, "bad_words": ["   "]},
     "bad_words entries must tokenize to at least one token. (parameter=bad_words, value=['   '])", "bad_words"),
]


@pytest.mark.parametrize(("rule", "request_", "message", "param"), ENGINE, ids=[r[0] for r in ENGINE])
def test_refused_by_the_engine(vllm: VllmStandIn, rule: str, request_: Any, message: str, param: str | None) -> None:
    """A 400 when not streamed; with "stream": true the same refusal is an event after the 200 has started
    (AsyncLLM.generate is iterated inside the stream generator)."""
    error = _error(vllm.respond(request_body(request_)))
    assert error == {"message": message, "type": "BadRequestError", "param": param, "code": 400}
    if "prompt_logprobs" in request_:  # with stream a before-validator refuses it first (chat protocol.py:839-844)
        return
    streamed = vllm.respond(request_body({**request_, "stream": True}))
    assert (streamed.status, streamed.content_type, streamed.refused) == (200, "text/event-stream; charset=utf-8", True)
    assert sse_events(streamed.body) == [{"error": error}, "[DONE]"]
    assert vllm.requests == []


# ---- the context length (renderers/params.py, serve/utils/api_utils.py) -----------------------------------------------
def test_max_tokens_over_the_remaining_context_is_the_context_length_error(vllm: VllmStandIn) -> None:
    """The prompt may have max_model_len - max_tokens tokens (params.py:216-222); the tokenizer cuts a text at one more
    (params.py:327-352), so the error says "at least" (params.py:494-519)."""
    room = MAX_MODEL_LEN - CHAT_PROMPT_TOKENS
    assert vllm.respond(request_body({"messages": USER, "max_tokens": room})).status == 200
    error = _error(vllm.respond(request_body({"messages": USER, "max_tokens": room + 1})))
    assert error == {
        "message": f"This model's maximum context length is 64 tokens. However, you requested {room + 1} output tokens "
        f"and your prompt contains at least {CHAT_PROMPT_TOKENS} input tokens, for a total of at least "
        f"{CHAT_PROMPT_TOKENS + room + 1} tokens. Please reduce the length of the input prompt or the number of requested "
        f"output tokens. (parameter=input_tokens, value={CHAT_PROMPT_TOKENS})",
        "type": "BadRequestError",
        "param": "input_tokens",
        "code": 400,
    }


def test_token_ids_are_counted_exactly() -> None:
    """No tokenizer cuts token ids, so the count is exact; but params.py:505 says "at least" whenever the count is
    one over the room, ids or not."""
    vllm = VllmStandIn(max_model_len=20)
    error = _error(vllm.respond(request_body({"prompt": list(range(1, 7)), "max_tokens": 16})))  # room for 4
    assert error["message"].startswith("This model's maximum context length is 20 tokens. However, you requested 16 "
                                       "output tokens and your prompt contains 6 input tokens, for a total of 22 tokens.")
    error = _error(vllm.respond(request_body({"prompt": list(range(1, 6)), "max_tokens": 16})))
    assert "your prompt contains at least 5 input tokens, for a total of at least 21 tokens." in error["message"]


def test_a_chat_without_max_tokens_gets_the_rest_of_the_context() -> None:
    """get_max_tokens (api_utils.py:169-205): max_model_len - prompt; a prompt that fills the context leaves 0, which
    SamplingParams refuses (sampling_params.py:606-611) before the engine's own length check."""
    vllm = VllmStandIn(max_model_len=CHAT_PROMPT_TOKENS + 1)
    assert vllm.respond(request_body({"messages": USER})).status == 200
    assert vllm.sampling[-1]["max_tokens"] == 1
    full = VllmStandIn(max_model_len=CHAT_PROMPT_TOKENS)
    assert _error(full.respond(request_body({"messages": USER})))["message"] == (
        "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)"
    )


def test_truncate_prompt_tokens_cuts_the_prompt(vllm: VllmStandIn) -> None:
    answer = json.loads(vllm.respond(request_body({"prompt": words(100), "truncate_prompt_tokens": 10})).body)
    assert answer["usage"]["prompt_tokens"] == 10
    answer = json.loads(vllm.respond(request_body({"prompt": words(100), "truncate_prompt_tokens": -1})).body)
    assert answer["usage"]["prompt_tokens"] == MAX_MODEL_LEN - 16  # -1: all the room max_tokens leaves


# ---- answers -------------------------------------------------------------------------------------------------------------
CHAT_KEYS = ["id", "object", "created", "model", "choices", "service_tier", "system_fingerprint", "usage",
             "prompt_logprobs", "prompt_token_ids", "prompt_text", "kv_transfer_params", "ec_transfer_params", "metrics"]
USAGE_KEYS = ["prompt_tokens", "total_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"]


def test_chat_answer_shape(vllm: VllmStandIn) -> None:
    """ChatCompletionResponse (chat_completion/protocol.py:127-149) as JSONResponse(model_dump()) writes it."""
    answer = json.loads(vllm.respond(request_body({"messages": USER})).body)
    assert list(answer) == CHAT_KEYS
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    assert answer["model"] == "/opt/ml/model" and answer["system_fingerprint"].startswith("vllm-0.30.0-")
    assert answer["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Blue.", "refusal": None, "annotations": None, "audio": None,
                        "function_call": None, "reasoning": None},
            "logprobs": None,
            "finish_reason": "stop",
            "stop_reason": None,
            "token_ids": None,
            "routed_experts": None,
        }
    ]
    assert list(answer["usage"]) == USAGE_KEYS
    assert answer["usage"]["prompt_tokens"] == CHAT_PROMPT_TOKENS
    assert answer["usage"]["completion_tokens"] == ANSWER_TOKENS
    assert answer["usage"]["total_tokens"] == CHAT_PROMPT_TOKENS + ANSWER_TOKENS


def test_completion_answer_shape(vllm: VllmStandIn) -> None:
    """CompletionResponse (completion/protocol.py:623-675)."""
    answer = json.loads(vllm.respond(request_body({"prompt": PROMPT, "max_tokens": 8})).body)
    assert list(answer) == ["id", "object", "created", "model", "choices", "service_tier", "system_fingerprint", "usage",
                            "kv_transfer_params", "ec_transfer_params", "metrics"]
    assert answer["object"] == "text_completion" and answer["id"].startswith("cmpl-")
    assert answer["choices"] == [
        {"index": 0, "text": "Blue.", "logprobs": None, "finish_reason": "stop", "stop_reason": None, "token_ids": None,
         "prompt_logprobs": None, "prompt_token_ids": None, "routed_experts": None}
    ]
    assert answer["usage"]["prompt_tokens"] == count_tokens(PROMPT) == 5
    assert answer["usage"]["completion_tokens"] == ANSWER_TOKENS


def test_echo_starts_with_the_prompt(vllm: VllmStandIn) -> None:
    """completion/serving.py:533-554: the prompt, then the answer; with max_tokens 0 only the prompt, though the engine
    generated one token (completion/protocol.py:363,387)."""
    text = json.loads(vllm.respond(request_body({"prompt": PROMPT, "echo": True})).body)["choices"][0]["text"]
    assert text == PROMPT + "Blue."
    only = json.loads(vllm.respond(request_body({"prompt": PROMPT, "echo": True, "max_tokens": 0})).body)
    assert only["choices"][0]["text"] == PROMPT and only["choices"][0]["finish_reason"] == "length"
    assert only["usage"]["completion_tokens"] == 1
    # chat (serving.py:1104-1115): the last message's content when it has the answer's role
    chat = {"messages": [*USER, {"role": "assistant", "content": "It is"}], "echo": True, "add_generation_prompt": False}
    assert json.loads(vllm.respond(request_body(chat)).body)["choices"][0]["message"]["content"] == "It isBlue."
    assert (
        json.loads(vllm.respond(request_body({"messages": USER, "echo": True})).body)["choices"][0]["message"]["content"]
        == "Blue."
    )


def test_finish_reasons_and_stop_strings() -> None:
    vllm = VllmStandIn(max_model_len=MAX_MODEL_LEN, answer="The sky is blue today.")

    def choice(request: dict[str, Any]) -> dict[str, Any]:
        return json.loads(vllm.respond(request_body({"prompt": PROMPT, **request})).body)["choices"][0]

    assert (choice({"max_tokens": 2})["text"], choice({"max_tokens": 2})["finish_reason"]) == ("The sky", "length")
    assert choice({"max_tokens": 5})["finish_reason"] == "length"  # the 5th token would have been EOS
    assert choice({"max_tokens": 6})["finish_reason"] == "stop"
    stopped = choice({"stop": ["blue"]})
    assert (stopped["text"], stopped["finish_reason"], stopped["stop_reason"]) == ("The sky is ", "stop", "blue")
    assert choice({"stop": "blue", "include_stop_str_in_output": True})["text"] == "The sky is blue"
    assert choice({"ignore_eos": True, "max_tokens": 7})["text"] == "The sky is blue today. The sky"


def test_n_choices_and_prompts(vllm: VllmStandIn) -> None:
    chat = json.loads(vllm.respond(request_body({"messages": USER, "n": 2})).body)
    assert [c["index"] for c in chat["choices"]] == [0, 1]
    assert chat["usage"]["completion_tokens"] == 2 * ANSWER_TOKENS
    completion = json.loads(vllm.respond(request_body({"prompt": [PROMPT, "Why?"], "n": 2})).body)
    assert [c["index"] for c in completion["choices"]] == [0, 1, 2, 3]
    assert completion["usage"]["prompt_tokens"] == 5 + 1


def test_json_schema_answers_a_document_of_the_required_properties(vllm: VllmStandIn) -> None:
    schema = {**COLOUR_SCHEMA, "properties": {**COLOUR_SCHEMA["properties"], "shade": {"type": "integer"}}}
    request = {"messages": USER, "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}}
    content = json.loads(vllm.respond(request_body(request)).body)["choices"][0]["message"]["content"]
    assert json.loads(content) == {"colour": "Blue."}
    request = {"prompt": PROMPT, "structured_outputs": {"json": json.dumps(COLOUR_SCHEMA)}}
    assert json.loads(json.loads(vllm.respond(request_body(request)).body)["choices"][0]["text"]) == {"colour": "Blue."}
    request = {"messages": USER, "structured_outputs": {"choice": ["Grey", "Blue"]}}
    assert json.loads(vllm.respond(request_body(request)).body)["choices"][0]["message"]["content"] == "Grey"


def test_logprobs_shapes(vllm: VllmStandIn) -> None:
    chat = json.loads(vllm.respond(request_body({"messages": USER, "logprobs": True, "top_logprobs": 2})).body)
    content = chat["choices"][0]["logprobs"]["content"]
    assert [c["token"] for c in content] == ["Blue.", "<|im_end|>"]
    assert list(content[0]) == ["token", "logprob", "bytes", "top_logprobs"] and len(content[0]["top_logprobs"]) == 2
    completion = json.loads(vllm.respond(request_body({"prompt": PROMPT, "logprobs": 1})).body)
    assert list(completion["choices"][0]["logprobs"]) == ["text_offset", "token_logprobs", "tokens", "top_logprobs"]


def test_stream_answers(vllm: VllmStandIn) -> None:
    answer = vllm.respond(request_body({"messages": USER, "stream": True, "stream_options": {"include_usage": True}}))
    assert (answer.status, answer.content_type, answer.refused) == (200, "text/event-stream; charset=utf-8", False)
    events = sse_events(answer.body)
    assert events[0]["object"] == "chat.completion.chunk"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(e["choices"][0]["delta"]["content"] for e in events[1:-2]) == "Blue."
    assert events[-3]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["choices"] == [] and events[-2]["usage"]["completion_tokens"] == ANSWER_TOKENS
    assert events[-1] == "[DONE]"
    completion = sse_events(vllm.respond(request_body({"prompt": PROMPT, "stream": True})).body)
    assert [e["choices"][0]["text"] for e in completion[:-1]] == ["Blue.", ""] and completion[-1] == "[DONE]"


def test_requests_are_recorded_as_received_and_only_when_accepted(vllm: VllmStandIn) -> None:
    vllm.respond(request_body({"messages": USER, "temperature": 5}))
    vllm.respond(request_body({"messages": USER, "model": "m"}))
    assert vllm.requests == [{"messages": USER, "model": "m"}]
    assert vllm.invoke(request_body({"prompt": PROMPT}))[0] == 200 and len(vllm.requests) == 2


def test_generation_config_fills_what_a_request_omits() -> None:
    """--generation-config vllm: neutral defaults; auto: the model's (vllm/config/model.py:1728-1781)."""
    neutral, model = VllmStandIn(max_model_len=64), VllmStandIn(max_model_len=64, generation_config="auto")
    for stand_in in (neutral, model):
        stand_in.respond(request_body({"messages": USER, "top_p": 0.9}))
    assert {k: neutral.sampling[0][k] for k in ("temperature", "top_p", "top_k", "repetition_penalty")} == {
        "temperature": 1.0, "top_p": 0.9, "top_k": 0, "repetition_penalty": 1.0}
    assert {k: model.sampling[0][k] for k in ("temperature", "top_p", "top_k", "repetition_penalty")} == {
        "temperature": 0.7, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.05}
    with pytest.raises(ValueError, match="generation_config"):
        VllmStandIn(max_model_len=64, generation_config="/opt/ml/model")


def test_the_served_model_name_is_the_answers_model() -> None:
    vllm = VllmStandIn(max_model_len=64, served_model_name="qwen")
    answer = json.loads(vllm.respond(request_body({"messages": USER, "model": "other"})).body)
    assert answer["model"] == "qwen"


def test_the_stand_in_reads_nothing_of_the_lambda() -> None:
    from tests.tools import engine_stand_in_vllm

    source = open(engine_stand_in_vllm.__file__, encoding="utf-8").read()
    assert "inference_api" not in source and "llm_async" not in source


# ---- SageMaker's side -------------------------------------------------------------------------------------------------
@mock_aws
def test_complete_from_s3_writes_the_answer_or_the_error() -> None:
    s3, vllm = s3_side.payloads_bucket(), VllmStandIn(max_model_len=MAX_MODEL_LEN)
    s3_side.complete_through_s3(s3, complete_from_s3, vllm, {"prompt": PROMPT})
    output = s3_side.written_output(s3)
    assert json.loads(output["Body"].read())["choices"][0]["text"] == "Blue."
    assert output["ContentType"] == "application/json"
    assert vllm.requests == [{"prompt": PROMPT}]

    s3_side.complete_through_s3(s3, complete_from_s3, vllm, {"inputs": PROMPT, "parameters": {}})
    failure = s3_side.written_failure(s3)
    assert failure == {"error": {"message": MISLEADING, "type": "BadRequestError", "param": "prompt", "code": 400}}
    assert s3.list_objects_v2(Bucket="payloads", Prefix="output/").get("KeyCount") == 0
