"""What the engine, vLLM 0.30.0 (AWS's vLLM DLC for SageMaker), accepts: the field rules its shapes share.

The container's /invocations validates a body as a ChatCompletionRequest, else as a CompletionRequest
(vllm/entrypoints/serve/sagemaker/api_router.py:82-88 (vLLM 0.30.0)): a chat body that fails a type check falls
through to completions and gets a 400 naming the prompt, so the Lambda checks first. A comment beside each rule cites
`vllm/<path>:<line> (vLLM 0.30.0)`, the wheel's in-package path; "ours" marks a refusal of something vLLM accepts.
docs/request-contract.md ("vLLM 0.30.0") lists every rule. The generic helpers (Invalid, apply, nullable) are tgi.py's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from inference_api import tgi
from inference_api.tgi import DROP, Check, Invalid, boolean, described, integer, nullable, or_null, string

# The server's defaults; the container's environment must not change them (docs/request-contract.md).
MAX_STOP_STRINGS = 4  # VLLM_MAX_STOP_STRINGS: vllm/envs.py:112,1133 (vLLM 0.30.0)
MAX_LOGPROBS = 20  # --max-logprobs: vllm/config/model.py:254 (vLLM 0.30.0)
MAX_PROMPTS = 4  # ours: vLLM takes 1024 (VLLM_MAX_COMPLETION_PROMPTS, vllm/envs.py:111); TGI's contract takes 4
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # pydantic Field(ge, le) of seed; the engine's MessagePack integers

def is_number(value: Any) -> bool:
    """A JSON number pydantic reads into a float (a double). Booleans and numeric strings, which pydantic's lax mode
    would also read, are refused (ours); infinity cannot reach here (request.py refuses it)."""
    return (tgi.is_int(value) or isinstance(value, float)) and math.isfinite(value)


def number(allowed: str, accepts: Callable[[float], bool]) -> Check:
    return tgi.rule(lambda value: is_number(value) and accepts(value), allowed, {"type": "number"})


# SamplingParams._verify_args, run by to_sampling_params in the serving layer (a 400 there).
temperature = number("a number with 0 ≤ value ≤ 2 (0: greedy)", lambda v: 0 <= v <= 2)  # vllm/sampling_params.py:571-588
top_p = number("a number with 0 < value ≤ 1", lambda v: 0 < v <= 1)  # vllm/sampling_params.py:589-594 (vLLM 0.30.0)
min_p = number("a number with 0 ≤ value ≤ 1", lambda v: 0 <= v <= 1)  # vllm/sampling_params.py:604-605 (vLLM 0.30.0)
penalty = number("a number with -2 ≤ value ≤ 2", lambda v: -2 <= v <= 2)  # vllm/sampling_params.py:553-560 (vLLM 0.30.0)
repetition_penalty = number("a number > 0", lambda v: v > 0)  # vllm/sampling_params.py:561-570 (vLLM 0.30.0)
# top_k: an int, -1 ≤ top_k (vllm/sampling_params.py:595-603); above the vocabulary it keeps all tokens
# (vllm/v1/worker/gpu_input_batch.py:410-415); int64 is the engine's MessagePack limit (sampling_params.py:665-666).
top_k = integer(-1, INT64_MAX, " (0 or -1: no top-k)")
# Field(ge=-2**63, le=2**63-1): vllm/entrypoints/openai/chat_completion/protocol.py:231, completion/protocol.py:64;
# -1 is read as no seed (vllm/sampling_params.py:498-499 (vLLM 0.30.0)).
seed = integer(INT64_MIN, INT64_MAX, " (an int64; -1: random)")


_STOP = {"type": "string", "minLength": 1}


@described(
    f"a non-empty string or a list of at most {MAX_STOP_STRINGS} of them",
    {"anyOf": [_STOP, {"type": "array", "items": _STOP, "maxItems": MAX_STOP_STRINGS}]},
)
def stop(field: str, value: Any) -> Any:
    # StopParam: str | list[str] of at most VLLM_MAX_STOP_STRINGS | None (vllm/entrypoints/generate/base/protocol.py:28-30);
    # no empty string (vllm/sampling_params.py:650-651 (vLLM 0.30.0)); a string is one stop (sampling_params.py:507-508).
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or len(stops) > MAX_STOP_STRINGS or not all(isinstance(s, str) and s for s in stops):
        raise Invalid(field, f"a non-empty string or a list of at most {MAX_STOP_STRINGS} of them", value)
    return value


@described("false, null or absent", or_null({"const": False}))
def stream(field: str, value: Any) -> Any:
    # `stream: bool | None` (chat protocol.py:233, completion/protocol.py:66 (vLLM 0.30.0)); true is refused (ours):
    # the async endpoint writes one result.
    if value is True:
        raise Invalid(field, "false or absent: an async endpoint cannot stream; poll GET /invocations/{id}")
    if value is not False and value is not None:
        raise Invalid(field, "false, null or absent", value)
    return DROP if value is None else value


@described(
    "null, {} or absent (vLLM takes stream options only with stream true)", or_null({"type": "object", "maxProperties": 0})
)
def stream_options(field: str, value: Any) -> Any:
    # Only with stream true: a non-empty object is a 400 (chat_completion/protocol.py:797-808,
    # completion/protocol.py:554-565 (vLLM 0.30.0)); `{}` and null are accepted and mean nothing: dropped.
    if value is not None and value != {}:
        raise Invalid(field, "null, {} or absent (vLLM takes stream options only with stream true)", value)
    return DROP


@described("a string", or_null({"type": "string"}))
def model(field: str, value: Any) -> Any:
    # `model: str | None` (chat protocol.py:217, completion/protocol.py:49). On /invocations the container overwrites
    # it from the X-Amzn-SageMaker-Adapter-Identifier header, which InvokeEndpointAsync cannot send, with null: the base
    # model answers (vllm/entrypoints/serve/sagemaker/api_router.py:65 (vLLM 0.30.0), model-hosting-container-standards
    # 0.1.16 inject_adapter_id). Checked as a string and dropped (ours): the container sets model to null.
    if value is not None and not isinstance(value, str):
        raise Invalid(field, "a string", value)
    return DROP


@described("1: one completion per inference (several: send several requests)", {"const": 1})
def one(field: str, value: Any) -> Any:
    # n: 1 ≤ n ≤ VLLM_MAX_N_SEQUENCES (vllm/sampling_params.py:35-48), 1 when greedy (:684-688 (vLLM 0.30.0)).
    # Only 1 (ours): the result's `text` is choices[0], and n > 1 multiplies the tokens one request holds in the batch.
    if not tgi.is_int(value) or value != 1:
        raise Invalid(field, "1: one completion per inference (several: send several requests)", value)
    return value


@described(
    "an object keyed by token ids (decimal digits) whose values are numbers (clamped to -100…100)",
    {"type": "object", "propertyNames": {"pattern": "^[0-9]+$"}, "additionalProperties": {"type": "number"}},
)
def logit_bias(field: str, value: Any) -> Any:
    # dict[str, float] (chat protocol.py:219, completion/protocol.py:59); keys are read with int() and values clamped to
    # ±100 (vllm/sampling_params.py:421-446); a negative id is refused (:925-943). Decimal digits only (ours: int() also
    # reads " 7", "+7", "٧"). The container refuses an id beyond the model's vocabulary (:925-943), unknown here.
    tgi.obj(field, value)
    for key, bias in value.items():
        if not re.fullmatch(r"[0-9]+", key):
            raise Invalid(f"{field}.{key[:40]}", "keyed by a token id (decimal digits)", key)
        if not is_number(bias):
            raise Invalid(f"{field}.{key}", "a number (clamped to -100…100)", bias)
    return value


# ≥ 0, or -1 for the whole vocabulary (chat protocol.py:852-858, completion/protocol.py:541-550), at most
# --max-logprobs 20 (vllm/sampling_params.py:838-853 (vLLM 0.30.0)): -1 (the vocabulary) exceeds it.
logprobs_count = integer(0, MAX_LOGPROBS, " (vLLM's --max-logprobs)")


_FORMAT_TYPES = ("text", "json_object", "json_schema")


@described(
    f'an object {{"type"}}, type one of {", ".join(_FORMAT_TYPES)}, with "json_schema" {{"name", "schema"}} for json_schema',
    tgi.tagged_schema(_FORMAT_TYPES, ("type",), json_schema={"type": "object"}),
)
def response_format(field: str, value: Any) -> Any:
    """ResponseFormat {type: text | json_object | json_schema, json_schema} (vllm/entrypoints/generate/base/protocol.py:125-128
    (vLLM 0.30.0)). The structural_tag forms (:109-122) are refused (ours: xgrammar-specific)."""
    kind = tgi.obj(field, value).get("type")
    if kind not in _FORMAT_TYPES:
        raise Invalid(f"{field}.type", f"one of {', '.join(_FORMAT_TYPES)}", value.get("type", DROP))
    if kind != "json_schema":
        tgi.apply(value, {"type": string}, f"{field}.")
        return value
    tgi.apply(value, {"type": string, "json_schema": _json_schema}, f"{field}.")
    # "the 'json_schema' field must be provided" (chat_completion/protocol.py:779-790, completion/protocol.py:440-451).
    tgi.require(value, "json_schema", f"{field}.", 'an object with "name" and "schema"')
    return value


def _json_schema(field: str, value: Any) -> Any:
    # JsonSchemaResponseFormat: name required, description, schema (alias of json_schema), strict
    # (vllm/entrypoints/generate/base/protocol.py:92-98 (vLLM 0.30.0)). Without name the chat body fails validation.
    rules = {"name": string, "description": nullable(string), "schema": json_schema_object, "strict": nullable(boolean)}
    tgi.apply(tgi.obj(field, value), rules, f"{field}.")
    tgi.require(value, "name", f"{field}.", "a string")
    # A null or absent schema becomes StructuredOutputsParams(json=None), which has no constraint: a 400
    # (generate/base/protocol.py:147-150,163-164; vllm/sampling_params.py:123-127 (vLLM 0.30.0)).
    tgi.require(value, "schema", f"{field}.", "a JSON Schema object")
    return value


# dict[str, Any]; the engine compiles it (xgrammar, or guidance for what xgrammar lacks) and refuses what fails.
json_schema_object = tgi.rule(lambda value: isinstance(value, dict), "a JSON Schema object", {"type": "object"})


@described("a JSON Schema object, or a string holding one", {"anyOf": [{"type": "object"}, {"type": "string"}]})
def json_schema_or_text(field: str, value: Any) -> Any:
    # json: str | dict (vllm/sampling_params.py:90): a schema object, or a string holding one.
    schema = value
    if isinstance(value, str):
        try:
            schema = json.loads(value)
        except ValueError:
            raise Invalid(field, "a JSON Schema object, or a string holding one", value) from None
    if not isinstance(schema, dict):
        raise Invalid(field, "a JSON Schema object, or a string holding one", value)
    return value


@described("a non-empty list of strings", {"type": "array", "items": {"type": "string"}, "minItems": 1})
def _choice(field: str, value: Any) -> Any:
    # choice: list[str] (vllm/sampling_params.py:92); an empty list would constrain to nothing (ours).
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise Invalid(field, "a non-empty list of strings", value)
    return value


@described("true", {"const": True})
def _true(field: str, value: Any) -> Any:
    # json_object: bool | None; any non-null value counts as the constraint (vllm/sampling_params.py:94,114): true only (ours).
    if value is not True:
        raise Invalid(field, "true", value)
    return value


_CONSTRAINTS: dict[str, Check] = {
    "json": json_schema_or_text,
    "regex": string,
    "choice": _choice,
    "grammar": string,
    "json_object": _true,
}
_CONSTRAINT_RULES = {name: nullable(check) for name, check in _CONSTRAINTS.items()}


@described(
    f"an object with exactly one of {', '.join(_CONSTRAINTS)}",
    {
        "type": "object",
        "properties": {name: tgi.field_schema(check) for name, check in _CONSTRAINT_RULES.items()},
        "minProperties": 1,
        "additionalProperties": False,
    },
)
def structured_outputs(field: str, value: Any) -> Any:
    """StructuredOutputsParams: exactly one constraint (vllm/sampling_params.py:87-127 (vLLM 0.30.0)). Its
    structural_tag and whitespace options are refused (ours: as unknown keys)."""
    tgi.apply(tgi.obj(field, value), _CONSTRAINT_RULES, f"{field}.")
    given = [name for name in _CONSTRAINTS if value.get(name) is not None]
    if len(given) != 1:
        # "You can only use one kind of structured outputs constraint" / "You must use one kind" (:106-127).
        raise Invalid(field, f"an object with exactly one of {', '.join(_CONSTRAINTS)}", given or value)
    return value


def constrained(body: dict[str, Any]) -> bool:
    """Whether the body asks for a structured output (a JSON or a structured_outputs constraint)."""
    kind = (body.get("response_format") or {}).get("type")
    return kind in ("json_object", "json_schema") or body.get("structured_outputs") is not None


def one_constraint(body: dict[str, Any]) -> None:
    # response_format replaces the matching constraint of structured_outputs and keeps the others: a regex beside a
    # json_schema is two constraints, a 400 (generate/base/protocol.py:163-166; vllm/sampling_params.py:118-122
    # (vLLM 0.30.0)), and a json beside one is silently replaced. One of the two, always (ours).
    kind = (body.get("response_format") or {}).get("type")
    if kind in ("json_object", "json_schema") and body.get("structured_outputs") is not None:
        raise Invalid("structured_outputs", "absent or null when response_format is json_object or json_schema (one constraint)")


def truncate_prompt_tokens(field: str, value: Any, max_model_len: int, max_tokens: int) -> Any:
    # Field(ge=-1) (completion/protocol.py:86), at most max_model_len − max_tokens (vllm/renderers/params.py:251-263
    # (vLLM 0.30.0)); -1 keeps as many as fit. 0 would keep none of the prompt (:475-476): refused (ours).
    bound = max_model_len - max_tokens
    if not tgi.is_int(value) or not (value == -1 or 1 <= value <= bound):
        raise Invalid(field, f"-1 or an integer 1–{bound} (max_model_len − max_tokens)", value)
    return value


@described('"left" or "right"', {"enum": ["left", "right"]})
def truncation_side(field: str, value: Any) -> Any:
    # Literal["left", "right"] | None (completion/protocol.py:87-94): "left" keeps the last tokens (vLLM 0.30.0).
    if value not in ("left", "right"):
        raise Invalid(field, '"left" or "right"', value)
    return value
