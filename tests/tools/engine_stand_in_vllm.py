"""An offline stand-in for the SageMaker `/invocations` route of vLLM 0.30.0 (the AWS vLLM DLC 0.30.0), for end-to-end
tests.

It accepts the bodies vLLM 0.30.0 accepts on `/invocations`, refuses the others with vLLM's status and error shape, and
answers in vLLM's shapes. Its rules are encoded here from vLLM's own sources, independently of the API's validation
(nothing of the Lambda is imported or read). It has the interface of the TGI stand-in (tests/tools/engine_stand_in.py):
`respond`, `invoke`, `requests`, and that module's `complete_from_s3` and `Answer`.

Sources, read from the unpacked wheels (no code copied; the rules are re-encoded):
  vllm-0.30.0-cp38-abi3-manylinux_2_28_x86_64.whl. Every `vllm/<path>:<line>` below is a line of vLLM 0.30.0.
  model_hosting_container_standards-0.1.16 (MHCS), the `sagemaker_standards` decorators of the route; cited as
    `mhcs/<path>:<line>` (in-package paths of model_hosting_container_standards 0.1.16).
  openai-python (the TypedDicts vLLM's chat messages are validated with; src/openai/types/chat/*_param.py) and
    openai-harmony's Message (python/openai_harmony/__init__.py), for the message union.
The request models are re-declared with pydantic (the library vLLM validates with; pydantic 2.14 is pinned here and
vLLM 0.30.0 requires >=2.12), field by field, so pydantic's own lax coercions ("0.5" is a float, 5.0 an int, "true" a
bool), smart unions and lazily validated `Iterable` fields behave as in vLLM.

How a body is judged, in vLLM's order (vllm/entrypoints/serve/sagemaker/api_router.py:54-96):
 1. FastAPI dependency validate_json_request: the media type (lower-cased, before any ";", not stripped) must be exactly
    application/json, else 400 (vllm/entrypoints/serve/utils/api_utils.py:350-356).
 2. MHCS stateful_session_manager (runs first of the decorators): json.loads of the bytes (a JSONDecodeError is 400
    "JSON decode error: ..."); a body that is exactly {"requestType": "NEW_SESSION"|"CLOSE"} is a session request
    (sessions are off: 400); any other body holding a "requestType" is 400 with pydantic's errors as the message
    (mhcs/sagemaker/sessions/transform.py:25-47,108-115,169-200; mhcs/sagemaker/sessions/models.py:17-43). The test
    is Python's `in`: a JSON string containing "requestType" counts, and a number or null raises TypeError (400).
 3. MHCS inject_adapter_id(adapter_path="model"): body["model"] = the X-Amzn-SageMaker-Adapter-Identifier header,
    which InvokeEndpointAsync cannot send, so always null (mhcs/sagemaker/lora/transforms/inject_to_body.py:57-60,
    mhcs/common/transforms/utils.py:61-64). A JSON array body raises TypeError there (400).
 4. The candidates in order, ChatCompletionRequest then CompletionRequest (vllm/entrypoints/generate/factories.py:
    37-40): the first whose pydantic validation passes serves the body; a pydantic ValidationError tries the next.
    The models' mode="before" validators run before the fields, last defined first, on the raw dict, also for bodies
    that end up as completions; an error they raise that is not a ValueError (vLLM's VLLMValidationError, TypeError,
    KeyError, AttributeError) escapes the loop and is the answer. So a chat body whose fields fail pydantic falls
    through to CompletionRequest, whose validator refuses it with the misleading "Either prompt or prompt_embeds must
    be provided and non-empty." (param "prompt"); only a completions body with a non-empty prompt whose fields fail
    gets "Cannot find suitable handler for request. Expected one of: [...]" (a body that is no JSON object never
    gets this far: MHCS refuses it in 2 or 3).
 5. The serving layer (render, token budget, SamplingParams) and then the engine's input processor. A refusal from the
    engine with "stream": true comes after the 200 has started: it is an event of the stream.
Every refusal is {"error": {"message", "type", "param", "code"}} (vllm/entrypoints/serve/engine/protocol.py:79-87),
its message sanitised of paths (vllm/entrypoints/serve/exception_handling/utils.py:7-15). Statuses and types follow
vllm/entrypoints/serve/exception_handling/error_response.py:14-96 (VLLMValidationError, ValueError, TypeError,
OverflowError: 400 "BadRequestError"; NotImplementedError 501; anything else 500 "InternalServerError") and
exception_handling/handlers/http.py:16-31 and handlers/validation.py:149-195 (an HTTPException or a
RequestValidationError: the status phrase "Bad Request" as the type).

The stand-in's model: a text-only decoder (Qwen2.5-7B-Instruct in the preset) with no tool parser, no reasoning parser,
no LoRA, no prompt embeddings, max_logprobs 20, the default structured-output backend "auto", one GPU.
Token counting (it has no tokenizer): a text's tokens are its whitespace-separated words (count_tokens of the TGI
stand-in); the chat template is ChatML, "<|im_start|>{role}\\n{content}<|im_end|>\\n" per message and
"<|im_start|>assistant\\n" as the generation prompt, as in the TGI stand-in, so both count the same conversation the
same. The answer's tokens are its words, then the end-of-sequence token (counted, not in the text).

Not modelled: the model's Jinja chat template and its refusals (only transformers' refusal of continue_final_message
with add_generation_prompt is); xgrammar/guidance compilation of a schema, regex or grammar (their refusals; a regex,
grammar or structural tag is not enforced on the answer); the character pre-check of TokenizeParams
(tokenizer.max_chars_per_token); images, audio and video are refused as a text-only model refuses them (the finer
per-part errors are not); prompt embeddings beyond their refusal; kv_transfer_params (disaggregated serving); the
space-prefixed second tokenization of bad words; a beam search's answer is the sampled one (its checks are modelled);
a stream is approximated (one chunk per answer word); logprob values are invented (-0.25).
"""

import copy
import dataclasses
import hashlib
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import field as dataclass_field
from enum import Enum
from http import HTTPStatus
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass
from typing_extensions import Required, TypedDict

from tests.tools.engine_stand_in import Answer, complete_from_s3, count_tokens
from tests.tools.engine_stand_in import _instance as schema_instance

VLLM_VERSION = "0.30.0"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# vllm/envs.py:110-113, defaults (the DLC sets none of them).
MAX_N_SEQUENCES = 16384
MAX_COMPLETION_PROMPTS = 1024
MAX_STOP_STRINGS = 4
MAX_NUM_BAD_WORDS = 128
MAX_LOGPROBS = 20  # vllm/config/model.py:254, --max-logprobs default
MAX_LOGPROB_TOKEN_IDS = 128  # vllm/sampling_params.py:30
SAMPLING_EPS, MIN_TEMPERATURE = 1e-5, 1e-2  # vllm/sampling_params.py:27-28
# The model's vocabulary (an assumption for the stand-in: Qwen2.5-7B-Instruct's config vocab_size 152064 and its
# tokenizer's 151665 tokens; neither file was read here). Token ids are checked against them.
VOCAB_SIZE = 152064
TOKENIZER_MAX_TOKEN_ID = 151664
EOS_TOKEN = "<|im_end|>"
# --generation-config auto: the model's generation_config.json fills what a request omits (vllm/config/model.py:
# 1728-1781). These are the defaults Qwen publishes for Qwen2.5-7B-Instruct (docs/design/vllm-engine.md section 5).
QWEN25_GENERATION_CONFIG = {"repetition_penalty": 1.05, "temperature": 0.7, "top_k": 20, "top_p": 0.8}
# ChatCompletionRequest/CompletionRequest._DEFAULT_SAMPLING_PARAMS (vllm/entrypoints/openai/chat_completion/
# protocol.py:638-644, completion/protocol.py:279-285).
NEUTRAL_SAMPLING = {"repetition_penalty": 1.0, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0}
NO_HANDLER = "Cannot find suitable handler for request. Expected one of: ['ChatCompletionRequest', 'CompletionRequest']"


# --------------------------------------------------------------------------------------------------------------------
# Errors: vLLM's exception, and how each kind becomes a response.
# --------------------------------------------------------------------------------------------------------------------
class VLLMValidationError(Exception):
    """vllm/exceptions.py:28-55: not a ValueError (so pydantic does not wrap it); str() appends the parameter."""

    def __init__(self, message: str, *, parameter: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value

    def __str__(self) -> str:
        extras = [f"{k}={v}" for k, v in (("parameter", self.parameter), ("value", self.value)) if v is not None]
        return f"{super().__str__()} ({', '.join(extras)})" if extras else super().__str__()


class _HTTPError(Exception):
    """A starlette HTTPException (or FastAPI RequestValidationError): its status phrase is the error type."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class _Refusal(Exception):
    """An ErrorResponse a handler returns (create_error_response with a message: 400 BadRequestError by default)."""

    def __init__(self, message: str, err_type: str = "BadRequestError", status: int = 400, param: str | None = None):
        super().__init__(message)
        self.err_type, self.status, self.param = err_type, status, param


class _Raised(Exception):
    """A raw exception vLLM's own code raises (TypeError, ValueError, KeyError...), mapped by its class."""


def sanitize_message(message: str) -> str:
    """vllm/entrypoints/serve/exception_handling/utils.py:7-15: addresses, tracebacks and paths are removed."""
    message = re.sub(r" at 0x[0-9a-f]+>", ">", message)
    message = re.sub(r'\n?\s*File "[^"]+", line \d+, in \S+(\n\s+.*)?', "", message)
    message = re.sub(r"/(?:home|usr|opt|var|tmp|root|lib|mnt|srv)(?:/[\w.\-]+)+", "<path>", message)
    message = re.sub(r"(?:/[\w\-]+)+/[\w\-]+\.\w+", "<path>", message)
    return message.strip()


def _json(value: Any) -> bytes:
    # starlette JSONResponse.render: ensure_ascii=False, allow_nan=False, compact separators.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _error_body(status: int, err_type: str, message: str, param: str | None) -> dict[str, Any]:
    return {"error": {"message": sanitize_message(message), "type": err_type, "param": param, "code": status}}


def _error_of(exc: BaseException) -> tuple[int, str, str, str | None]:
    """(status, type, message, param) as vLLM's handlers make them."""
    if isinstance(exc, _Raised):
        exc = exc.__cause__ or exc
    if isinstance(exc, _HTTPError):
        return exc.status, HTTPStatus(exc.status).phrase, str(exc), None
    if isinstance(exc, _Refusal):
        return exc.status, exc.err_type, str(exc), exc.param
    if isinstance(exc, VLLMValidationError):
        return 400, "BadRequestError", str(exc), exc.parameter
    if isinstance(exc, ValueError | TypeError | OverflowError):  # error_response.py:69-72, pydantic's included
        return 400, "BadRequestError", str(exc), None
    if isinstance(exc, NotImplementedError):
        return 501, "NotImplementedError", str(exc), None
    return 500, "InternalServerError", str(exc), None


def _error_answer(exc: BaseException) -> Answer:
    status, err_type, message, param = _error_of(exc)
    return Answer(status, "application/json", _json(_error_body(status, err_type, message, param)))


# --------------------------------------------------------------------------------------------------------------------
# The message union: openai's TypedDicts | vLLM's CustomChatCompletionMessageParam | openai-harmony's Message
# (vllm/entrypoints/chat_utils.py:135-390). Class names are the originals: pydantic puts them in its error locations.
# --------------------------------------------------------------------------------------------------------------------
class ChatCompletionContentPartTextParam(TypedDict, total=False):
    text: Required[str]
    type: Required[Literal["text"]]


class ImageURL(TypedDict, total=False):
    url: Required[str]
    detail: Literal["auto", "low", "high"]


class ChatCompletionContentPartImageParam(TypedDict, total=False):
    image_url: Required[ImageURL]
    type: Required[Literal["image_url"]]


class InputAudio(TypedDict, total=False):
    data: Required[str]
    format: Required[Literal["wav", "mp3"]]


class ChatCompletionContentPartInputAudioParam(TypedDict, total=False):
    input_audio: Required[InputAudio]
    type: Required[Literal["input_audio"]]


class FileFile(TypedDict, total=False):
    file_data: str
    file_id: str
    filename: str


class File(TypedDict, total=False):
    file: Required[FileFile]
    type: Required[Literal["file"]]


class ChatCompletionContentPartRefusalParam(TypedDict, total=False):
    refusal: Required[str]
    type: Required[Literal["refusal"]]


class AudioURL(TypedDict, total=False):
    url: Required[str]


class ChatCompletionContentPartAudioParam(TypedDict, total=False):
    audio_url: Required[AudioURL]
    type: Required[Literal["audio_url"]]


class VideoURL(TypedDict, total=False):
    url: Required[str]


class ChatCompletionContentPartVideoParam(TypedDict, total=False):
    video_url: Required[VideoURL]
    type: Required[Literal["video_url"]]


class _NeverFromJson:
    """PIL.Image.Image: no JSON value is one."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)


class PILImage(BaseModel):
    image_pil: _NeverFromJson


class CustomChatCompletionContentPILImageParam(TypedDict, total=False):
    image_pil: PILImage | None
    uuid: str | None


class CustomChatCompletionContentSimpleImageParam(TypedDict, total=False):
    image_url: str | None
    uuid: str | None


MultiModalEmbedsPayload = str | dict[str, str | list[int | float]]


class ChatCompletionContentPartImageEmbedsParam(TypedDict, total=False):
    image_embeds: MultiModalEmbedsPayload | None
    type: Required[Literal["image_embeds"]]
    uuid: str | None


class ChatCompletionContentPartAudioEmbedsParam(TypedDict, total=False):
    audio_embeds: MultiModalEmbedsPayload | None
    type: Required[Literal["audio_embeds"]]
    uuid: str | None


class ChatCompletionContentPartVideoEmbedsParam(TypedDict, total=False):
    video_embeds: MultiModalEmbedsPayload | None
    type: Required[Literal["video_embeds"]]
    uuid: str | None


class ChatCompletionContentPartPromptEmbedsParam(TypedDict, total=False):
    data: Required[str]
    type: Required[Literal["prompt_embeds"]]


class CustomChatCompletionContentSimpleAudioParam(TypedDict, total=False):
    audio_url: str | None


class CustomChatCompletionContentSimpleVideoParam(TypedDict, total=False):
    video_url: str | None
    uuid: str | None


class CustomChatCompletionContentToolReferenceParam(TypedDict, total=False):
    name: str
    type: Literal["tool_reference"]


class CustomThinkCompletionContentParam(TypedDict, total=False):
    thinking: Required[str]
    closed: bool
    type: Required[Literal["thinking"]]


OpenAIChatCompletionContentPartParam = (
    ChatCompletionContentPartTextParam | ChatCompletionContentPartImageParam | ChatCompletionContentPartInputAudioParam | File
)
# vllm/entrypoints/chat_utils.py:336-353, in its order.
ChatCompletionContentPartParam = (
    OpenAIChatCompletionContentPartParam
    | ChatCompletionContentPartAudioParam
    | ChatCompletionContentPartInputAudioParam
    | ChatCompletionContentPartVideoParam
    | ChatCompletionContentPartRefusalParam
    | CustomChatCompletionContentPILImageParam
    | CustomChatCompletionContentSimpleImageParam
    | ChatCompletionContentPartImageEmbedsParam
    | ChatCompletionContentPartAudioEmbedsParam
    | ChatCompletionContentPartVideoEmbedsParam
    | ChatCompletionContentPartPromptEmbedsParam
    | CustomChatCompletionContentSimpleAudioParam
    | CustomChatCompletionContentSimpleVideoParam
    | CustomChatCompletionContentToolReferenceParam
    | str
    | CustomThinkCompletionContentParam
)


class Function(TypedDict, total=False):
    arguments: Required[str]
    name: Required[str]


class Custom(TypedDict, total=False):
    input: Required[str]
    name: Required[str]


def _tool_call_param(name: str, kind: str, call: type) -> Any:
    """openai's tool call params, ChatCompletionMessage{Function,Custom}ToolCallParam: an id, the call under the key its
    type names, and that type."""
    return TypedDict(name, {"id": Required[str], kind: Required[call], "type": Required[Literal[kind]]}, total=False)


ChatCompletionMessageFunctionToolCallParam = _tool_call_param("ChatCompletionMessageFunctionToolCallParam", "function", Function)
ChatCompletionMessageCustomToolCallParam = _tool_call_param("ChatCompletionMessageCustomToolCallParam", "custom", Custom)


class FunctionDefinition(TypedDict, total=False):  # openai shared_params
    name: Required[str]
    description: str
    parameters: dict[str, object]
    strict: bool | None


class ChatCompletionFunctionToolParam(TypedDict, total=False):
    function: Required[FunctionDefinition]
    type: Required[Literal["function"]]


class ChatCompletionDeveloperMessageParam(TypedDict, total=False):
    content: Required[str | Iterable[ChatCompletionContentPartTextParam]]
    role: Required[Literal["developer"]]
    name: str


class ChatCompletionSystemMessageParam(TypedDict, total=False):
    content: Required[str | Iterable[ChatCompletionContentPartTextParam]]
    role: Required[Literal["system"]]
    name: str


class ChatCompletionUserMessageParam(TypedDict, total=False):
    content: Required[str | Iterable[OpenAIChatCompletionContentPartParam]]
    role: Required[Literal["user"]]
    name: str


class Audio(TypedDict, total=False):
    id: Required[str]


class FunctionCall(TypedDict, total=False):
    arguments: Required[str]
    name: Required[str]


class ChatCompletionAssistantMessageParam(TypedDict, total=False):
    role: Required[Literal["assistant"]]
    audio: Audio | None
    content: str | Iterable[ChatCompletionContentPartTextParam | ChatCompletionContentPartRefusalParam] | None
    function_call: FunctionCall | None
    name: str
    refusal: str | None
    tool_calls: Iterable[ChatCompletionMessageFunctionToolCallParam | ChatCompletionMessageCustomToolCallParam]


class ChatCompletionToolMessageParam(TypedDict, total=False):
    content: Required[str | Iterable[ChatCompletionContentPartTextParam]]
    role: Required[Literal["tool"]]
    tool_call_id: Required[str]


class ChatCompletionFunctionMessageParam(TypedDict, total=False):
    content: Required[str | None]
    name: Required[str]
    role: Required[Literal["function"]]


class CustomChatCompletionMessageParam(TypedDict, total=False):  # vllm/entrypoints/chat_utils.py:356-385
    role: Required[str]
    content: str | list[ChatCompletionContentPartParam]
    name: str
    tool_call_id: str | None
    tool_calls: list[ChatCompletionMessageFunctionToolCallParam] | None
    reasoning: str | None
    tools: list[ChatCompletionFunctionToolParam] | None
    task: str | None


class Role(str, Enum):  # openai_harmony
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    DEVELOPER = "developer"
    TOOL = "tool"


class Author(BaseModel):
    role: Role
    name: str | None = None


class TextContent(BaseModel):
    type: Literal["text"] = "text"
    text: str


class SystemContent(BaseModel):  # its other fields are optional; their types are not modelled
    type: Literal["system_content"] = "system_content"


class DeveloperContent(BaseModel):
    type: Literal["developer_content"] = "developer_content"
    instructions: str | None = None


class Message(BaseModel):  # openai_harmony.Message: needs an "author"; a dict with only "role" is not one
    author: Author
    content: list[Annotated[TextContent | SystemContent | DeveloperContent, Field(discriminator="type")]] = []
    channel: str | None = None
    recipient: str | None = None
    content_type: str | None = None


# vllm/entrypoints/chat_utils.py:388-392: openai's union (developer, system, user, assistant, tool, function), then
# vLLM's custom message, then harmony's. Smart-mode ties go to the first: a plain user message is openai's, whose
# content list is validated lazily, when vLLM iterates it (a bad part is then a 400, not a fall-through).
ChatCompletionMessageParam = (
    ChatCompletionDeveloperMessageParam
    | ChatCompletionSystemMessageParam
    | ChatCompletionUserMessageParam
    | ChatCompletionAssistantMessageParam
    | ChatCompletionToolMessageParam
    | ChatCompletionFunctionMessageParam
    | CustomChatCompletionMessageParam
    | Message
)


# --------------------------------------------------------------------------------------------------------------------
# Request parts (vllm/entrypoints/generate/base/protocol.py, vllm/sampling_params.py).
# --------------------------------------------------------------------------------------------------------------------
class OpenAIBaseModel(BaseModel):
    model_config = ConfigDict(extra="allow")  # vllm/entrypoints/serve/engine/protocol.py:37-39: unknown keys ignored


StopParam = str | Annotated[list[str], Field(max_length=MAX_STOP_STRINGS)] | None  # generate/base/protocol.py:28-30


class StreamOptions(OpenAIBaseModel):  # generate/base/protocol.py:241-243
    include_usage: bool | None = False
    continuous_usage_stats: bool | None = False


class FunctionDefinitionModel(OpenAIBaseModel):  # generate/base/protocol.py:246-251 (vLLM's FunctionDefinition)
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    defer_loading: bool | None = None


class ChatCompletionToolsParam(OpenAIBaseModel):  # chat_completion/protocol.py:184-187
    type: Literal["function"] = "function"
    function: FunctionDefinitionModel
    defer_loading: bool | None = None


class ChatCompletionNamedFunction(OpenAIBaseModel):
    name: str


class ChatCompletionNamedToolChoiceParam(OpenAIBaseModel):  # chat_completion/protocol.py:204-210
    function: ChatCompletionNamedFunction
    type: Literal["function"] = "function"


class JsonSchemaResponseFormat(OpenAIBaseModel):  # generate/base/protocol.py:92-98: the schema is read from "schema"
    name: str
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class LegacyStructuralTag(OpenAIBaseModel):
    begin: str
    structural_tag_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    end: str


class LegacyStructuralTagResponseFormat(OpenAIBaseModel):
    type: Literal["structural_tag"]
    structures: list[LegacyStructuralTag]
    triggers: list[str]


class StructuralTagResponseFormat(OpenAIBaseModel):
    type: Literal["structural_tag"]
    format: Any


class ResponseFormat(OpenAIBaseModel):  # generate/base/protocol.py:125-133
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaResponseFormat | None = None


AnyResponseFormat = ResponseFormat | StructuralTagResponseFormat | LegacyStructuralTagResponseFormat


@pydantic_dataclass
class StructuredOutputsParams:
    """vllm/sampling_params.py:86-127: exactly one constraint, checked in __post_init__ (which pydantic runs while
    validating the request, so its VLLMValidationError escapes the dispatch loop)."""

    json: str | dict | None = None
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: str | None = None
    structural_tag: str | None = None
    _backend: str | None = dataclass_field(default=None, init=False)
    _backend_was_auto: bool = dataclass_field(default=False, init=False)

    def __post_init__(self) -> None:
        kinds = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")
        count = sum(getattr(self, kind) is not None for kind in kinds)
        if count > 1:
            raise VLLMValidationError(
                f"You can only use one kind of structured outputs constraint but multiple are specified: {self.__dict__}"
            )
        if count < 1:
            raise VLLMValidationError(
                f"You must use one kind of structured outputs constraint but none are specified: {self.__dict__}"
            )


@pydantic_dataclass
class RepetitionDetectionParams:  # vllm/sampling_params.py:161-195
    max_pattern_size: int = 0
    min_pattern_size: int = 0
    min_count: int = 0

    def __post_init__(self) -> None:
        if self.max_pattern_size < 0 or self.min_pattern_size < 0 or self.min_pattern_size > self.max_pattern_size:
            raise VLLMValidationError(
                "max_pattern_size, min_pattern_size must be >=0, with min_pattern_size <= max_pattern_size. "
                "Set both to 0 to disable repetitive pattern detection."
            )
        if self.max_pattern_size > 0 and self.min_count < 2:
            raise VLLMValidationError(
                "min_count must be >= 2 to detect repetitive patterns in engine output. If you do not wish to detect "
                "repetitive patterns, set max_pattern_size to 0."
            )


def validate_thinking_token_budget(value: Any) -> int | None:
    """vllm/sampling_params.py:51-70 (a BeforeValidator: its error escapes pydantic)."""
    if value is None:
        return None
    if isinstance(value, bool | float) or not isinstance(value, int) or (value < 0 and value != -1):
        raise VLLMValidationError(
            "`thinking_token_budget` must be a non-negative integer or -1 for unlimited.",
            parameter="thinking_token_budget",
            value=value,
        )
    return None if value == -1 else value


ThinkingTokenBudget = Annotated[int | None, BeforeValidator(validate_thinking_token_budget)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
TruncatePromptTokens = Annotated[int, Field(ge=-1, le=INT64_MAX)] | None


def validate_cache_salt(cache_salt: object) -> None:
    """vllm/entrypoints/generate/base/protocol.py:36-52."""
    if cache_salt is None:
        return
    if not isinstance(cache_salt, str) or not cache_salt:
        raise VLLMValidationError("Parameter 'cache_salt' must be a non-empty string if provided.", parameter="cache_salt")
    if len(cache_salt) > 128 or any(char in "@/\\\x00" for char in cache_salt):
        raise VLLMValidationError(
            "Parameter 'cache_salt' must be at most 128 characters and must not contain '@', '/', '\\\\', or NUL.",
            parameter="cache_salt",
        )


def _validate_structural_tag_response_format(response_format: Any) -> None:
    """generate/base/protocol.py:169-197: it must be one of the structural-tag shapes (xgrammar's own check of the
    payload is not modelled)."""
    from pydantic import TypeAdapter

    try:
        TypeAdapter(StructuralTagResponseFormat | LegacyStructuralTagResponseFormat).validate_python(response_format)
    except ValidationError:
        raise VLLMValidationError(
            "Invalid response_format structural_tag specification.", parameter="response_format"
        ) from None


def _validate_structural_tag_payload(payload: Any, parameter: str) -> None:
    if isinstance(payload, str) and not payload:  # generate/base/protocol.py:200-208
        raise VLLMValidationError(f"Invalid {parameter} structural_tag specification.", parameter=parameter)


def _check_response_format(data: dict[str, Any]) -> None:
    """validate_response_format, the same in both models (chat protocol.py:764-795, completion protocol.py:425-456)."""
    response_format = data.get("response_format")
    if response_format is None:
        return
    if isinstance(response_format, dict):
        rf_type = response_format.get("type")
        json_schema = response_format.get("json_schema")
    else:
        rf_type = getattr(response_format, "type", None)
        json_schema = getattr(response_format, "json_schema", None)
    if rf_type == "json_schema" and json_schema is None:
        raise VLLMValidationError(
            "When response_format type is 'json_schema', the 'json_schema' field must be provided.",
            parameter="response_format",
        )
    if rf_type == "structural_tag":
        _validate_structural_tag_response_format(response_format)


def _check_stream_options(data: dict[str, Any]) -> None:
    if data.get("stream_options") and not data.get("stream"):  # chat protocol.py:797-808, completion :554-565
        raise VLLMValidationError("Stream options can only be defined when `stream=True`.", parameter="stream_options")


def _structured_outputs_count(data: dict[str, Any]) -> int:
    outputs = data["structured_outputs"]
    if isinstance(outputs, StructuredOutputsParams):
        return sum(getattr(outputs, k, None) is not None for k in ("json", "regex", "choice"))
    return sum(outputs.get(k) is not None for k in ("json", "regex", "choice"))  # a non-dict raises AttributeError


def _check_structured_tag(data: dict[str, Any]) -> None:
    outputs = data["structured_outputs"]
    tag = outputs.structural_tag if isinstance(outputs, StructuredOutputsParams) else outputs.get("structural_tag")
    if tag is not None:
        _validate_structural_tag_payload(tag, "structured_outputs")


def _check_prompt_logprobs(data: dict[str, Any]) -> None:
    if (prompt_logprobs := data.get("prompt_logprobs")) is not None:
        if data.get("stream") and (prompt_logprobs > 0 or prompt_logprobs == -1):
            raise VLLMValidationError("`prompt_logprobs` are not available when `stream=True`.", parameter="prompt_logprobs")
        if prompt_logprobs < 0 and prompt_logprobs != -1:
            raise VLLMValidationError(
                "`prompt_logprobs` must be a positive value or -1.", parameter="prompt_logprobs", value=prompt_logprobs
            )


def _check_numbers(data: dict[str, Any], names: tuple[str, str]) -> None:
    for name in names:
        value = data.get(name)
        if value is not None and not isinstance(value, int | float):
            raise VLLMValidationError(f"`{name}` must be an integer.", parameter=name, value=value)


# --------------------------------------------------------------------------------------------------------------------
# The two request models.
# --------------------------------------------------------------------------------------------------------------------
def _request_id() -> str:
    return uuid.uuid4().hex  # vllm/utils random_uuid


def _before(check: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Any:
    """A model_validator(mode="before") as vLLM writes them: a body that is no dict is left to the fields; a dict is
    checked by `check`, which may return the body to go on with (else the same one goes on)."""

    def validator(cls: type, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        replaced = check(data)
        return data if replaced is None else replaced

    return model_validator(mode="before")(classmethod(validator))


def _check_cache_salt(data: dict[str, Any]) -> None:
    validate_cache_salt(data.get("cache_salt"))


def _normalize_messages(data: dict[str, Any]) -> None:
    """Chat :532-557: tool_calls made lists; a message's reasoning_content becomes reasoning."""
    if not isinstance(data.get("messages"), list):
        return
    for message in data["messages"]:
        if not isinstance(message, dict):
            continue
        tool_calls = message.get("tool_calls")
        if tool_calls is not None and not isinstance(tool_calls, list):
            message["tool_calls"] = list(tool_calls)
        reasoning_content = message.pop("reasoning_content", None)
        if reasoning_content is not None and message.get("reasoning") is None:
            message["reasoning"] = reasoning_content


def _check_logprob_token_ids(data: dict[str, Any]) -> None:
    if data.get("logprob_token_ids") and data.get("use_beam_search"):  # chat :810-866, completion :488-552
        raise VLLMValidationError("`logprob_token_ids` is not supported with beam search.", parameter="logprob_token_ids")


def _check_chat_logprobs(data: dict[str, Any]) -> None:
    """Chat :810-866."""
    _check_logprob_token_ids(data)
    if data.get("logprob_token_ids") and not data.get("logprobs"):
        raise VLLMValidationError(
            "when using `logprob_token_ids`, `logprobs` must be set to true.", parameter="logprob_token_ids"
        )
    _check_numbers(data, ("prompt_logprobs", "top_logprobs"))
    _check_prompt_logprobs(data)
    if (top_logprobs := data.get("top_logprobs")) is not None:
        if top_logprobs < 0 and top_logprobs != -1:
            raise VLLMValidationError(
                "`top_logprobs` must be a positive value or -1.", parameter="top_logprobs", value=top_logprobs
            )
        if (top_logprobs == -1 or top_logprobs > 0) and not data.get("logprobs"):
            raise VLLMValidationError("when using `top_logprobs`, `logprobs` must be set to true.", parameter="top_logprobs")


def _check_completion_logprobs(data: dict[str, Any]) -> None:
    """Completion :488-552."""
    _check_logprob_token_ids(data)
    if data.get("logprob_token_ids") and data.get("echo") and data.get("max_tokens") == 0:
        raise VLLMValidationError(
            "`logprob_token_ids` is not supported when `echo=True` and `max_tokens=0` because no output tokens are "
            "generated.",
            parameter="logprob_token_ids",
        )
    if data.get("logprob_token_ids") and data.get("logprobs") is None:
        raise VLLMValidationError("when using `logprob_token_ids`, `logprobs` must be set.", parameter="logprob_token_ids")
    _check_numbers(data, ("prompt_logprobs", "logprobs"))
    _check_prompt_logprobs(data)
    if (logprobs := data.get("logprobs")) is not None and logprobs < 0 and logprobs != -1:
        raise VLLMValidationError("`logprobs` must be a positive value or -1.", parameter="logprobs", value=logprobs)


def _structured_outputs_count_check(*, chat: bool) -> Callable[[dict[str, Any]], None]:
    """check_structured_outputs_count: chat :868-909 (no parameter in its message, and a rule on tools), completion
    :458-486 (parameter "structured_outputs", no rule on tools)."""

    def check(data: dict[str, Any]) -> None:
        if data.get("structured_outputs", None) is None:
            return
        count = _structured_outputs_count(data)
        if count > 1:
            raise VLLMValidationError(
                "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice').",
                parameter=None if chat else "structured_outputs",
            )
        if chat and count > 0 and data.get("tool_choice", "none") not in ("none", "auto", "required"):
            raise VLLMValidationError("You can only either use constraints for structured outputs or tools, not both.")
        _check_structured_tag(data)

    return check


def _check_tool_usage(data: dict[str, Any]) -> None:
    """Chat :911-995. `tools` without `tool_choice` becomes "auto" (refused later: no tool parser)."""
    if data.get("tools") == []:
        raise VLLMValidationError(
            "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely.",
            parameter="tools",
        )
    if "tool_choice" not in data and data.get("tools"):
        data["tool_choice"] = "auto"
    if "tool_choice" in data and data["tool_choice"] == "none":
        return
    if "tool_choice" in data and data["tool_choice"] is not None:
        choice = data["tool_choice"]
        if "tools" not in data or data["tools"] is None:
            raise VLLMValidationError("When using `tool_choice`, `tools` must be set.", parameter="tool_choice")
        if choice not in ["auto", "required"] and not isinstance(choice, dict):
            raise VLLMValidationError(
                f'Invalid value for `tool_choice`: {choice}! Only named tools, "none", "auto" or "required" '
                "are supported.",
                parameter="tool_choice",
            )
        usage = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`'
        if isinstance(choice, dict):
            function = choice.get("function")
            if not isinstance(function, dict):
                raise VLLMValidationError(
                    f"Invalid value for `function`: `{function}` in `tool_choice`! {usage}",
                    parameter="tool_choice.function",
                )
            if "name" not in function:
                raise VLLMValidationError(
                    f"Expected field `name` in `function` in `tool_choice`! {usage}",
                    parameter="tool_choice.function.name",
                )
            name = function["name"]
            if not isinstance(name, str) or len(name) == 0:
                raise VLLMValidationError(
                    f"Invalid `name` in `function`: `{name}` in `tool_choice`! {usage}",
                    parameter="tool_choice.function.name",
                )
            # The raw tools are indexed: a tool that is no {"function": {"name"}} object raises TypeError/KeyError.
            if not any(tool["function"]["name"] == name for tool in data["tools"]):
                raise VLLMValidationError(
                    "The tool specified in `tool_choice` does not match any of the specified `tools`",
                    parameter="tool_choice",
                )


def _check_generation_prompt(data: dict[str, Any]) -> None:
    # Chat :997-1007: both keys must be present and truthy (an absent add_generation_prompt is None here).
    if data.get("continue_final_message") and data.get("add_generation_prompt"):
        raise VLLMValidationError("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")


def _check_system_message_content_type(data: dict[str, Any]) -> None:
    """Chat :1009-1056: only warns, but iterates `messages` raw: a number or null there raises TypeError (400)."""
    for message in data.get("messages", []):
        if isinstance(message, dict) and message.get("role") == "system" and isinstance(message.get("content"), list):
            for part in message["content"]:
                if isinstance(part, dict):
                    part.get("type")


def _normalize_null_max_tokens(data: dict[str, Any]) -> dict[str, Any] | None:
    if data.get("max_tokens") is None:  # completion :417-423: absent or null is 16
        return {**data, "max_tokens": 16}
    return None


def _validate_prompt_and_prompt_embeds(data: dict[str, Any]) -> None:
    """Completion :567-586: the refusal every non-completions body that got this far receives."""
    prompt, embeds = data.get("prompt"), data.get("prompt_embeds")
    prompt_is_empty = prompt is None or (isinstance(prompt, str) and prompt == "")
    embeds_is_empty = embeds is None or (isinstance(embeds, list) and len(embeds) == 0)
    if prompt_is_empty and embeds_is_empty:
        raise VLLMValidationError("Either prompt or prompt_embeds must be provided and non-empty.", parameter="prompt")


def _validate_prompt_list_length(data: dict[str, Any]) -> None:
    """Completion :588-620 (vLLM's is_list_of looks at the first element only)."""
    prompt = data.get("prompt")
    token_list = isinstance(prompt, list) and (len(prompt) == 0 or isinstance(prompt[0], int))
    if isinstance(prompt, list) and len(prompt) > 0 and not token_list and len(prompt) > MAX_COMPLETION_PROMPTS:
        raise VLLMValidationError(
            f"prompt list length {len(prompt)} exceeds the maximum allowed count of {MAX_COMPLETION_PROMPTS}. "
            "To increase this limit, set the VLLM_MAX_COMPLETION_PROMPTS environment variable.",
            parameter="prompt",
        )
    embeds = data.get("prompt_embeds")
    if isinstance(embeds, list) and len(embeds) > MAX_COMPLETION_PROMPTS:
        raise VLLMValidationError(
            f"prompt_embeds list length {len(embeds)} exceeds the maximum allowed count of {MAX_COMPLETION_PROMPTS}. "
            "To increase this limit, set the VLLM_MAX_COMPLETION_PROMPTS environment variable.",
            parameter="prompt_embeds",
        )


class _SharedFields(OpenAIBaseModel):
    """The fields both request models declare alike (chat_completion/protocol.py:213-520, completion/protocol.py:46-262:
    the same types and defaults), declared once. pydantic validates them before a model's own fields; the order matters
    only between fields whose errors escape pydantic (VLLMValidationError), and those (thinking_token_budget,
    structured_outputs, repetition_detection) are each model's own, in vLLM's order."""

    model: str | None = None
    frequency_penalty: float | None = 0.0
    logit_bias: dict[str, float] | None = None
    presence_penalty: float | None = 0.0
    response_format: AnyResponseFormat | None = None
    seed: Int64 | None = None
    stop: StopParam = []
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None
    use_beam_search: bool = False
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    watermarking: bool = True
    length_penalty: float = 1.0
    stop_token_ids: list[int] | None = []
    include_stop_str_in_output: bool = False
    ignore_eos: bool = False
    min_tokens: int = 0
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    truncate_prompt_tokens: TruncatePromptTokens = None
    truncation_side: Literal["left", "right"] | None = None
    prompt_logprobs: int | None = None
    logprob_token_ids: list[int] | None = None
    allowed_token_ids: list[int] | None = None
    bad_words: list[str] = Field(default_factory=list)
    priority: Int64 = 0  # accepted: nothing in 0.30.0 refuses a priority under FCFS scheduling
    request_id: str = Field(default_factory=_request_id)
    session_id: str | None = None
    return_tokens_as_token_ids: bool | None = None
    return_token_ids: bool | None = None
    routed_experts_prompt_start: Annotated[int, Field(ge=0)] = 0
    return_token_offsets: bool | None = False
    cache_salt: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    kv_transfer_params: dict[str, Any] | None = None
    ec_transfer_params: dict[str, Any] | None = None
    vllm_xargs: dict[str, str | int | float | list[str | int | float]] | None = None
    stream_interval: Annotated[int, Field(ge=1)] | None = None


class ChatCompletionRequest(_SharedFields):
    """vllm/entrypoints/openai/chat_completion/protocol.py:213-520 (fields, their types and defaults)."""

    messages: list[ChatCompletionMessageParam]
    logprobs: bool | None = False
    top_logprobs: int | None = 0
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = 1
    tools: list[ChatCompletionToolsParam] | None = None
    tool_choice: Literal["none"] | Literal["auto"] | Literal["required"] | ChatCompletionNamedToolChoiceParam | None = "none"
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    thinking_token_budget: ThinkingTokenBudget = None
    include_reasoning: bool = True
    parallel_tool_calls: bool | None = True
    echo: bool = False
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    add_special_tokens: bool = False
    documents: list[dict[str, str]] | None = None
    chat_template: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    media_io_kwargs: dict[str, dict[str, Any]] | None = None
    mm_processor_kwargs: dict[str, Any] | None = None
    structured_outputs: StructuredOutputsParams | None = None
    return_prompt_text: bool | None = None
    return_assistant_tokens_mask: bool = False
    repetition_detection: RepetitionDetectionParams | None = None

    # The mode="before" validators (protocol.py:524-1056). pydantic runs the last defined first.
    check_cache_salt_support = _before(_check_cache_salt)  # :524-530
    normalize_messages = _before(_normalize_messages)
    validate_response_format = _before(_check_response_format)  # :764-795
    validate_stream_options = _before(_check_stream_options)  # :797-808
    check_logprobs = _before(_check_chat_logprobs)
    check_structured_outputs_count = _before(_structured_outputs_count_check(chat=True))
    check_tool_usage = _before(_check_tool_usage)
    check_generation_prompt = _before(_check_generation_prompt)
    check_system_message_content_type = _before(_check_system_message_content_type)

    @model_validator(mode="after")
    def materialize_tool_calls(self) -> "ChatCompletionRequest":
        """:559-575: an assistant's lazily validated tool_calls are listed here; a bad one is a ValidationError inside
        this validator, so the body is not a chat request (and falls through to completions)."""
        for message in self.messages:
            if isinstance(message, dict):
                tool_calls = message.get("tool_calls")
                if tool_calls is not None and not isinstance(tool_calls, list):
                    message["tool_calls"] = list(tool_calls)
        return self


class CompletionRequest(_SharedFields):
    """vllm/entrypoints/openai/completion/protocol.py:46-262."""

    prompt: (
        list[Annotated[int, Field(ge=0)]] | list[list[Annotated[int, Field(ge=0)]]] | str | list[str] | None
    ) = None
    echo: bool | None = False
    logprobs: int | None = None
    max_tokens: int | None = 16
    n: int = 1  # not Optional: "n": null is no completion request
    suffix: str | None = None
    prompt_embeds: bytes | list[bytes] | None = None
    add_special_tokens: bool = True
    structured_outputs: StructuredOutputsParams | None = None
    repetition_detection: RepetitionDetectionParams | None = None
    thinking_token_budget: ThinkingTokenBudget = None

    # The mode="before" validators (protocol.py:409-620), the last defined first.
    check_cache_salt_support = _before(_check_cache_salt)
    normalize_null_max_tokens = _before(_normalize_null_max_tokens)
    validate_response_format = _before(_check_response_format)
    check_structured_outputs_count = _before(_structured_outputs_count_check(chat=False))
    check_logprobs = _before(_check_completion_logprobs)
    validate_stream_options = _before(_check_stream_options)
    validate_prompt_and_prompt_embeds = _before(_validate_prompt_and_prompt_embeds)
    validate_prompt_list_length = _before(_validate_prompt_list_length)


class SessionRequestType(str, Enum):  # mhcs/sagemaker/sessions/models.py:6-14
    NEW_SESSION = "NEW_SESSION"
    CLOSE = "CLOSE"


class SessionRequest(BaseModel):  # mhcs/sagemaker/sessions/models.py:17-26
    model_config = ConfigDict(extra="forbid")
    requestType: SessionRequestType  # noqa: N815 (the wire name)


# --------------------------------------------------------------------------------------------------------------------
# Serving: the token budget, SamplingParams, the engine's checks.
# --------------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Prompt:
    """One rendered prompt: its text (for echo) and its token count (after truncation)."""

    text: str
    tokens: int
    token_ids: list[int] | None = None


def _token_budget(request: Any, max_model_len: int, chat: bool) -> tuple[int, str]:
    """TokenizeParams.__post_init__ (vllm/renderers/params.py:224-263) via build_tok_params (chat protocol.py:617-635,
    completion protocol.py:265-276): returns (max_input_tokens, the output parameter's name)."""
    if chat and request.max_completion_tokens is not None:
        max_output, name = request.max_completion_tokens, "max_completion_tokens"
    else:
        max_output, name = request.max_tokens, "max_tokens"
    max_output = max_output or 0
    if max_output > max_model_len:
        raise VLLMValidationError(
            f"{name}={max_output} cannot be greater than max_model_len=max_total_tokens={max_model_len}. "
            "Please request fewer output tokens.",
            parameter=name,
            value=max_output,
        )
    max_input = max_model_len - max_output
    truncate = request.truncate_prompt_tokens
    if truncate is not None and truncate > max_input:
        raise VLLMValidationError(
            f"truncate_prompt_tokens={truncate} cannot be greater than max_model_len - {name} = {max_input}. "
            "Please request a smaller truncation size.",
            parameter="truncate_prompt_tokens",
            value=truncate,
        )
    return max_input, name


def _tokenized(count: int, request: Any, max_model_len: int, max_input: int, *, from_text: bool) -> int:
    """The prompt's token count after the tokenizer's truncation and TokenizeParams' checks (params.py:327-352,
    460-519): without truncate_prompt_tokens a text is cut at max_input + 1 tokens, so an over-long one is "at least"
    that long; -1 means max_input; then more than max_input tokens is the context-length error."""
    truncate = request.truncate_prompt_tokens
    if truncate is not None:
        count = min(count, max_input if truncate < 0 else truncate)
    elif from_text:
        count = min(count, max_input + 1)
    if count > max_input:
        qualifier = "at least " if count == max_input + 1 else ""
        output = max_model_len - max_input
        raise VLLMValidationError(
            f"This model's maximum context length is {max_model_len} tokens. However, you requested {output} output "
            f"tokens and your prompt contains {qualifier}{count} input tokens, for a total of {qualifier}"
            f"{count + output} tokens. Please reduce the length of the input prompt or the number of requested output "
            "tokens.",
            parameter="input_tokens",
            value=count,
        )
    return count


def _max_tokens(max_model_len: int, requested: int | None, prompt_len: int, defaults: dict, truncate: int | None) -> int:
    """get_max_tokens, vllm/entrypoints/serve/utils/api_utils.py:169-205 (no override: generation_config is vllm or
    auto; the platform's limit is sys.maxsize)."""
    if truncate is not None:
        prompt_len = min(prompt_len, max_model_len if truncate == -1 else truncate)
    if max_model_len < prompt_len:
        raise _Raised() from ValueError(
            f"Input length ({prompt_len}) exceeds model's maximum context length ({max_model_len})."
        )
    fallback = requested if requested is not None else defaults.get("max_tokens")
    return min(v for v in (max_model_len - prompt_len, fallback) if v is not None)


def _verify_num_sequences(value: int, name: str) -> None:
    """vllm/sampling_params.py:35-48."""
    if value < 1:
        raise VLLMValidationError(f"{name} must be at least 1, got {value}.")
    if value > MAX_N_SEQUENCES:
        raise VLLMValidationError(
            f"{name} must be at most {MAX_N_SEQUENCES}, got {value}. To increase this limit, set the "
            "VLLM_MAX_N_SEQUENCES environment variable."
        )


def _structured_outputs(request: Any) -> StructuredOutputsParams | None:
    """structured_outputs_from_response_format, generate/base/protocol.py:136-166: response_format overrides."""
    outputs, response_format = request.structured_outputs, request.response_format
    if response_format is None or response_format.type == "text":
        return outputs
    if response_format.type == "json_object":
        overrides: dict[str, Any] = {"json_object": True}
    elif response_format.type == "json_schema":
        overrides = {"json": response_format.json_schema.json_schema}  # a json_schema without "schema": json None
    else:
        overrides = {"structural_tag": json.dumps(response_format.model_dump(by_alias=True))}
    if outputs is None:
        return StructuredOutputsParams(**overrides)
    return dataclasses.replace(outputs, **overrides)


def _sampling_params(request: Any, max_tokens: int, defaults: dict, *, chat: bool) -> dict[str, Any]:
    """to_sampling_params (chat protocol.py:672-762, completion protocol.py:316-407), SamplingParams.from_optional
    (sampling_params.py:383-485), __post_init__ (:487-547) and _verify_args (:549-662), in their order."""

    def default(name: str) -> Any:
        value = getattr(request, name)
        return defaults.get(name, NEUTRAL_SAMPLING[name]) if value is None else value

    structured = _structured_outputs(request)  # an argument of from_optional: evaluated before its body
    if chat:
        logprobs = request.top_logprobs if request.logprobs and not request.logprob_token_ids else None
        prompt_logprobs = request.top_logprobs if request.prompt_logprobs is None and request.echo else request.prompt_logprobs
    else:
        logprobs = None if request.logprob_token_ids else request.logprobs
        prompt_logprobs = request.logprobs if request.prompt_logprobs is None and request.echo else request.prompt_logprobs
        if request.echo and request.max_tokens == 0:
            max_tokens = 1  # completion protocol.py:363,387: echo without generation still samples one token
    extra_args = dict(request.vllm_xargs or {})
    for name in ("kv_transfer_params", "ec_transfer_params"):
        if getattr(request, name):
            extra_args[name] = getattr(request, name)
    logit_bias = None
    if request.logit_bias is not None:  # from_optional: keys must be int()-able; biases clamped to [-100, 100]
        invalid, logit_bias = [], {}
        for token, bias in request.logit_bias.items():
            try:
                logit_bias[int(token)] = min(100.0, max(-100.0, bias))
            except (ValueError, TypeError):
                invalid.append(token)
        if invalid:
            raise VLLMValidationError(
                f"logit_bias contains key(s) that cannot be converted to integer token IDs: {invalid!r}",
                parameter="logit_bias",
                value=invalid,
            )
    stop = request.stop
    sp: dict[str, Any] = {
        "n": 1 if request.n is None else request.n,
        "presence_penalty": 0.0 if request.presence_penalty is None else request.presence_penalty,
        "frequency_penalty": 0.0 if request.frequency_penalty is None else request.frequency_penalty,
        "repetition_penalty": default("repetition_penalty"),
        "temperature": default("temperature"),
        "top_p": default("top_p"),
        "top_k": default("top_k"),
        "min_p": default("min_p"),
        "seed": None if request.seed == -1 else request.seed,
        "stop": [] if stop is None else [stop] if isinstance(stop, str) else list(stop),
        "stop_token_ids": list(dict.fromkeys(request.stop_token_ids or [])),
        "bad_words": list(dict.fromkeys(request.bad_words or [])),
        "include_stop_str_in_output": request.include_stop_str_in_output,
        "ignore_eos": request.ignore_eos,
        "max_tokens": max_tokens,
        "min_tokens": request.min_tokens,
        "logprobs": logprobs,
        "prompt_logprobs": prompt_logprobs,
        "logprob_token_ids": request.logprob_token_ids or None,
        "structured_outputs": structured,
        "logit_bias": logit_bias,
        "allowed_token_ids": request.allowed_token_ids,
        "thinking_token_budget": request.thinking_token_budget,
        "routed_experts_prompt_start": request.routed_experts_prompt_start,
        "extra_args": extra_args or None,
    }
    if 0 < sp["temperature"] < MIN_TEMPERATURE:
        sp["temperature"] = MIN_TEMPERATURE
    _verify_args(sp)
    if sp["temperature"] < SAMPLING_EPS:  # greedy: :533-538, _verify_greedy_sampling :684-688
        sp.update(top_p=1.0, top_k=0, min_p=0.0)
        if sp["n"] > 1:
            raise VLLMValidationError(f"n must be 1 when using greedy sampling, got {sp['n']}.")
    return sp


_UNSET_IN_BEAMS = ("seed", "logprobs", "prompt_logprobs", "logprob_token_ids", "structured_outputs", "logit_bias",
                   "allowed_token_ids", "thinking_token_budget", "extra_args")


def _beam_params(request: Any, max_tokens: int, defaults: dict) -> dict[str, Any]:
    """use_beam_search: to_beam_search_params (chat protocol.py:646-663, completion protocol.py:287-307) builds
    BeamSearchParams, which checks only its width (sampling_params.py:1301-1319); response_format, stop, logprobs and
    the rest are not passed on. Each search step then asks the engine for SamplingParams(logprobs=2 * width,
    max_tokens=1, temperature) (vllm/entrypoints/generate/beam_search/online.py:37-65): see _beam_step."""
    width = request.n if request.n is not None else 1
    _verify_num_sequences(width, "beam_width")
    temperature = request.temperature if request.temperature is not None else defaults.get("temperature", 1.0)
    sp = dict.fromkeys(_UNSET_IN_BEAMS)
    sp.update(n=width, stop=[], stop_token_ids=[], bad_words=[], max_tokens=max_tokens, min_tokens=0,
              ignore_eos=request.ignore_eos, include_stop_str_in_output=request.include_stop_str_in_output,
              routed_experts_prompt_start=0, beam_temperature=temperature)
    return sp


def _beam_step(sp: dict[str, Any]) -> None:
    """A beam-search step's SamplingParams, made inside the generator (so, like the engine's checks, after a stream
    has started): its __post_init__, then the engine's logprobs cap (2 * width <= 20)."""
    temperature = sp["beam_temperature"]
    step = {**dict.fromkeys(_UNSET_IN_BEAMS), **NEUTRAL_SAMPLING, "presence_penalty": 0.0, "frequency_penalty": 0.0,
            "n": 1, "stop": [], "bad_words": [], "max_tokens": 1, "min_tokens": 0, "logprobs": 2 * sp["n"],
            "temperature": MIN_TEMPERATURE if 0 < temperature < MIN_TEMPERATURE else temperature}
    _verify_args(step)
    if step["logprobs"] > MAX_LOGPROBS:
        raise VLLMValidationError(
            f"Requested sample logprobs of {step['logprobs']}, which is greater than max allowed: {MAX_LOGPROBS}",
            parameter="logprobs",
            value=step["logprobs"],
        )


def _verify_args(sp: dict[str, Any]) -> None:
    """SamplingParams._verify_args, vllm/sampling_params.py:549-662."""
    _verify_num_sequences(sp["n"], "n")
    if sp["extra_args"]:
        pending = [sp["extra_args"]]
        while pending:
            value = pending.pop()
            if isinstance(value, int) and not -(2**63) <= value < 2**64:
                raise VLLMValidationError("extra_args integers must be between -2**63 and 2**64 - 1.", parameter="extra_args")
            if isinstance(value, dict):
                pending.extend([*value.keys(), *value.values()])
            elif isinstance(value, list | tuple):
                pending.extend(value)
    for name in ("presence_penalty", "frequency_penalty"):
        if not -2.0 <= sp[name] <= 2.0:
            raise VLLMValidationError(f"{name} must be in [-2, 2], got {sp[name]}.")
    penalty, temperature, top_p = sp["repetition_penalty"], sp["temperature"], sp["top_p"]
    if not math.isfinite(penalty):
        raise VLLMValidationError(f"repetition_penalty must be a finite number, got {penalty}.")
    if penalty <= 0.0:
        raise VLLMValidationError(f"repetition_penalty must be greater than zero, got {penalty}.")
    for broken, rule in ((not math.isfinite(temperature), "be a finite number"), (temperature < 0.0, "be non-negative"),
                         (temperature > 2.0, "be in [0, 2]")):
        if broken:
            raise VLLMValidationError(f"temperature must {rule}, got {temperature}.", parameter="temperature", value=temperature)
    if not 0.0 < top_p <= 1.0:
        raise VLLMValidationError(f"top_p must be in (0, 1], got {top_p}.", parameter="top_p", value=top_p)
    if sp["top_k"] < -1:
        raise VLLMValidationError(f"top_k must be 0 (disable), or at least 1, got {sp['top_k']}.")
    if not 0.0 <= sp["min_p"] <= 1.0:
        raise VLLMValidationError(f"min_p must be in [0, 1], got {sp['min_p']}.")
    max_tokens, min_tokens = sp["max_tokens"], sp["min_tokens"]
    if max_tokens is not None and max_tokens < 1:
        raise VLLMValidationError(f"max_tokens must be at least 1, got {max_tokens}.", parameter="max_tokens", value=max_tokens)
    if min_tokens < 0:
        raise VLLMValidationError(f"min_tokens must be greater than or equal to 0, got {min_tokens}.")
    if max_tokens is not None and min_tokens > max_tokens:
        raise VLLMValidationError(f"min_tokens must be less than or equal to max_tokens={max_tokens}, got {min_tokens}.")
    for name in ("logprobs", "prompt_logprobs"):
        value = sp[name]
        if value is not None and value != -1 and value < 0:
            raise VLLMValidationError(f"{name} must be non-negative or -1, got {value}.", parameter=name, value=value)
    if any(not stop for stop in sp["stop"]):
        raise VLLMValidationError("stop cannot contain an empty string.")
    if any(not word for word in sp["bad_words"]):
        raise VLLMValidationError(f"bad_words cannot contain an empty string. Got bad_words={sp['bad_words']}")


def _out_of_vocab(ids: Iterable[int]) -> list[int]:
    return [token_id for token_id in ids if token_id < 0 or token_id >= VOCAB_SIZE]


def _engine_checks(sp: dict[str, Any], prompt: _Prompt, max_model_len: int) -> None:
    """The engine's input processor on one prompt (vllm/v1/engine/input_processor.py:281-430): SamplingParams.verify
    (sampling_params.py:819-1251), then the prompt (:440-549), then bad words (sampling_params.py:720-777)."""
    if "beam_temperature" in sp:
        _beam_step(sp)
    for name in ("logprobs", "prompt_logprobs"):  # _validate_logprobs: max_logprobs 20, -1 is the vocabulary
        requested = VOCAB_SIZE if sp[name] == -1 else sp[name]
        if requested and requested > MAX_LOGPROBS:
            kind = "sample" if name == "logprobs" else "prompt"
            raise VLLMValidationError(
                f"Requested {kind} logprobs of {requested}, which is greater than max allowed: {MAX_LOGPROBS}",
                parameter=name,
                value=requested,
            )
        if name == "logprobs" and sp["logprob_token_ids"] is not None:
            ids = sp["logprob_token_ids"]
            if len(ids) > MAX_LOGPROB_TOKEN_IDS:
                raise VLLMValidationError(
                    f"Requested logprob_token_ids of length {len(ids)}, which is greater than max allowed: "
                    f"{MAX_LOGPROB_TOKEN_IDS}",
                    parameter="logprob_token_ids",
                    value=len(ids),
                )
            if invalid := _out_of_vocab(ids):
                raise VLLMValidationError(
                    f"token_id(s) {invalid} in logprob_token_ids contain out-of-vocab token ids. Vocabulary size: "
                    f"{VOCAB_SIZE}",
                    parameter="logprob_token_ids",
                    value=invalid,
                )
            if sp["logprobs"] is not None and sp["logprobs"] != len(ids):
                raise VLLMValidationError(
                    f"When both logprobs and logprob_token_ids are set, logprobs must equal len(logprob_token_ids). "
                    f"Got logprobs={sp['logprobs']}, len(logprob_token_ids)={len(ids)}.",
                    parameter="logprob_token_ids",
                    value=len(ids),
                )
    for name in ("logit_bias", "stop_token_ids"):
        if sp[name] and (invalid := _out_of_vocab(sp[name])):
            raise VLLMValidationError(
                f"token_id(s) {invalid} in {name} contain out-of-vocab token ids. Vocabulary size: {VOCAB_SIZE}",
                parameter=name,
                value=invalid,
            )
    allowed = sp["allowed_token_ids"]
    if allowed is not None and len(allowed) == 0:
        raise VLLMValidationError("allowed_token_ids is not None and empty!", parameter="allowed_token_ids", value=allowed)
    if allowed and (invalid := _out_of_vocab(allowed)):
        raise VLLMValidationError(
            "allowed_token_ids contains out-of-vocab token id!", parameter="allowed_token_ids", value=invalid
        )
    _check_structured_request(sp["structured_outputs"])
    if sp["thinking_token_budget"] is not None:  # input_processor.py:115-122: no --reasoning-parser
        raise VLLMValidationError(
            "thinking_token_budget is set but reasoning_config is not configured. Please set --reasoning-parser "
            "and/or --reasoning-config to use thinking_token_budget."
        )
    _check_prompt(prompt, max_model_len)
    if not 0 <= sp["routed_experts_prompt_start"] <= prompt.tokens:
        raise VLLMValidationError(
            f"routed_experts_prompt_start must be between 0 and the prompt length ({prompt.tokens}), inclusive.",
            parameter="routed_experts_prompt_start",
            value=sp["routed_experts_prompt_start"],
        )
    for number, word in enumerate(sp["bad_words"], 1):  # update_from_tokenizer (one token list per word here)
        if count_tokens(word.lstrip()) == 0:
            raise VLLMValidationError(
                "bad_words entries must tokenize to at least one token.", parameter="bad_words", value=sp["bad_words"]
            )
        if number > MAX_NUM_BAD_WORDS:
            raise VLLMValidationError(
                f"Too many bad words after tokenization: {number}. The max number is {MAX_NUM_BAD_WORDS}.",
                parameter="bad_words",
                value=sp["bad_words"],
            )


def _check_structured_request(outputs: StructuredOutputsParams | None) -> None:
    """_validate_structured_outputs, sampling_params.py:1074-1251 (backend "auto"; xgrammar/guidance not modelled)."""
    if outputs is None:
        return
    if isinstance(outputs.choice, list) and not outputs.choice:
        raise VLLMValidationError(f"Choice '{outputs.choice}' cannot be an empty list")
    if isinstance(outputs.grammar, str) and outputs.grammar.strip() == "":
        raise VLLMValidationError("structured_outputs.grammar cannot be an empty string")
    if isinstance(outputs.json, str) and outputs.json.strip() == "":
        raise VLLMValidationError("structured_outputs.json cannot be an empty string")
    if outputs.json_object is False:
        raise VLLMValidationError(
            "structured_outputs.json_object must be True if set; omit structured_outputs to disable structured outputs"
        )
    if outputs.regex and "\x00" in outputs.regex:
        raise VLLMValidationError("structured_outputs.regex must not contain a NUL character ('\\x00')")
    if isinstance(outputs.json, str):
        try:
            json.loads(outputs.json)
        except ValueError:  # auto: xgrammar refuses, then the fallback cannot parse it (:1216-1230)
            raise VLLMValidationError("Invalid JSON grammar specification.") from None


def _check_prompt(prompt: _Prompt, max_model_len: int) -> None:
    """_validate_prompt_len and the token-id range, input_processor.py:440-549."""
    length = prompt.tokens
    if length == 0:
        raise VLLMValidationError("The decoder prompt cannot be empty")
    if length > max_model_len:
        raise VLLMValidationError(
            f"The decoder prompt (length {length}) is longer than the maximum model length of {max_model_len}. Make "
            "sure that `max_model_len` is no smaller than the number of text tokens."
        )
    if length == max_model_len:
        raise VLLMValidationError(
            f"The decoder prompt (length {length}) plus the number of requested output tokens (at least 1) is longer "
            f"than the maximum model length of {max_model_len}. Make sure that `max_model_len` is no smaller than the "
            "number of text tokens (prompt + requested output tokens)."
        )
    if prompt.token_ids:
        if min(prompt.token_ids) < 0:
            raise VLLMValidationError(f"Token id {min(prompt.token_ids)} is out of vocabulary")
        if max(prompt.token_ids) > max(TOKENIZER_MAX_TOKEN_ID, VOCAB_SIZE - 1):
            raise VLLMValidationError(f"Token id {max(prompt.token_ids)} is out of vocabulary")


# --------------------------------------------------------------------------------------------------------------------
# Chat messages: parse_chat_messages (vllm/entrypoints/chat_utils.py:2004-2195) with the "string" content format.
# --------------------------------------------------------------------------------------------------------------------
# chat_utils.py:1643-1664, MM_PARSER_MAP: a part's "type" and the key its content is read from.
_PART_CONTENT = {
    "text": "text", "thinking": "thinking", "input_text": "text", "output_text": "text", "input_image": None,
    "image_url": None, "image_embeds": None, "audio_embeds": None, "video_embeds": None, "prompt_embeds": "data",
    "image_pil": None, "audio_url": None, "input_audio": None, "refusal": "refusal", "video_url": None,
    "tool_reference": "name",
}
_TEXT_PARTS = ("text", "input_text", "output_text", "refusal", "thinking")
_MEDIA_PARTS = ("input_image", "image_url", "image_pil", "audio_url", "input_audio", "video_url")
_EMBED_PARTS = ("image_embeds", "audio_embeds", "video_embeds")
# chat_utils.py:1705-1790: without a "type" (or with a uuid) a part is known by one of these keys, in this order.
_DIRECT_KEYS = ("image_url", "image_pil", "image_embeds", "audio_embeds", "video_embeds", "prompt_embeds", "audio_url",
                "input_audio", "video_url", "tool_reference")
SUPPORTED_PART_TYPES = sorted(_PART_CONTENT)  # chat_utils.py:1973 (MM_PARSER_MAP's keys, "text" and "refusal")


def _part(part: dict[str, Any]) -> tuple[str, Any]:
    """_parse_chat_message_content_mm_part, chat_utils.py:1687-1802: (type, content). A media part's content is
    not read (the text-only model refuses it anyway)."""
    part_type, uid = part.get("type"), part.get("uuid")
    if isinstance(part_type, str) and part_type in _PART_CONTENT and uid is None:
        key = _PART_CONTENT[part_type]
        return part_type, part.get(key) if key else "media"
    if part_type is None or uid is not None:
        for key in _DIRECT_KEYS:
            if key in part:
                content = {"prompt_embeds": part.get("data"), "tool_reference": part.get("name")}.get(key, "media")
                return key, content
        raise VLLMValidationError("Missing 'type' field in multimodal part.", parameter="type")
    if not isinstance(part_type, str):
        raise VLLMValidationError("Invalid 'type' field in multimodal part.", parameter="type")
    return part_type, "unknown part_type content"


def _message_text(parts: Any, model_name: str) -> str:
    """_parse_chat_message_content_parts and _part (chat_utils.py:1811-1975): the texts joined with "\\n". A lazily
    validated part is checked as it is reached; a bad one is pydantic's ValidationError (a ValueError: 400)."""
    texts: list[Any] = []
    iterator = iter(parts)
    while True:
        try:
            part = next(iterator)
        except StopIteration:
            break
        except ValidationError as error:
            raise _Raised() from error
        if isinstance(part, str):
            texts.append(part)
            continue
        part_type, content = _part(part)
        if part_type in ("text", "refusal") and content is None:
            continue  # skipped with a warning
        if part_type in _TEXT_PARTS or part_type == "tool_reference":
            texts.append(content)
        elif part_type in _MEDIA_PARTS:  # the multimodal tracker needs a processor: multimodal/registry.py:233-235
            raise _Raised() from ValueError(f"{model_name} is not a multimodal model")
        elif part_type in _EMBED_PARTS:  # vllm/config/model.py:1688-1689
            raise _Raised() from ValueError("The model is not multimodal.")
        elif part_type == "prompt_embeds":
            if not content:
                raise VLLMValidationError(
                    "prompt_embeds content part requires a non-empty `data` field with base64-encoded tensor bytes.",
                    parameter="prompt_embeds",
                )
            raise VLLMValidationError("You must set `--enable-prompt-embeds` to input `prompt_embeds`")
        else:
            raise VLLMValidationError(
                f"Unsupported chat content part type: {part_type!r}. Supported types: {', '.join(SUPPORTED_PART_TYPES)}.",
                parameter="type",
                value=part_type,
            )
    try:
        return "\n".join(texts)
    except TypeError as error:  # a part's text that is not a string
        raise _Raised() from error


def _conversation(messages: list[Any], model_name: str) -> list[dict[str, Any]]:
    conversation = []
    for message in messages:
        if not isinstance(message, dict):  # a harmony Message: chat_utils.py:2011 subscripts it
            raise _Raised() from TypeError("'Message' object is not subscriptable")
        content = message.get("content")
        parts = [] if content is None else [{"type": "text", "text": content}] if isinstance(content, str) else content
        turn: dict[str, Any] = {"role": message["role"], "content": _message_text(parts, model_name)}
        if message["role"] == "assistant" and message.get("tool_calls") is not None:
            turn["tool_calls"] = list(message["tool_calls"])
        conversation.append(turn)
    for turn in conversation:  # _postprocess_messages, chat_utils.py:2081-2156
        calls = turn.get("tool_calls")
        if calls is None:
            continue
        if not calls:
            turn.pop("tool_calls")
            continue
        for call in calls:
            function = call.get("function")
            if call.get("type", "function") != "function" or not isinstance(function, dict):
                raise VLLMValidationError(
                    "chat completions only support assistant tool_calls of type 'function'.", parameter="tool_calls"
                )
    return conversation


def render_chat(conversation: list[dict[str, Any]], tools: list[dict] | None, generation_prompt: bool, open_end: bool) -> str:
    """The stand-in's chat template (ChatML, as the TGI stand-in's): tools, when sent with tool_choice "none", go into
    a system turn first; an assistant's tool calls follow its content; continue_final_message leaves the last turn
    open."""
    turns = [("system", "# Tools\n" + "\n".join(json.dumps(tool) for tool in tools))] if tools else []
    for turn in conversation:
        text = turn["content"]
        for call in turn.get("tool_calls", []):
            text += "\n<tool_call>\n" + json.dumps(call.get("function")) + "\n</tool_call>"
        turns.append((turn["role"], text))
    rendered = "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns)
    if open_end and turns:
        rendered = rendered[: -len("<|im_end|>\n")]
    elif generation_prompt:
        rendered += "<|im_start|>assistant\n"
    return rendered


# --------------------------------------------------------------------------------------------------------------------
# The answer.
# --------------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Output:
    text: str
    tokens: list[str]  # the generated tokens' texts (the EOS token included)
    finish_reason: str
    stop_reason: str | None


def _generate(text: str, sp: dict[str, Any]) -> _Output:
    """The answer token by token: a word per token, then EOS; EOS ends with "stop" (vllm/v1/core/sched/utils.py:94-115),
    else the token that reaches max_tokens ends with "length"; a stop string (checked on the detokenized text, so it
    wins over length) ends with "stop" and is cut off unless include_stop_str_in_output. With ignore_eos, or before
    min_tokens, the model says its answer again instead of EOS."""
    pieces = re.findall(r"\s*\S+", text) or [" "]
    out, tokens, index = "", [], 0
    while True:
        if index >= len(pieces) and not sp["ignore_eos"] and len(tokens) >= sp["min_tokens"]:
            tokens.append(EOS_TOKEN)
            return _Output(out, tokens, "stop", None)
        piece = pieces[index % len(pieces)]
        if index >= len(pieces) and index % len(pieces) == 0:
            piece = " " + piece.lstrip()
        index += 1
        tokens.append(piece)
        out += piece
        for stop in sp["stop"]:  # earlier tokens matched none, so a match now ends in this token
            at = out.find(stop)
            if at >= 0:
                end = at + len(stop) if sp["include_stop_str_in_output"] else at
                return _Output(out[:end], tokens, "stop", stop)
        if len(tokens) >= sp["max_tokens"]:
            return _Output(out, tokens, "length", None)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """UsageInfo, vllm/entrypoints/serve/engine/protocol.py:135-140, as model_dump writes it."""
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def _chat_logprobs(tokens: list[str], top: int | None) -> dict[str, Any]:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    content = []
    for token in tokens:
        alternatives = [entry(token, -0.25), *(entry(f"<alt{k}>", -4.0 - k) for k in range(1, max(top or 0, 0)))]
        content.append({**entry(token, -0.25), "top_logprobs": alternatives[: max(top or 0, 0)]})
    return {"content": content}


def _completion_logprobs(tokens: list[str], top: int, offset: int) -> dict[str, Any]:
    offsets, position = [], offset
    for token in tokens:
        offsets.append(position)
        position += len(token)
    return {
        "text_offset": offsets,
        "token_logprobs": [-0.25] * len(tokens),
        "tokens": tokens,
        "top_logprobs": [{token: -0.25, **{f"<alt{k}>": -4.0 - k for k in range(1, top)}} for token in tokens],
    }


def _prompt_logprobs(text: str, count: int) -> list[Any]:
    words = text.split()[:count]
    return [None, *({str(1000 + i): {"logprob": -0.25, "rank": 1, "decoded_token": w}} for i, w in enumerate(words[1:]))]


def _sse(events: list[Any], refused: bool = False) -> Answer:
    chunks = [f"data: {event if isinstance(event, str) else json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n"
              for event in events]
    return Answer(200, "text/event-stream; charset=utf-8", "".join(chunks).encode(), refused=refused)


def _stream_error(exc: BaseException) -> str:
    # create_streaming_error_response (generate/base/serving.py:187-201): json.dumps with its default separators.
    status, err_type, message, param = _error_of(exc)
    return json.dumps(_error_body(status, err_type, message, param))


# --------------------------------------------------------------------------------------------------------------------
# The stand-in.
# --------------------------------------------------------------------------------------------------------------------
class VllmStandIn:
    """vLLM 0.30.0's SageMaker /invocations (AWS vLLM DLC 0.30.0), offline."""

    def __init__(
        self,
        *,
        max_model_len: int,
        answer: str = "Blue.",
        served_model_name: str = "/opt/ml/model",
        generation_config: str = "vllm",
    ) -> None:
        if max_model_len < 1:
            raise ValueError("max_model_len must be positive")
        if generation_config not in ("vllm", "auto"):
            raise ValueError("generation_config is 'vllm' (neutral defaults) or 'auto' (the model's, Qwen2.5's here)")
        self.max_model_len = max_model_len
        self.answer = answer
        self.served_model_name = served_model_name  # the response's "model" (--served-model-name, else the model path)
        self.defaults = {} if generation_config == "vllm" else dict(QWEN25_GENERATION_CONFIG)
        self.requests: list[Any] = []  # every accepted request, as received (the parsed JSON body)
        self.sampling: list[dict[str, Any]] = []  # the effective SamplingParams of each accepted prompt
        digest = hashlib.sha256(f"{served_model_name}|{max_model_len}".encode()).hexdigest()[:8]
        # --fingerprint-mode full: vllm-<version>-<hash8> (one GPU: no parallelism part);
        # vllm/entrypoints/serve/utils/fingerprint.py.
        self.system_fingerprint = f"vllm-{VLLM_VERSION}-{digest}"

    # ---- the route ---------------------------------------------------------------------------------------------
    def invoke(self, body: bytes) -> tuple[int, bytes]:
        """(HTTP status, response body) as the container would answer a request sent as application/json."""
        answer = self.respond(body)
        return answer.status, answer.body

    def respond(self, body: bytes, content_type: str | None = "application/json") -> Answer:
        """As invoke, with the answer's Content-Type, for a request sent with `content_type`."""
        media_type = (content_type or "").lower().split(";", 1)[0]
        if media_type != "application/json":  # api_utils.py:350-356 -> handlers/validation.py:149-195
            message = "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed"
            return _error_answer(_HTTPError(400, message))
        try:
            data = json.loads(body)  # starlette Request.json(), called by MHCS's transforms
        except json.JSONDecodeError as error:  # mhcs/sagemaker/sessions/transform.py:108-115
            return _error_answer(_HTTPError(400, f"JSON decode error: {error}"))
        except ValueError as error:  # bytes that are not UTF-8, an integer of more than 4300 digits
            return _error_answer(error)
        except RecursionError as error:
            return _error_answer(error)
        received = copy.deepcopy(data)
        try:
            answer = self._invocations(data)
        except (_HTTPError, _Refusal, VLLMValidationError, _Raised) as error:
            return _error_answer(error)
        if answer.status == 200 and not answer.refused:
            self.requests.append(received)
        return answer

    def _invocations(self, data: Any) -> Answer:
        try:
            session = SessionRequest.model_validate(data)
        except ValidationError as error:
            session = None
            try:
                holds_request_type = "requestType" in data
            except TypeError as raised:  # a number or null: mhcs transform.py:41
                raise _Raised() from raised
            if holds_request_type:
                raise _HTTPError(400, error.json(include_url=False)) from None
        if session is not None:  # transform.py:169-178: sessions are not enabled
            raise _HTTPError(400, "Invalid payload. stateful sessions not enabled")
        try:
            data["model"] = None  # inject_adapter_id: no X-Amzn-SageMaker-Adapter-Identifier header
        except TypeError as raised:
            raise _Raised() from raised
        for kind, handler in ((ChatCompletionRequest, self._chat), (CompletionRequest, self._complete)):
            try:
                request = kind.model_validate(data)
            except ValidationError:
                continue  # api_router.py:82-86
            except (VLLMValidationError, _HTTPError):
                raise
            except Exception as raised:  # vLLM's validators' own TypeError, KeyError, AttributeError...
                raise _Raised() from raised
            return handler(request)
        raise _Refusal(NO_HANDLER)  # api_router.py:90-96

    # ---- chat: vllm/entrypoints/openai/chat_completion/serving.py:242-415 ------------------------------------------
    def _chat(self, request: ChatCompletionRequest) -> Answer:
        choice = request.tool_choice
        if choice not in (None, "none"):  # vllm/renderers/online_renderer.py:205-226: no tool parser is configured
            if choice == "auto":
                raise _Refusal('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set')
            described = f'function "{choice.function.name}"' if not isinstance(choice, str) else f'"{choice}"'
            raise _Refusal(f"tool_choice={described} requires --tool-call-parser to be set")
        kwargs = request.chat_template_kwargs
        if request.chat_template is not None or (kwargs and kwargs.get("chat_template") is not None):
            raise _Refusal(  # online_renderer.py:579-595: --trust-request-chat-template is not set
                "Chat template is passed with request, but --trust-request-chat-template is not set. Refused request "
                "with untrusted chat template."
            )
        max_input, _ = _token_budget(request, self.max_model_len, chat=True)  # online_renderer.py:675
        conversation = _conversation(request.messages, self.served_model_name)
        if request.continue_final_message and request.add_generation_prompt:
            # transformers' apply_chat_template refuses both (add_generation_prompt defaults to true), and
            # safe_apply_chat_template (vllm/renderers/hf.py:865-880) makes that a VLLMValidationError.
            raise VLLMValidationError(
                "continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you "
                "want the model to continue the final message, and add_generation_prompt when you want to add a header "
                "that will prompt it to start a new assistant message instead."
            )
        tools = [tool.model_dump() for tool in request.tools] if request.tools else None
        text = render_chat(conversation, tools, request.add_generation_prompt, request.continue_final_message)
        tokens = _tokenized(count_tokens(text), request, self.max_model_len, max_input, from_text=True)
        prompt = _Prompt(text, tokens)
        requested = request.max_completion_tokens if request.max_completion_tokens is not None else request.max_tokens
        max_tokens = _max_tokens(self.max_model_len, requested, tokens, self.defaults, request.truncate_prompt_tokens)
        if request.use_beam_search:
            sp = _beam_params(request, max_tokens, self.defaults)
        else:
            sp = _sampling_params(request, max_tokens, self.defaults, chat=True)
        if request.stream:
            return self._chat_stream(request, sp, prompt, conversation)
        _engine_checks(sp, prompt, self.max_model_len)  # a non-streamed refusal is still a 400
        return self._chat_answer(request, sp, prompt, conversation)

    def _role(self, request: ChatCompletionRequest) -> str:
        return "assistant" if request.add_generation_prompt else request.messages[-1]["role"]  # serving.py:417-420

    def _echo(self, request: ChatCompletionRequest, conversation: list[dict[str, Any]]) -> str:
        """serving.py:1104-1115: the last message's content, when it has the answer's role."""
        if request.echo and conversation and conversation[-1]["role"] == self._role(request):
            return conversation[-1]["content"] or ""
        return ""

    def _chat_answer(self, request: ChatCompletionRequest, sp: dict, prompt: _Prompt, conversation: list) -> Answer:
        """chat_completion_full_generator, serving.py:912-1180, as JSONResponse(model_dump()) writes it."""
        output = _generate(self._output_text(sp), sp)
        self.sampling.append(sp)
        echo = self._echo(request, conversation)
        choices = []
        for index in range(sp["n"]):
            message = {
                "role": self._role(request),
                "content": echo + output.text,
                "refusal": None,
                "annotations": None,
                "audio": None,
                "function_call": None,
                "reasoning": None,  # (tool_calls is left out when empty: protocol.py:74-79)
            }
            choices.append(
                {
                    "index": index,
                    "message": message,
                    "logprobs": _chat_logprobs(output.tokens, request.top_logprobs) if request.logprobs else None,
                    "finish_reason": output.finish_reason,
                    "stop_reason": output.stop_reason,
                    "token_ids": [1000 + i for i in range(len(output.tokens))] if request.return_token_ids else None,
                    "routed_experts": None,
                }
            )
        response = {
            "id": f"chatcmpl-{request.request_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.served_model_name,
            "choices": choices,
            "service_tier": None,
            "system_fingerprint": self.system_fingerprint,
            "usage": _usage(prompt.tokens, len(output.tokens) * sp["n"]),
            "prompt_logprobs": _prompt_logprobs(prompt.text, prompt.tokens) if sp["prompt_logprobs"] is not None else None,
            "prompt_token_ids": list(range(1000, 1000 + prompt.tokens)) if request.return_token_ids else None,
            "prompt_text": prompt.text if request.return_prompt_text else None,
            "kv_transfer_params": None,
            "ec_transfer_params": None,
            "metrics": None,
        }
        return Answer(200, "application/json", _json(response))

    def _chat_stream(self, request: ChatCompletionRequest, sp: dict, prompt: _Prompt, conversation: list) -> Answer:
        """chat_completion_stream_generator (serving.py:449-910), approximated: the role chunk, the echo, one chunk per
        token, the last with its finish_reason, the usage chunk if asked, then [DONE]. An engine refusal is an error
        event after the 200 has started."""
        head = {"id": f"chatcmpl-{request.request_id}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": self.served_model_name}
        try:
            _engine_checks(sp, prompt, self.max_model_len)
        except (VLLMValidationError, _Raised) as error:
            return _sse([_stream_error(error), "[DONE]"], refused=True)
        output = _generate(self._output_text(sp), sp)
        self.sampling.append(sp)
        events: list[Any] = []
        for index in range(sp["n"]):
            delta = {"role": self._role(request), "content": ""}
            events.append({**head, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}]})
            if echo := self._echo(request, conversation):
                events.append({**head, "choices": [{"index": index, "delta": {"content": echo}, "logprobs": None,
                                                    "finish_reason": None}]})
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        visible = [t if t != EOS_TOKEN else "" for t in output.tokens]
        for index in range(sp["n"]):
            for position, piece in enumerate(visible):
                last = position == len(visible) - 1
                choice = {"index": index, "delta": {"content": piece}, "logprobs": None,
                          "finish_reason": output.finish_reason if last else None}
                if last:
                    choice["stop_reason"] = output.stop_reason
                chunk = {**head, "choices": [choice]}
                if last and not include_usage:
                    chunk["system_fingerprint"] = self.system_fingerprint
                events.append(chunk)
        if include_usage:
            usage = {k: v for k, v in _usage(prompt.tokens, len(output.tokens) * sp["n"]).items() if v is not None}
            events.append({**head, "choices": [], "usage": usage, "system_fingerprint": self.system_fingerprint})
        return _sse([*events, "[DONE]"])

    def _output_text(self, sp: dict[str, Any]) -> str:
        """What the stand-in's model says: the answer, or under a JSON constraint a document built from the schema's
        required properties (as the TGI stand-in does), or the first choice."""
        outputs = sp["structured_outputs"]
        if outputs is None:
            return self.answer
        if outputs.json is not None:
            schema = json.loads(outputs.json) if isinstance(outputs.json, str) else outputs.json
            return json.dumps(schema_instance(schema, self.answer))
        if outputs.json_object:
            return json.dumps({"answer": self.answer})
        if outputs.choice:
            return outputs.choice[0]
        return self.answer  # a regex, grammar or structural tag is not enforced

    # ---- completions: vllm/entrypoints/openai/completion/serving.py:107-280 ----------------------------------------
    def _complete(self, request: CompletionRequest) -> Answer:
        if request.stream and request.use_beam_search:
            raise _Refusal("Streaming is not currently supported with beam search")
        if request.suffix is not None:  # online_renderer.py:538-560
            raise _Refusal("suffix is not currently supported")
        if request.echo and request.prompt_embeds is not None:
            raise _Refusal("Echo is unsupported with prompt embeds.")
        if request.prompt_logprobs is not None and request.prompt_embeds is not None:
            raise _Refusal("prompt_logprobs is not compatible with prompt embeds.")
        max_input, _ = _token_budget(request, self.max_model_len, chat=False)
        items = self._prompt_items(request.prompt)  # renderers/inputs/preprocess.py:48-56
        if request.prompt_embeds is not None and request.prompt_embeds != []:  # embeds first: online_renderer.py:609-613
            raise VLLMValidationError(  # renderers/base.py:462-468 -> renderers/embed_utils.py:20-28
                "You must set `--enable-prompt-embeds` to input `prompt_embeds`.", parameter="prompt_embeds"
            )
        if not items:  # renderers/base.py:493-498
            raise _Raised() from ValueError("You must pass at least one prompt")
        prompts = []
        for item in items:
            if isinstance(item, str):
                tokens = _tokenized(count_tokens(item), request, self.max_model_len, max_input, from_text=True)
                prompts.append(_Prompt(item, tokens))
            else:
                tokens = _tokenized(len(item), request, self.max_model_len, max_input, from_text=False)
                ids = list(item[-tokens:] if request.truncation_side == "left" else item[:tokens]) if tokens else []
                prompts.append(_Prompt(" ".join(f"<{i}>" for i in item), tokens, ids))  # decoded for echo
        params = []
        for prompt in prompts:  # serving.py:150-180: every prompt's SamplingParams before any generation
            max_tokens = _max_tokens(self.max_model_len, request.max_tokens, prompt.tokens, self.defaults,
                                     request.truncate_prompt_tokens)
            if request.use_beam_search:
                params.append(_beam_params(request, max_tokens, self.defaults))
            else:
                params.append(_sampling_params(request, max_tokens, self.defaults, chat=False))
        request_id, created = f"cmpl-{request.request_id}", int(time.time())
        if request.stream:
            return self._complete_stream(request, prompts, params, request_id, created)
        for prompt, sp in zip(prompts, params, strict=True):
            _engine_checks(sp, prompt, self.max_model_len)
        choices, prompt_tokens, completion_tokens = [], 0, 0
        for prompt, sp in zip(prompts, params, strict=True):
            output = _generate(self._output_text(sp), sp)
            self.sampling.append(sp)
            for _ in range(sp["n"]):
                choices.append(self._completion_choice(request, prompt, output, len(choices)))
                completion_tokens += len(output.tokens)
            prompt_tokens += prompt.tokens
        response = {
            "id": request_id,
            "object": "text_completion",
            "created": created,
            "model": self.served_model_name,
            "choices": choices,
            "service_tier": None,
            "system_fingerprint": self.system_fingerprint,
            "usage": _usage(prompt_tokens, completion_tokens),
            "kv_transfer_params": None,
            "ec_transfer_params": None,
            "metrics": None,
        }
        return Answer(200, "application/json", _json(response))

    @staticmethod
    def _prompt_items(prompt: Any) -> list[Any]:
        if prompt is None:
            return []
        if isinstance(prompt, str) or (prompt and isinstance(prompt[0], int)):
            return [prompt]
        return list(prompt)

    def _completion_choice(self, request: CompletionRequest, prompt: _Prompt, output: _Output, index: int) -> dict:
        """request_output_to_completion_response, serving.py:503-650: with echo the text starts with the prompt (and
        with max_tokens 0 is only the prompt, though one token was generated)."""
        text, tokens = output.text, output.tokens
        if request.echo:
            text = prompt.text if request.max_tokens == 0 else prompt.text + output.text
        logprobs = None
        if request.logprobs is not None:
            shown = (prompt.text.split() if request.echo else []) + ([] if request.max_tokens == 0 else tokens)
            logprobs = _completion_logprobs(shown, max(request.logprobs, 0), 0)
        return {
            "index": index,
            "text": text,
            "logprobs": logprobs,
            "finish_reason": output.finish_reason,
            "stop_reason": output.stop_reason,
            "token_ids": [1000 + i for i in range(len(tokens))] if request.return_token_ids else None,
            "prompt_logprobs": _prompt_logprobs(prompt.text, prompt.tokens) if request.prompt_logprobs is not None else None,
            "prompt_token_ids": (prompt.token_ids or list(range(1000, 1000 + prompt.tokens))) if request.return_token_ids
            else None,
            "routed_experts": None,
        }

    def _complete_stream(self, request: CompletionRequest, prompts: list, params: list, request_id: str, created: int):
        """completion_stream_generator (serving.py:282-500), approximated as the chat stream is."""
        head = {"id": request_id, "object": "text_completion", "created": created, "model": self.served_model_name}
        try:
            for prompt, sp in zip(prompts, params, strict=True):
                _engine_checks(sp, prompt, self.max_model_len)
        except (VLLMValidationError, _Raised) as error:
            return _sse([_stream_error(error), "[DONE]"], refused=True)
        events: list[Any] = []
        prompt_tokens = completion_tokens = 0
        for number, (prompt, sp) in enumerate(zip(prompts, params, strict=True)):
            output = _generate(self._output_text(sp), sp)
            self.sampling.append(sp)
            prompt_tokens += prompt.tokens
            for n in range(sp["n"]):
                index = number * sp["n"] + n
                pieces = [t if t != EOS_TOKEN else "" for t in output.tokens]
                if request.echo:
                    pieces[0] = prompt.text + pieces[0]
                for position, piece in enumerate(pieces):
                    last = position == len(pieces) - 1
                    choice = {"index": index, "text": piece, "logprobs": None,
                              "finish_reason": output.finish_reason if last else None,
                              "stop_reason": output.stop_reason if last else None}
                    events.append({**head, "choices": [choice]})
                completion_tokens += len(output.tokens)
        if request.stream_options and request.stream_options.include_usage:
            usage = {k: v for k, v in _usage(prompt_tokens, completion_tokens).items() if v is not None}
            events.append({**head, "choices": [], "usage": usage, "system_fingerprint": self.system_fingerprint})
        return _sse([*events, "[DONE]"])


__all__ = [
    "Answer",
    "ChatCompletionRequest",
    "CompletionRequest",
    "VllmStandIn",
    "complete_from_s3",
    "count_tokens",
    "render_chat",
]
