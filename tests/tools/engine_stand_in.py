"""An offline stand-in for the SageMaker `/invocations` route of Hugging Face TGI 3.3.6, for end-to-end tests.

It accepts exactly the bodies TGI 3.3.6 accepts on `/invocations` and answers in TGI's shapes. Its rules are encoded
here from TGI's own sources, independently of the API's validation (nothing of the Lambda is imported or read).

Sources: github.com/huggingface/text-generation-inference at tag v3.3.6 (commit
efb94e0d3db6aba9d464bc9a2f83191146203152), and the crates its Cargo.lock pins: axum 0.7.9 (the JSON extractor and
its rejections), serde 1.0.219 (how the derived types deserialize). Citations below name the file at that tag:
  sagemaker.rs   router/src/sagemaker.rs    the untagged enum SagemakerRequest {Generate, Chat, Completion}
  lib.rs         router/src/lib.rs          request and response types
  server.rs      router/src/server.rs       compat_generate, chat_completions, completions, error statuses
  validation.rs  router/src/validation.rs   ranges and cross-field rules
  infer.rs       router/src/infer/mod.rs    InferError (message prefixes, error_type), best_of
  tool_grammar   router/src/infer/tool_grammar.rs, router/src/chat.rs   tools
  main.rs        launcher/src/main.rs       defaults of the limits
  tokens.py      server/text_generation_server/utils/tokens.py          stopping criteria

How a body is judged, in TGI's order:
 1. axum's Json extractor: a Content-Type other than application/json (or +json) is 415; a body over the payload
    limit 413; bytes that are not JSON 400 (text/plain "Failed to parse the request body as JSON: ..."). Trailing
    bytes after the JSON value are ignored (axum 0.7.9 axum/src/json.rs from_bytes never calls `end()`).
 2. serde: the value must deserialize into one of the three kinds, tried in order Generate, Chat, Completion
    (sagemaker.rs). If none fits, 422 text/plain "Failed to deserialize the JSON body into the target type: data did
    not match any variant of untagged enum SagemakerRequest" - not TGI's JSON error shape; it names no field, and no
    line and column (serde raises it after buffering the whole value, outside serde_json's position-fixing). The
    shapes are JSON Schemas below (Draft 2020-12), written from lib.rs's derives: no struct denies unknown fields
    (they are ignored), an `Option` field takes null, a `#[serde(default)]` non-Option field (stream, stop of
    generate, do_sample, details, parameters, stream_options, ...) refuses null, integers must be JSON integers in
    the Rust type's range, and every derived struct also deserializes from a positional JSON array (serde's
    visit_seq; Message is the exception: it has a flattened field).
 3. The handler's own checks and validation.rs, in their order; a refusal is 422 with TGI's ErrorResponse JSON
    {"error": ..., "error_type": ...} - except with "stream": true, where the route has already answered 200 with
    text/event-stream and the refusal is an event of the stream (server.rs generate_stream_internal).

Token counting (the stand-in has no tokenizer): a text's tokens are its whitespace-separated words,
len(text.split()); the chat template is ChatML-like, "<|im_start|>{role}\\n{content}<|im_end|>\\n" per message then
"<|im_start|>assistant\\n", so its role markers count as words too. The answer's tokens are its words (each with the
whitespace before it), then the end-of-sequence token "<|im_end|>" (special, left out of the text).

Not modelled: the model's own Jinja chat template (some raise a template_error, e.g. on roles that do not
alternate); outlines-core's schema-to-regex compilation (it refuses some valid schemas); a regex grammar is not
enforced on the answer; images (the model is taken as text-only, so an image URL is just text); the generation
errors 424, 429 and 500; prompt logprobs (prefill is always []); re-queued generation past 1024 new tokens. With
tools and tool_choice "auto" the stand-in's model always picks no_tool; a streamed tool call is one chunk. Duplicate
keys are refused everywhere (TGI keeps the last one inside free-form JSON such as a schema).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import extend

TGI_TAG = "v3.3.6"
TGI_COMMIT = "efb94e0d3db6aba9d464bc9a2f83191146203152"

# launcher/src/main.rs, the clap defaults (the SageMaker image sets none of them).
MAX_BEST_OF = 2  # max_best_of default "2"
MAX_STOP_SEQUENCES = 4  # max_stop_sequences default "4"
MAX_TOP_N_TOKENS = 5  # max_top_n_tokens default "5"
MAX_CLIENT_BATCH_SIZE = 4  # max_client_batch_size default "4" (prompts in one completions request)
PAYLOAD_LIMIT = 2_000_000  # payload_limit default "2000000" bytes, server.rs DefaultBodyLimit::max
# validation.rs DEFAULT_GENERATION_LENGTH: max_new_tokens counts against max_total_tokens only up to this.
DEFAULT_GENERATION_LENGTH = 1024
# server.rs: system_fingerprint is "{version}-{docker_label or 'native'}"; Cargo.toml's version is 3.3.6-dev0.
SYSTEM_FINGERPRINT = "3.3.6-dev0-native"
EOS_TOKEN = {"id": 151645, "text": "<|im_end|>", "logprob": -0.0625, "special": True}
# lib.rs default_tool_prompt(), used when tool_prompt is absent or empty.
DEFAULT_TOOL_PROMPT = (
    "\nGiven the functions available, please respond with a JSON for a function call with its proper arguments that "
    "best answers the given prompt. Respond in the format {name: function name, parameters: dictionary of argument "
    "name and its value}.Do not use variables.\n"
)

# --------------------------------------------------------------------------------------------------------------------
# The request shapes (lib.rs), as JSON Schemas built from field tables.
# --------------------------------------------------------------------------------------------------------------------
REQUIRED = "required"  # no serde default, not an Option: missing is an error
OPTIONAL = "optional"  # an Option without #[serde(default)]: missing from a map is None, but a positional array needs it
DEFAULT = "default"  # #[serde(default)]: missing is the default, in a map or at the end of an array


@dataclass(frozen=True)
class Field:
    name: str
    schema: dict[str, Any]
    missing: str = DEFAULT  # as for most of lib.rs's fields; a REQUIRED or OPTIONAL one says so
    default: Any = None
    alias: str | None = None


def _integer(bits: int, signed: bool = False) -> dict[str, Any]:
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return {"type": "integer", "minimum": low, "maximum": high}


U32, U64, I32 = _integer(32), _integer(64), _integer(32, signed=True)
USIZE = U64  # the image is 64-bit
F32 = {"type": "number"}  # serde's f32 takes any JSON number, integer or not
BOOL = {"type": "boolean"}
STRING = {"type": "string"}
ANY: dict[str, Any] = {}  # serde_json::Value: any JSON, null included


def _option(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "null"}, schema]}


def _vec(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": schema}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _struct(fields: Sequence[Field], *, tag: tuple[str, list[Any]] | None = None, positional: bool = True) -> dict:
    """A derived struct: a JSON object by field name (unknown names ignored, an alias accepted but not together
    with its field's name: serde's "duplicate field"), or, unless it has a flattened field, a JSON array by position
    (serde's visit_seq: trailing #[serde(default)] fields may be left out, nothing more may follow). With `tag`, an
    internally tagged enum's variant: the tag is one more key, or the array's first element."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    constraints: list[dict[str, Any]] = []
    for field in fields:
        properties[field.name] = field.schema
        if field.alias:
            properties[field.alias] = field.schema
            constraints.append({"not": {"required": [field.name, field.alias]}})
            if field.missing == REQUIRED:
                constraints.append({"anyOf": [{"required": [field.name]}, {"required": [field.alias]}]})
        elif field.missing == REQUIRED:
            required.append(field.name)
    prefix = [field.schema for field in fields]
    if tag:
        properties[tag[0]] = {"enum": tag[1]}
        required.insert(0, tag[0])
        prefix.insert(0, {"enum": tag[1]})
    by_name: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if constraints:
        by_name["allOf"] = constraints
    if not positional:
        return by_name
    offset = 1 if tag else 0
    needed = [offset + i for i, field in enumerate(fields) if field.missing != DEFAULT]
    least = needed[-1] + 1 if needed else offset
    by_position = {"type": "array", "prefixItems": prefix, "minItems": least, "maxItems": len(prefix)}
    return {"anyOf": [by_name, by_position]}


def _adjacently_tagged(variants: Sequence[tuple[list[Any], dict[str, Any]]], tag: str, content: str) -> dict:
    """lib.rs GrammarType, #[serde(tag = "type", content = "value")]: {"type": t, "value": v} (both required, other
    keys ignored) or the array [t, v]."""
    forms: list[dict[str, Any]] = []
    for names, schema in variants:
        forms.append({"type": "object", "properties": {tag: {"enum": names}, content: schema}, "required": [tag, content]})
        forms.append({"type": "array", "prefixItems": [{"enum": names}, schema], "minItems": 2, "maxItems": 2})
    return {"anyOf": forms}


# lib.rs GenerateParameters: every field #[serde(default)].
GENERATE_PARAMETERS = (
    Field("best_of", _option(USIZE)),
    Field("temperature", _option(F32)),
    Field("repetition_penalty", _option(F32)),
    Field("frequency_penalty", _option(F32)),
    Field("top_k", _option(I32)),
    Field("top_p", _option(F32)),
    Field("typical_p", _option(F32)),
    Field("do_sample", BOOL, default=False),
    Field("max_new_tokens", _option(U32)),
    Field("return_full_text", _option(BOOL)),
    Field("stop", _vec(STRING), default=[]),
    Field("truncate", _option(USIZE)),
    Field("watermark", BOOL, default=False),
    Field("details", BOOL, default=False),
    Field("decoder_input_details", BOOL, default=False),
    Field("seed", _option(U64)),
    Field("top_n_tokens", _option(U32)),
    Field("grammar", _option(_ref("GrammarType"))),
    Field("adapter_id", _option(STRING)),
)
_PARAMETERS_ABSENT = object()  # lib.rs: a missing `parameters` is default_parameters(), where do_sample is TRUE
# lib.rs CompatGenerateRequest (what sagemaker.rs's Generate variant holds).
COMPAT_GENERATE_REQUEST = (
    Field("inputs", STRING, REQUIRED),
    Field("parameters", _ref("GenerateParameters"), default=_PARAMETERS_ABSENT),
    Field("stream", BOOL, default=False),
)
# lib.rs ChatRequest, in declaration order (the order matters to the positional form).
CHAT_REQUEST = (
    Field("model", _option(STRING), OPTIONAL),
    Field("messages", _vec(_ref("Message")), REQUIRED),
    Field("frequency_penalty", _option(F32)),
    Field("logit_bias", _option(_vec(F32))),  # a list of numbers, not OpenAI's map
    Field("logprobs", _option(BOOL)),
    Field("top_logprobs", _option(U32)),
    Field("max_tokens", _option(U32), alias="max_completion_tokens"),
    Field("n", _option(U32)),
    Field("presence_penalty", _option(F32)),
    Field("stop", _option(_vec(STRING))),
    Field("stream", BOOL, default=False),
    Field("seed", _option(U64), OPTIONAL),
    Field("temperature", _option(F32)),
    Field("top_p", _option(F32)),
    Field("tools", _option(_vec(_ref("Tool")))),
    Field("tool_prompt", _option(STRING)),
    Field("tool_choice", _ref("ToolChoice")),  # not an Option, but null is its "auto"
    Field("response_format", _option(_ref("GrammarType"))),
    Field("stream_options", _ref("StreamOptions"), default={"include_usage": False}),
)
# lib.rs CompletionRequest.
COMPLETION_REQUEST = (
    Field("model", _option(STRING), OPTIONAL),
    Field("prompt", _ref("Prompt"), REQUIRED),
    Field("max_tokens", _option(U32)),
    Field("temperature", _option(F32)),
    Field("top_p", _option(F32)),
    Field("stream", BOOL, default=False),
    Field("seed", _option(U64), OPTIONAL),
    Field("suffix", _option(STRING)),
    Field("repetition_penalty", _option(F32)),
    Field("frequency_penalty", _option(F32)),
    Field("stop", _option(_vec(STRING))),
)
FUNCTION_DEFINITION = (  # lib.rs FunctionDefinition: `arguments` (alias `parameters`) is required, null allowed
    Field("description", _option(STRING)),
    Field("name", STRING, REQUIRED),
    Field("arguments", ANY, REQUIRED, alias="parameters"),
)
TOOL = (Field("type", STRING, REQUIRED), Field("function", _ref("FunctionDefinition"), REQUIRED))  # any type string
TOOL_CALL = (
    Field("id", STRING, REQUIRED),
    Field("type", STRING, REQUIRED),
    Field("function", _ref("FunctionDefinition"), REQUIRED),
)
FUNCTION_NAME = (Field("name", STRING, REQUIRED),)
JSON_SCHEMA_CONFIG = (Field("name", _option(STRING), OPTIONAL), Field("schema", ANY, REQUIRED))
STREAM_OPTIONS = (Field("include_usage", BOOL, default=False),)
URL = (Field("url", STRING, REQUIRED),)

# serde's variant identifiers take the variant's name, its alias, or its index (serde_derive de.rs visit_u64): the
# request is buffered as serde Content first (untagged enum), whose integers reach that visit_u64.
DEFS: dict[str, Any] = {
    "GenerateParameters": _struct(GENERATE_PARAMETERS),
    "GrammarType": _adjacently_tagged(
        [(["json", "json_object", 0], ANY), (["regex", 1], STRING), (["json_schema", 2], _ref("JsonSchemaConfig"))],
        "type",
        "value",
    ),
    "JsonSchemaConfig": _struct(JSON_SCHEMA_CONFIG),
    # lib.rs Message: role, an optional name, and #[serde(flatten)] MessageBody (untagged: {content} or {tool_calls}).
    "Message": {
        "type": "object",
        "properties": {"role": STRING, "name": _option(STRING)},
        "required": ["role"],
        "anyOf": [
            {"properties": {"content": _ref("MessageContent")}, "required": ["content"]},
            {"properties": {"tool_calls": _vec(_ref("ToolCall"))}, "required": ["tool_calls"]},
        ],
    },
    "MessageContent": {"anyOf": [STRING, _vec(_ref("MessageChunk"))]},  # untagged: a string or chunks
    "MessageChunk": {  # internally tagged by "type"
        "anyOf": [
            _struct((Field("text", STRING, REQUIRED),), tag=("type", ["text", 0])),
            _struct((Field("image_url", _ref("Url"), REQUIRED),), tag=("type", ["image_url", 1])),
        ]
    },
    "Url": _struct(URL),
    "ToolCall": _struct(TOOL_CALL),
    "Tool": _struct(TOOL),
    "FunctionDefinition": _struct(FUNCTION_DEFINITION),
    "FunctionName": _struct(FUNCTION_NAME),
    # lib.rs ToolTypeDeserializer (untagged): null ("auto"), any string ("none", "auto", "required" or a tool's name),
    # or TypedChoice {"type": "function", "function": {"name": ...}}.
    "ToolChoice": {
        "anyOf": [
            {"type": "null"},
            STRING,
            _struct((Field("function", _ref("FunctionName"), REQUIRED),), tag=("type", ["function", 0])),
        ]
    },
    "StreamOptions": _struct(STREAM_OPTIONS),
    # lib.rs Prompt, try_from PromptDeserializer: a string or a non-empty list of strings.
    "Prompt": {"anyOf": [STRING, {"type": "array", "items": STRING, "minItems": 1}]},
    "CompatGenerateRequest": _struct(COMPAT_GENERATE_REQUEST),
    "ChatRequest": _struct(CHAT_REQUEST),
    "CompletionRequest": _struct(COMPLETION_REQUEST),
}
KINDS = ("CompatGenerateRequest", "ChatRequest", "CompletionRequest")  # sagemaker.rs: the untagged enum's order


def _is_integer(_checker: Any, instance: Any) -> bool:
    # serde_json reads 1.0 or 1e2 as a float, which no Rust integer field takes; jsonschema's "integer" would.
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = extend(Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


def schema_of(kind: str) -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of one request kind."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": DEFS, "$ref": f"#/$defs/{kind}"}


VALIDATORS = {kind: _Validator(schema_of(kind)) for kind in KINDS}


# --------------------------------------------------------------------------------------------------------------------
# Answers and refusals.
# --------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    refused: bool = False  # a refusal sent as an event of a 200 stream


class InferError(Exception):
    """infer.rs InferError: its Display prefixes the message, error_type() names the kind; server.rs maps each of
    these to 422."""

    PREFIX = {"validation": "Input validation error: ", "tool_error": "Tool error: ", "template_error": "Template error: "}

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(self.PREFIX[error_type] + message)
        self.error_type = error_type


def _invalid(message: str) -> InferError:
    return InferError("validation", message)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()  # serde_json's compact UTF-8


def _error_body(error: str, error_type: str) -> dict[str, str]:
    return {"error": error, "error_type": error_type}  # lib.rs ErrorResponse


def _text(status: int, message: str) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", message.encode())


def _sse(events: list[Any]) -> Answer:
    # axum 0.7.9 response/sse.rs: "data: <json>\n\n" per event; "[DONE]" is a plain data line.
    chunks = [b"data: " + (event.encode() if isinstance(event, str) else _json(event)) + b"\n\n" for event in events]
    return Answer(200, "text/event-stream", b"".join(chunks))


def _f32(value: float | int) -> float:
    """The f32 a JSON number becomes (serde casts with `as f32`: out of range is infinity)."""
    try:
        return struct.unpack("f", struct.pack("f", float(value)))[0]
    except OverflowError:
        return math.copysign(math.inf, float(value))


# --------------------------------------------------------------------------------------------------------------------
# Reading the body as serde_json and axum 0.7.9 do.
# --------------------------------------------------------------------------------------------------------------------
class _SyntaxError(Exception):
    pass


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        # serde: "duplicate field" in a struct. (Inside free-form JSON such as a schema, TGI would keep the last
        # value; the stand-in refuses duplicates everywhere.)
        raise _DuplicateKey(sorted({key for key in keys if keys.count(key) > 1}))
    return dict(pairs)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _SyntaxError("number out of range")
    return value


def _bounded_int(text: str) -> int | float:
    value = int(text)
    if abs(value) >= 2**64:  # serde_json reads it as an f64, which may overflow
        try:
            return float(value)
        except OverflowError:
            raise _SyntaxError("number out of range") from None
    return value


def _reject_constant(name: str) -> Any:
    raise _SyntaxError(f"expected value ({name} is not JSON)")


def _check_depth_and_text(value: Any) -> None:
    """serde_json's recursion limit (128 nested arrays/objects is too deep) and its refusal of lone surrogates."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= 128:
                raise _SyntaxError("recursion limit exceeded")
            children = list(item.items()) if isinstance(item, dict) else [(None, child) for child in item]
            for key, child in children:
                if key is not None:
                    stack.append((key, depth))
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _SyntaxError("lone leading surrogate in hex escape") from None


def _read_json(body: bytes) -> Any:
    """The JSON value. Raises _SyntaxError (400: serde_json's Syntax and Eof categories) or _DuplicateKey (a Data
    error, 422)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _SyntaxError(f"invalid unicode code point ({error})") from None
    start = len(text) - len(text.lstrip(" \t\n\r"))
    if start == len(text):
        raise _SyntaxError(f"EOF while parsing a value at line {text.count(chr(10)) + 1} column 0")
    decoder = json.JSONDecoder(
        parse_float=_finite_float,
        parse_int=_bounded_int,
        parse_constant=_reject_constant,
        object_pairs_hook=_no_duplicates,
    )
    try:
        value, _ = decoder.raw_decode(text, start)
    except json.JSONDecodeError as error:
        raise _SyntaxError(f"{error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:  # e.g. an integer too long for int()
        raise _SyntaxError(str(error)) from None
    _check_depth_and_text(value)
    return value


def _is_json_content_type(content_type: str | None) -> bool:
    """axum 0.7.9 json.rs json_content_type: application/json or application/*+json."""
    if not content_type:
        return False
    essence = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = essence.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _obj(fields: Sequence[Field], value: Any) -> dict[str, Any]:
    """A struct value, by name or by position, with serde's defaults filled in (the value has passed its schema)."""
    result: dict[str, Any] = {}
    for index, field in enumerate(fields):
        if isinstance(value, list):
            present, item = index < len(value), value[index] if index < len(value) else None
        elif field.name in value:
            present, item = True, value[field.name]
        elif field.alias and field.alias in value:
            present, item = True, value[field.alias]
        else:
            present, item = False, None
        default = copy.deepcopy(field.default) if isinstance(field.default, list | dict) else field.default
        result[field.name] = item if present else default
    return result


def _tagged(value: Any, tag: str = "type") -> tuple[Any, Any]:
    """(tag, rest) of an internally or adjacently tagged value, by name or by position."""
    if isinstance(value, list):
        return value[0], value[1:]
    return value[tag], value


def _grammar(value: Any) -> tuple[str, Any] | None:
    """lib.rs GrammarType as (kind, value): kind "json", "regex" or "json_schema"."""
    if value is None:
        return None
    tag, content = (value[0], value[1]) if isinstance(value, list) else (value["type"], value["value"])
    kind = {"json": "json", "json_object": "json", 0: "json", "regex": "regex", 1: "regex"}.get(tag, "json_schema")
    if kind == "json_schema":
        content = _obj(JSON_SCHEMA_CONFIG, content)
    return kind, content


# --------------------------------------------------------------------------------------------------------------------
# The stand-in.
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class _Valid:
    """What validation.rs hands on to generation."""

    inputs: str
    input_length: int
    max_new_tokens: int  # max_total_new_tokens: what generation may use
    stop: list[str]
    do_sample: bool
    seed: int | None
    top_n_tokens: int
    grammar: tuple[str, Any] | None


@dataclass
class _Generation:
    text: str
    tokens: list[dict[str, Any]]
    top_tokens: list[list[dict[str, Any]]]
    finish_reason: str  # lib.rs FinishReason: "length", "eos_token" or "stop_sequence"
    seed: int | None


class TgiStandIn:
    """TGI 3.3.6's /invocations, offline."""

    def __init__(
        self,
        *,
        max_input_tokens: int,
        max_total_tokens: int,
        answer: str = "Blue.",
        model_id: str = "/opt/ml/model",
        default_return_full_text: bool = True,
    ) -> None:
        # launcher/src/main.rs refuses to start unless max_input_tokens < max_total_tokens.
        if not 0 < max_input_tokens < max_total_tokens:
            raise ValueError(f"`max_input_tokens`({max_input_tokens}) must be < `max_total_tokens`({max_total_tokens})")
        self.max_input_tokens = max_input_tokens
        self.max_total_tokens = max_total_tokens
        self.answer = answer
        # server.rs run(): the model id SageMaker gives (HF_MODEL_ID), a local /opt/ml/model or a Hub id.
        self.model_id = model_id
        # server.rs run(): compat_return_full_text is true when the model has no pipeline tag (a local directory such
        # as /opt/ml/model) or its Hub pipeline tag is "text-generation"; false for other Hub tags.
        self.default_return_full_text = default_return_full_text
        self.requests: list[Any] = []  # every accepted request, as received (the parsed JSON body)
        self._draws = 0

    # ---- the route ---------------------------------------------------------------------------------------------
    def invoke(self, body: bytes) -> tuple[int, bytes]:
        """(HTTP status, response body) as the container would answer: 200 with the result JSON in the shape of the
        request kind (text/event-stream for "stream": true), 422 with TGI's ErrorResponse JSON
        ({"error": ..., "error_type": "validation"}, or "tool_error") for a request it refuses, 422 text/plain for a
        body that is none of the three kinds, 400 text/plain for bytes that are not JSON, 413 over the payload limit."""
        answer = self.respond(body)
        return answer.status, answer.body

    def respond(self, body: bytes, *, content_type: str | None = "application/json") -> Answer:
        """As invoke, with the answer's Content-Type, for a request sent with `content_type`."""
        if not _is_json_content_type(content_type):  # axum Json: the header is checked before the body is read
            return _text(415, "Expected request with `Content-Type: application/json`")
        if len(body) > PAYLOAD_LIMIT:
            return _text(413, "Failed to buffer the request body: length limit exceeded")
        try:
            value = _read_json(body)
        except _SyntaxError as error:
            return _text(400, f"Failed to parse the request body as JSON: {error}")
        except _DuplicateKey:
            value = None  # JSON null is none of the kinds either
        kind = next((k for k in KINDS if VALIDATORS[k].is_valid(value)), None)
        if kind is None:  # axum JsonDataError (422) around serde's untagged-enum error
            return _text(
                422,
                "Failed to deserialize the JSON body into the target type: data did not match any variant of untagged "
                "enum SagemakerRequest",
            )
        handler = {"CompatGenerateRequest": self._generate, "ChatRequest": self._chat, "CompletionRequest": self._complete}
        try:
            answer = handler[kind](value)
        except InferError as error:  # server.rs: From<InferError> for (StatusCode, Json<ErrorResponse>)
            return Answer(422, "application/json", _json(_error_body(str(error), error.error_type)))
        if answer.status == 200 and not answer.refused:
            self.requests.append(value)
        return answer

    def diagnose(self, body: bytes) -> dict[str, list[str]]:
        """For a failing test: why the body fits none of the kinds (the schema errors per kind)."""
        value = _read_json(body)
        return {kind: [error.message for error in VALIDATORS[kind].iter_errors(value)] for kind in KINDS}

    # ---- server.rs compat_generate -------------------------------------------------------------------------------
    def _generate(self, value: Any) -> Answer:
        request = _obj(COMPAT_GENERATE_REQUEST, value)
        if request["parameters"] is _PARAMETERS_ABSENT:
            parameters = _obj(GENERATE_PARAMETERS, {})
            parameters["do_sample"] = True  # lib.rs default_parameters()
        else:
            parameters = _obj(GENERATE_PARAMETERS, request["parameters"])
        parameters["grammar"] = _grammar(parameters["grammar"])
        if parameters["return_full_text"] is None:  # server.rs compat_generate
            parameters["return_full_text"] = self.default_return_full_text
        inputs = request["inputs"]
        prefix = inputs if parameters["return_full_text"] else ""
        if request["stream"]:
            return self._generate_stream(inputs, parameters, prefix)
        best_of = parameters["best_of"]
        if best_of is not None and best_of > 1:  # server.rs generate_internal -> infer.rs generate_best_of
            self._validate_best_of(best_of)
        valid = self._validate(inputs, parameters)
        generation = self._run(valid)
        response: dict[str, Any] = {"generated_text": prefix + generation.text}
        if parameters["details"] or parameters["decoder_input_details"]:  # server.rs generate_internal
            others = [self._run(valid) for _ in range(best_of - 1)] if best_of is not None and best_of > 1 else None
            response["details"] = _details(
                generation,
                None if others is None else [{"generated_text": prefix + other.text, **_details(other)} for other in others],
            )
        return Answer(200, "application/json", _json([response]))  # server.rs: "wrap generation inside a Vec"

    def _generate_stream(self, inputs: str, parameters: dict[str, Any], prefix: str) -> Answer:
        """server.rs generate_stream_internal: 200 and text/event-stream whatever happens; a refusal is an event."""
        best_of = 1 if parameters["best_of"] is None else parameters["best_of"]
        try:
            if best_of != 1:
                raise _invalid("`best_of` != 1 is not supported when streaming tokens")
            if parameters["decoder_input_details"]:
                raise _invalid("`decoder_input_details` == true is not supported when streaming tokens")
            valid = self._validate(inputs, parameters)
        except InferError as error:
            return _refused_stream([_error_body(str(error), error.error_type)])
        generation = self._run(valid)
        events: list[Any] = []
        for index, token in enumerate(generation.tokens, start=1):
            last = index == len(generation.tokens)
            event: dict[str, Any] = {"index": index, "token": token}
            if generation.top_tokens:
                event["top_tokens"] = generation.top_tokens[index - 1]
            event["generated_text"] = prefix + generation.text if last else None
            event["details"] = (
                {
                    "finish_reason": generation.finish_reason,
                    "generated_tokens": len(generation.tokens),
                    "seed": generation.seed,
                    "input_length": valid.input_length,
                }
                if last and parameters["details"]
                else None
            )
            events.append(event)
        return _sse(events)

    # ---- server.rs chat_completions ------------------------------------------------------------------------------
    def _chat(self, value: Any) -> Answer:
        request = _obj(CHAT_REQUEST, value)
        tools = None if request["tools"] is None else [_tool(tool) for tool in request["tools"]]
        response_format = _grammar(request["response_format"])
        # lib.rs ChatRequest::try_into_generate, in its order.
        if response_format is not None and tools is not None:
            raise InferError("tool_error", "Grammar and tools are mutually exclusive")
        tool_prompt = request["tool_prompt"] or DEFAULT_TOOL_PROMPT
        messages = request["messages"]
        grammar, tools_to_use = response_format, None
        if response_format is None and tools is not None:
            tools_to_use = _tools_to_use(tools, _tool_choice(request["tool_choice"]))
        inputs = _chat_template(messages, tools_to_use, tool_prompt)
        presence = request["presence_penalty"]
        parameters = _openai_parameters(
            request,
            repetition_penalty=None if presence is None else _f32(_f32(presence) + 2.0),  # presence_penalty + 2
            top_n_tokens=request["top_logprobs"],
            grammar=("json", _tool_schema(tools_to_use)) if tools_to_use else grammar,
        )
        model = request["model"]
        model_id = self.model_id if model in (None, "tgi") else model  # server.rs: the request's model is echoed
        logprobs = bool(request["logprobs"])
        if request["stream"]:
            return self._chat_stream(inputs, parameters, messages, tool_prompt, tools_to_use, model_id, logprobs, request)
        valid = self._validate(inputs, parameters)
        generation, tool_call = self._run(valid, tools=tools_to_use), None
        if tools_to_use:
            name, arguments = _parse_tool_call(generation.text)
            if name == "no_tool":  # server.rs: generate again, without tools
                valid = self._validate(_chat_template(messages, None, tool_prompt), {**parameters, "grammar": None})
                generation = self._run(valid)
            else:
                tool_call = {
                    "id": "0",
                    "type": "function",
                    "function": {"description": None, "name": name, "arguments": json.dumps(arguments)},
                }
        message = (
            {"role": "assistant", "tool_calls": [tool_call]} if tool_call else {"role": "assistant", "content": generation.text}
        )
        response = {
            "object": "chat.completion",
            "id": "",
            "created": int(time.time()),
            "model": model_id,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": _chat_logprobs(generation.tokens, generation.top_tokens) if logprobs else None,
                    "finish_reason": _openai_finish(generation.finish_reason),
                }
            ],
            "usage": _usage(valid.input_length, len(generation.tokens)),
        }
        return Answer(200, "application/json", _json(response))

    def _chat_stream(
        self,
        inputs: str,
        parameters: dict[str, Any],
        messages: list[Any],
        tool_prompt: str,
        tools_to_use: list[dict[str, Any]] | None,
        model_id: str,
        logprobs: bool,
        request: dict[str, Any],
    ) -> Answer:
        """server.rs chat_completions with stream: events of ChatCompletionChunk, then "[DONE]"; a refusal is an
        OpenAI-style error event (infer.rs into_openai_event). A tool call is sent as one chunk (TGI streams it)."""
        try:
            valid = self._validate(inputs, parameters)
            generation = self._run(valid, tools=tools_to_use)
            tool_call = None
            if tools_to_use:
                name, arguments = _parse_tool_call(generation.text)
                if name == "no_tool":
                    valid = self._validate(_chat_template(messages, None, tool_prompt), {**parameters, "grammar": None})
                    generation = self._run(valid)
                else:
                    tool_call = (name, json.dumps(arguments))
        except InferError as error:
            return _refused_stream([_openai_error(error), "[DONE]"])

        def chunk(delta: dict[str, Any], finish: str | None, token: dict[str, Any], top: list[Any]) -> dict[str, Any]:
            choice = {
                "index": 0,
                "delta": delta,
                "logprobs": _chat_logprobs([token], [top]) if logprobs else None,
                "finish_reason": finish,
            }
            return _chat_chunk(model_id, [choice], None)

        events: list[Any] = []
        if tool_call:
            delta = {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": _next_tool_call_id(messages),
                        "type": "function",
                        "function": {"name": tool_call[0], "arguments": tool_call[1]},
                    }
                ],
            }
            events.append(chunk(delta, _openai_finish(generation.finish_reason), generation.tokens[-1], []))
        else:
            for index, token in enumerate(generation.tokens):
                last = index == len(generation.tokens) - 1
                content = "" if token["special"] else token["text"]
                top = generation.top_tokens[index] if generation.top_tokens else []
                delta = {"role": "assistant", "content": content}
                events.append(chunk(delta, _openai_finish(generation.finish_reason) if last else None, token, top))
        if request["stream_options"] and _obj(STREAM_OPTIONS, request["stream_options"])["include_usage"]:
            events.append(_chat_chunk(model_id, [], _usage(valid.input_length, len(generation.tokens))))
        return _sse([*events, "[DONE]"])

    # ---- server.rs completions -----------------------------------------------------------------------------------
    def _complete(self, value: Any) -> Answer:
        request = _obj(COMPLETION_REQUEST, value)
        prompts = [request["prompt"]] if isinstance(request["prompt"], str) else request["prompt"]
        if request["suffix"] is not None:  # server.rs completions: its own error_type, not "validation"
            message = "Suffix is not supported and can be achieved by preprocessing the prompt."
            return Answer(422, "application/json", _json(_error_body(message, "suffix not supported")))
        if len(prompts) > MAX_CLIENT_BATCH_SIZE:
            message = f"Number of prompts exceeds the maximum allowed batch size of {MAX_CLIENT_BATCH_SIZE}"
            return Answer(422, "application/json", _json(_error_body(message, "batch size exceeded")))
        parameters = _openai_parameters(request, repetition_penalty=request["repetition_penalty"])
        created = int(time.time())
        head = {"id": "", "created": created, "model": self.model_id, "system_fingerprint": SYSTEM_FINGERPRINT}
        if request["stream"]:
            events: list[Any] = []
            refused = False
            for index, prompt in enumerate(prompts):
                try:
                    valid = self._validate(prompt, parameters)
                except InferError as error:
                    events.append(_openai_error(error))
                    refused = True
                    continue
                generation = self._run(valid)
                for position, token in enumerate(generation.tokens):
                    if position < len(generation.tokens) - 1:  # lib.rs Chunk: finish_reason "" until the end
                        choice = {"index": index, "text": token["text"], "logprobs": None, "finish_reason": ""}
                        events.append(
                            {
                                "object": "text_completion",
                                "id": "",
                                "created": created,
                                "choices": [choice],
                                "model": self.model_id,
                                "system_fingerprint": SYSTEM_FINGERPRINT,
                            }
                        )
                    else:  # the last token's event is a CompletionFinal; its finish_reason is not mapped to "stop"
                        choice = {
                            "index": index,
                            "text": token["text"],
                            "logprobs": None,
                            "finish_reason": generation.finish_reason,
                        }
                        usage = _usage(valid.input_length, len(generation.tokens))
                        events.append({"object": "text_completion", **head, "choices": [choice], "usage": usage})
            return _refused_stream([*events, "[DONE]"]) if refused else _sse([*events, "[DONE]"])
        choices, prompt_tokens, completion_tokens = [], 0, 0
        for index, prompt in enumerate(prompts):
            valid = self._validate(prompt, parameters)
            generation = self._run(valid)
            prompt_tokens += valid.input_length
            completion_tokens += len(generation.tokens)
            choices.append(
                {
                    "index": index,
                    "text": generation.text,
                    "logprobs": None,
                    "finish_reason": _openai_finish(generation.finish_reason),
                }
            )
        response = {"object": "text_completion", **head, "choices": choices, "usage": _usage(prompt_tokens, completion_tokens)}
        return Answer(200, "application/json", _json(response))

    # ---- validation.rs -------------------------------------------------------------------------------------------
    def _validate_best_of(self, best_of: int) -> None:
        # validation.rs validate_best_of, called by infer.rs generate_best_of before validate().
        if MAX_BEST_OF == 1 and best_of != 1:
            raise _invalid("`best_of` != 1 is not allowed for this endpoint")
        if best_of > MAX_BEST_OF:
            raise _invalid(f"`best_of` must be > 0 and <= {MAX_BEST_OF}. Given: {best_of}")

    def _validate(self, inputs: str, p: dict[str, Any]) -> _Valid:
        """validation.rs Validation::validate, check by check in its order (the first failure is the answer)."""
        best_of = 1 if p.get("best_of") is None else p["best_of"]
        sampling = p["do_sample"] or any(p.get(k) is not None for k in ("temperature", "top_k", "top_p", "typical_p"))
        if best_of > 1 and not sampling:
            raise _invalid("you must use sampling when `best_of` is > 1")
        if _f32(1.0 if p["temperature"] is None else p["temperature"]) <= 0.0:
            raise _invalid("`temperature` must be strictly positive")
        if _f32(1.0 if p["repetition_penalty"] is None else p["repetition_penalty"]) <= 0.0:
            raise _invalid("`repetition_penalty` must be strictly positive")
        if not -2.0 <= _f32(0.0 if p["frequency_penalty"] is None else p["frequency_penalty"]) <= 2.0:
            raise _invalid("`frequency_penalty` must be >= -2.0 and <= 2.0")
        if p["top_p"] is not None and not 0.0 < _f32(p["top_p"]) < 1.0:  # 1.0 is refused: it is "no top_p"
            raise _invalid("`top_p` must be > 0.0 and < 1.0")
        if p.get("typical_p") is not None and not 0.0 < _f32(p["typical_p"]) < 1.0:
            raise _invalid("`typical_p` must be > 0.0 and < 1.0")
        if p.get("top_k") is not None and p["top_k"] <= 0:
            raise _invalid("`top_k` must be strictly positive")
        if p["max_new_tokens"] == 0:
            raise _invalid("`max_new_tokens` must be strictly positive")
        if len(p["stop"]) > MAX_STOP_SEQUENCES:
            raise _invalid(f"`stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. Given: {len(p['stop'])}")
        if p["seed"] is not None and best_of > 1:
            raise _invalid("`seed` must not be set when `best_of` > 1")
        if p["top_n_tokens"] is not None and p["top_n_tokens"] > MAX_TOP_N_TOKENS:
            raise _invalid(f"`top_n_tokens` must be >= 0 and <= {MAX_TOP_N_TOKENS}. Given: {p['top_n_tokens']}")
        if inputs == "":
            raise _invalid("`inputs` cannot be empty")
        truncate = p.get("truncate")
        if truncate is not None and (truncate == 0 or truncate > self.max_input_tokens):
            raise _invalid(f"`truncate` must be strictly positive and less than {self.max_input_tokens}. Given: {truncate}")
        tokens = count_tokens(inputs)
        input_length = min(tokens, truncate) if truncate is not None else tokens
        # validate_input: an absent max_new_tokens is what max_total_tokens leaves; only up to
        # DEFAULT_GENERATION_LENGTH of it counts against max_total_tokens (the rest is generated in re-queued chunks).
        if p["max_new_tokens"] is not None:
            max_total_new = p["max_new_tokens"]
        else:
            max_total_new = max(0, self.max_total_tokens - input_length)
        chunk = min(max_total_new, DEFAULT_GENERATION_LENGTH)
        if input_length + chunk > self.max_total_tokens:
            raise _invalid(
                f"`inputs` tokens + `max_new_tokens` must be <= {self.max_total_tokens}. "
                f"Given: {input_length} `inputs` tokens and {chunk} `max_new_tokens`"
            )
        if input_length > self.max_input_tokens:
            raise _invalid(f"`inputs` must have less than {self.max_input_tokens} tokens. Given: {input_length}")
        if p["grammar"] is not None:
            _validate_grammar(p["grammar"])
        return _Valid(
            inputs=inputs,
            input_length=input_length,
            max_new_tokens=max_total_new,
            stop=list(p["stop"]),
            do_sample=bool(p["do_sample"]),
            seed=p["seed"],
            top_n_tokens=p["top_n_tokens"] or 0,
            grammar=p["grammar"],
        )

    # ---- generation ----------------------------------------------------------------------------------------------
    def _run(self, valid: _Valid, *, tools: list[dict[str, Any]] | None = None) -> _Generation:
        """The answer, token by token, under tokens.py's StoppingCriteria: the token that reaches max_new_tokens ends
        with "length" (even the EOS token), else EOS ends with "eos_token", else output ending with a stop sequence
        ends with "stop_sequence"."""
        if tools:  # the tool grammar: with "auto" the stand-in picks no_tool, else it calls the first tool offered
            chosen = next((tool for tool in tools if tool["function"]["name"] == "no_tool"), tools[0])
            text = json.dumps({"function": _tool_call_instance(chosen, self.answer)})
        elif valid.grammar and valid.grammar[0] != "regex":
            schema = valid.grammar[1]["schema"] if valid.grammar[0] == "json_schema" else _as_schema(valid.grammar[1])
            text = json.dumps(_instance(schema, self.answer))
        else:
            text = self.answer  # a regex grammar is not enforced
        pieces = [
            {"id": 1000 + i, "text": piece, "logprob": -0.25, "special": False}
            for i, piece in enumerate(re.findall(r"\s*\S+", text))
        ]
        output, tokens, finish = "", [], "eos_token"
        for token in [*pieces, EOS_TOKEN]:
            tokens.append(dict(token))
            if not token["special"]:  # the text is decoded with skip_special_tokens
                output += token["text"]
            if len(tokens) >= valid.max_new_tokens:
                finish = "length"
                break
            if token["special"]:
                break
            if any(re.search(re.escape(stop) + "$", output) for stop in valid.stop):
                finish = "stop_sequence"
                break
        top = (
            [
                [
                    dict(token),
                    *(
                        {"id": 9000 + k, "text": f"<alt{k}>", "logprob": -4.0 - k, "special": False}
                        for k in range(1, valid.top_n_tokens)
                    ),
                ]
                for token in tokens
            ]
            if valid.top_n_tokens
            else []
        )
        seed = valid.seed
        if seed is None:  # validation.rs: "If seed is None, assign a random one" (here a reproducible draw)
            self._draws += 1
            seed = int.from_bytes(hashlib.sha256(f"{valid.inputs}|{self._draws}".encode()).digest()[:8], "big")
        seed = seed if valid.do_sample else None  # flash_causal_lm.py: `seed if do_sample else None`
        return _Generation(output, tokens, top, finish, seed)


def _details(generation: _Generation, best_of_sequences: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """lib.rs Details (and BestOfSequence, which has no best_of_sequences)."""
    details: dict[str, Any] = {
        "finish_reason": generation.finish_reason,
        "generated_tokens": len(generation.tokens),
        "seed": generation.seed,
        "prefill": [],  # prompt logprobs are off unless the launcher has --enable-prefill-logprobs
        "tokens": generation.tokens,
    }
    if best_of_sequences is not None:
        details["best_of_sequences"] = best_of_sequences
    if generation.top_tokens:  # skip_serializing_if = "Vec::is_empty"
        details["top_tokens"] = generation.top_tokens
    return details


def count_tokens(text: str) -> int:
    """The stand-in's tokenizer: whitespace-separated words."""
    return len(text.split())


def _validate_grammar(grammar: tuple[str, Any]) -> None:
    """validation.rs: a json grammar is an object, or a string holding JSON; then it must be a Draft 2020-12 schema
    with a "properties" key. json_schema: its `schema`, the same way. regex: any string (not checked by the router).
    (outlines-core's schema-to-regex compilation, which refuses some valid schemas, is not modelled.)"""
    kind, value = grammar
    if kind == "regex":
        return
    if kind == "json":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as error:
                raise _invalid(f"grammar is not valid: {error}") from None
        elif not isinstance(value, dict):
            raise _invalid("grammar is not supported")
    else:
        value = value["schema"]
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as error:
        raise _invalid(f"grammar is not valid: {error.message}") from None
    if not isinstance(value, dict) or "properties" not in value:
        raise _invalid("grammar is not valid: Grammar must have a 'properties' field")


def _as_schema(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _instance(schema: Any, answer: str, depth: int = 0) -> Any:
    """A small JSON value meant to satisfy `schema` (TGI's output follows the grammar): the required properties
    only, the answer for a string, the least number, false, [] or null."""
    if not isinstance(schema, dict) or depth > 16:
        return {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _instance(schema[key][0], answer, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {key: _instance(properties.get(key, {}), answer, depth + 1) for key in schema.get("required", [])}
    if kind == "array":
        return [_instance(schema.get("items", {}), answer, depth + 1) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return answer
    if kind in ("integer", "number"):
        low = schema["minimum"] if "minimum" in schema else schema.get("exclusiveMinimum", -1) + 1
        return math.ceil(max(0, low)) if kind == "integer" else float(max(0, low))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return {}


# ---- chat helpers -------------------------------------------------------------------------------------------------
def _tool(value: Any) -> dict[str, Any]:
    tool = _obj(TOOL, value)
    tool["function"] = _obj(FUNCTION_DEFINITION, tool["function"])
    return tool


def _tool_choice(value: Any) -> tuple[str, str | None]:
    """lib.rs ToolChoice from ToolTypeDeserializer: null is auto; a string other than none/auto/required names a
    tool; {"type": "function", "function": {"name": ...}} names one."""
    if value is None:
        return "auto", None
    if isinstance(value, str):
        return (value, None) if value in ("none", "auto", "required") else ("function", value)
    _, rest = _tagged(value)
    function = rest[0] if isinstance(rest, list) else rest["function"]
    return "function", _obj(FUNCTION_NAME, function)["name"]


def _tools_to_use(tools: list[dict[str, Any]], choice: tuple[str, str | None]) -> list[dict[str, Any]] | None:
    """tool_grammar.rs ToolGrammar::apply: the tools the grammar offers, or None when there is nothing to offer."""
    kind, name = choice
    if kind == "function":
        found = [tool for tool in tools if tool["function"]["name"] == name]
        if not found:
            raise InferError("tool_error", f"Tool with name {name} not found")
        chosen = found[:1]
    elif kind == "required":
        chosen = tools
    elif kind == "auto":
        no_tool = {
            "type": "function",
            "function": {
                "description": "Open ended response with no specific tool selected",
                "name": "no_tool",
                "arguments": {"type": "object"},
            },
        }
        chosen = [*tools, no_tool]
    else:
        chosen = []
    return chosen or None


def _tool_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """tool_grammar.rs: the grammar TGI builds (its "properties" key makes it a valid json grammar)."""
    functions = {}
    for tool in tools:
        function = tool["function"]
        arguments = function["arguments"] if isinstance(function["arguments"], dict) else {}
        properties = {"_name": {"type": "string", "const": function["name"]}, **(arguments.get("properties") or {})}
        required = ["_name", *(arguments.get("required") or [])]
        functions[function["name"]] = {
            "description": function["description"] or "",
            "properties": properties,
            "required": required,
        }
    refs = [{"$ref": f"#/$functions/{tool['function']['name']}"} for tool in tools]
    return {"$functions": functions, "properties": {"function": {"anyOf": refs}}}


def _tool_call_instance(tool: dict[str, Any], answer: str) -> dict[str, Any]:
    function = tool["function"]
    arguments = function["arguments"] if isinstance(function["arguments"], dict) else {}
    properties = arguments.get("properties") or {}
    values = {key: _instance(properties.get(key, {}), answer) for key in arguments.get("required") or []}
    return {"_name": function["name"], **values}


def _parse_tool_call(text: str) -> tuple[str, dict[str, Any]]:
    """chat.rs parse_output: {"function": {"_name": ..., <arguments>}}."""
    try:
        call = json.loads(text)["function"]
        name = call.pop("_name")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InferError("tool_error", f"Failed to parse generated text: {error} {text!r}") from None
    return name, call


def _next_tool_call_id(messages: list[Any]) -> str:
    """lib.rs next_tool_call_id: one more than the largest integer id of earlier tool calls (else a UUID; here 0)."""
    ids = [0]
    for message in messages:
        calls = [] if _has_content(message) else message["tool_calls"]
        for call in calls:
            call_id = _obj(TOOL_CALL, call)["id"]
            if call_id.isdigit():
                ids.append(int(call_id) + 1)
    return str(max(ids))


_MESSAGE_CONTENT = _Validator({"$defs": DEFS, "$ref": "#/$defs/MessageContent"})


def _has_content(message: dict[str, Any]) -> bool:
    """lib.rs MessageBody is untagged: {content} when `content` is a valid MessageContent, else {tool_calls}."""
    return "content" in message and _MESSAGE_CONTENT.is_valid(message["content"])


def _message_text(message: dict[str, Any]) -> str:
    """lib.rs From<Message> for TextMessage: chunks are joined, an image is "![](url)", tool calls are their JSON."""
    if _has_content(message):
        content = message["content"]
        if isinstance(content, str):
            return content
        parts = []
        for chunk in content:
            tag, rest = _tagged(chunk)
            if tag in ("text", 0):
                parts.append(rest[0] if isinstance(rest, list) else rest["text"])
            else:
                url = _obj(URL, rest[0] if isinstance(rest, list) else rest["image_url"])["url"]
                parts.append(f"![]({url})")
        return "".join(parts)
    return json.dumps(message["tool_calls"], separators=(",", ":"))


def _chat_template(messages: list[Any], tools: list[dict[str, Any]] | None, tool_prompt: str) -> str:
    """The stand-in's chat template (ChatML-like; the model's own Jinja template is not modelled). With tools, TGI
    appends them and the tool prompt to the last message (chat_template.rs apply, default tool template), so they
    count against the input tokens."""
    turns = [(message["role"], _message_text(message)) for message in messages]
    if tools and turns and _has_content(messages[-1]):
        role, text = turns[-1]
        turns[-1] = (role, f"{text}\n---\n{json.dumps(tools, separators=(',', ':'))}\n{tool_prompt}")
    rendered = "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns)
    rendered += "<|im_start|>assistant\n"
    if turns and turns[-1][0] == "assistant":  # chat_template.rs: a final assistant message is continued
        index = rendered.rfind(turns[-1][1])
        if index >= 0:
            rendered = rendered[: index + len(turns[-1][1])].rstrip()
    return rendered


def _chat_logprobs(tokens: list[dict[str, Any]], top_tokens: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """lib.rs ChatCompletionLogprobs."""
    content = []
    for index, token in enumerate(tokens):
        top = top_tokens[index] if index < len(top_tokens) else []
        content.append(
            {
                "token": token["text"],
                "logprob": token["logprob"],
                "top_logprobs": [{"token": t["text"], "logprob": t["logprob"]} for t in top],
            }
        )
    return {"content": content}


def _openai_parameters(
    request: dict[str, Any], repetition_penalty: Any, top_n_tokens: Any = None, grammar: Any = None
) -> dict[str, Any]:
    """GenerateParameters as server.rs builds them for chat (lib.rs try_into_generate) and for completions: the
    OpenAI fields they share, greedy only when temperature is 0; what differs between the two is given."""
    temperature = request["temperature"]
    greedy = temperature is not None and _f32(temperature) == 0.0  # "enable greedy only when temperature is 0"
    return {
        "best_of": None,
        "temperature": None if greedy else temperature,
        "repetition_penalty": repetition_penalty,
        "frequency_penalty": request["frequency_penalty"],
        "top_k": None,
        "top_p": request["top_p"],
        "typical_p": None,
        "do_sample": not greedy,
        "max_new_tokens": request["max_tokens"],
        "stop": request["stop"] or [],
        "truncate": None,
        "seed": request["seed"],
        "top_n_tokens": top_n_tokens,
        "grammar": grammar,
    }


def _chat_chunk(model_id: str, choices: list[Any], usage: dict[str, int] | None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "id": "",
        "created": int(time.time()),
        "model": model_id,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": choices,
        "usage": usage,
    }


def _openai_finish(reason: str) -> str:
    return "stop" if reason == "eos_token" else reason  # lib.rs FinishReason::format(true)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _openai_error(error: InferError) -> dict[str, Any]:
    return {"error": {"message": str(error), "http_status_code": 422}}  # infer.rs into_openai_event


def _refused_stream(events: list[Any]) -> Answer:
    answer = _sse(events)
    return Answer(answer.status, answer.content_type, answer.body, refused=True)


# --------------------------------------------------------------------------------------------------------------------
# SageMaker asynchronous inference.
# --------------------------------------------------------------------------------------------------------------------
def _split_s3(location: str) -> tuple[str, str]:
    parsed = urlparse(location)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an s3://bucket/key location: {location}")
    return parsed.netloc, parsed.path.lstrip("/")


def complete_from_s3(
    s3: Any,
    *,
    input_location: str,
    output_location: str,
    failure_location: str,
    stand_in: TgiStandIn,
    content_type: str | None = "application/json",
) -> None:
    """What SageMaker does with one async request: read the input object, call the container, write the answer to
    the output location on 2xx, or the error to the failure location otherwise (SageMaker writes the container's
    error body there). `content_type` is the ContentType of the InvokeEndpointAsync call."""
    bucket, key = _split_s3(input_location)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    answer = stand_in.respond(body, content_type=content_type)
    target = output_location if 200 <= answer.status < 300 else failure_location
    bucket, key = _split_s3(target)
    s3.put_object(Bucket=bucket, Key=key, Body=answer.body, ContentType=answer.content_type)


__all__ = [
    "Answer",
    "TgiStandIn",
    "complete_from_s3",
    "count_tokens",
    "schema_of",
    "DEFS",
    "KINDS",
]
