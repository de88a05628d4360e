"""Validation of a `POST /invocations` body before anything is written, in one of the three shapes TGI's
SageMaker route takes (router/src/sagemaker.rs (TGI v3.3.6)): chat completions, completions, or generate.

The envelope (size, media type, JSON) is checked here, the same for every engine; the fields by the engine's
rules: TGI's (tgi.py and tgi_*.py) or vLLM's (vllm.py and vllm_*.py, where generate becomes a completions request).
What passes is what the container receives and accepts; docs/request-contract.md lists every rule.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from inference_api import tgi, tgi_generate, tgi_openai, vllm_chat, vllm_completions, vllm_generate
from inference_api.contract import RequestLimits
from inference_api.tgi import Invalid, Rules, TokenBudget
from inference_api.tgi_generate import parse_generate
from inference_api.tgi_openai import parse_chat, parse_completions
from inference_api.vllm_chat import parse_chat as parse_vllm_chat
from inference_api.vllm_completions import parse_completions as parse_vllm_completions
from inference_api.vllm_generate import parse_generate as parse_vllm_generate


@dataclass(frozen=True)
class RequestError(Exception):
    """A client error: answered with `status` and `{"error": {"code", "message"}}`, nothing written."""

    status: int
    code: str
    message: str

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass(frozen=True)
class Limits(RequestLimits):
    """The environment's request limits (contract.RequestLimits), checked for consistency."""

    @classmethod
    def of(cls, environment: RequestLimits) -> Limits:
        """The limits an environment carries (ApiEnvironment, batch_jobs.contract.BatchEnvironment)."""
        return cls(**{field.name: getattr(environment, field.name) for field in dataclasses.fields(RequestLimits)})

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not tgi.is_int(value) or value < 1:
                raise ValueError(f"Limits.{field.name} must be an integer ≥ 1 (got {value!r})")
        if self.max_input_tokens >= self.max_total_tokens:
            raise ValueError("Limits.max_input_tokens must be < max_total_tokens (TGI refuses to start otherwise)")
        if not self.default_max_new_tokens <= self.max_new_tokens <= self.max_total_tokens - 1:
            raise ValueError("Limits: default_max_new_tokens ≤ max_new_tokens ≤ max_total_tokens − 1 must hold")

    @property
    def budget(self) -> TokenBudget:
        return TokenBudget(default=self.default_max_new_tokens, maximum=self.max_new_tokens)


@dataclass(frozen=True)
class EngineRequest:
    shape: str
    """"chat", "completions" or "generate": the shape the caller sent (vLLM receives generate as completions)."""
    body: dict[str, Any]
    """Exactly what the container receives."""
    payload: bytes
    """`body` serialized as the container receives it (container_payload): what the API writes to S3."""


# The key that names each shape. TGI's untagged enum tries generate, then chat, then completions
# (router/src/sagemaker.rs (TGI v3.3.6)); a body with two of these keys is refused (ours), not guessed.
SHAPES = {"messages": "chat", "prompt": "completions", "inputs": "generate"}
_SHAPE_NAMES = '"messages" (chat completions), "prompt" (completions) or "inputs" (generate)'


ENGINES = ("tgi", "vllm")


def parse_request(body: str | bytes | None, content_type: str | None, limits: Limits, engine: str = "tgi") -> EngineRequest:
    """The request as the engine's container ("tgi" or "vllm") will receive it, or a `RequestError` (413, 415 or 400)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    request = _json_object(body, content_type, limits, engine)
    keys = [key for key in SHAPES if key in request]
    if len(keys) != 1:
        which = "one" if not keys else "only one"
        raise _error(Invalid("body", f"an object with {which} of {_SHAPE_NAMES}", keys or sorted(request)))
    shape = SHAPES[keys[0]]
    try:
        if engine == "vllm":
            forwarded, prompts = _parse_vllm(shape, request, limits)
        elif shape == "chat":
            forwarded, prompts = parse_chat(request, limits.budget)
        elif shape == "completions":
            forwarded, prompts = parse_completions(request, limits.budget)
        else:
            forwarded, prompts = parse_generate(request, limits.budget, limits.max_input_tokens)
    except Invalid as invalid:
        raise _error(invalid) from None
    size = sum(len(prompt.encode(errors="surrogatepass")) for prompt in prompts)
    if size > limits.max_inputs_bytes:
        # Ours: the Lambda has no tokenizer; TGI still refuses an input over MAX_INPUT_TOKENS in the container.
        where = {"chat": "messages[].content", "completions": "prompt", "generate": "inputs"}[shape]
        raise RequestError(413, "PayloadTooLarge", f"{where}: must be at most {limits.max_inputs_bytes} bytes (got {size})")
    return EngineRequest(shape, forwarded, _checked_payload(forwarded))


def shape_rules(engine: str, limits: Limits) -> dict[str, Rules]:
    """Each shape's field rules, as the engine's parser applies them: what the OpenAPI document describes
    (llm_async_tools/openapi.py). The rules across fields, and the limits on bytes, stay in the parsers and above."""
    budget = limits.budget
    if engine == "vllm":
        return {
            "chat": vllm_chat.chat_rules(budget),
            "completions": vllm_completions.completions_rules(budget),
            "generate": vllm_generate.generate_rules(budget),
        }
    return {
        "chat": tgi_openai.chat_rules(budget),
        "completions": tgi_openai.completions_rules(budget),
        "generate": tgi_generate.generate_rules(budget, limits.max_input_tokens),
    }


def _parse_vllm(shape: str, request: dict[str, Any], limits: Limits) -> tuple[dict[str, Any], list[str]]:
    # vLLM counts prompt and budget against max_model_len, which the container sets to max_total_tokens (vllm.py).
    if shape == "chat":
        return parse_vllm_chat(request, limits.budget)
    if shape == "completions":
        return parse_vllm_completions(request, limits.budget, limits.max_total_tokens)
    return parse_vllm_generate(request, limits.budget, limits.max_total_tokens)


def _error(invalid: Invalid) -> RequestError:
    return RequestError(400, "InvalidParameter", str(invalid))


def _json_object(body: str | bytes | None, content_type: str | None, limits: Limits, engine: str) -> dict[str, Any]:
    raw = body.encode(errors="surrogatepass") if isinstance(body, str) else (body or b"")
    if len(raw) > limits.max_body_bytes:
        raise RequestError(413, "PayloadTooLarge", f"body: must be at most {limits.max_body_bytes} bytes (got {len(raw)})")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise RequestError(415, "UnsupportedMediaType", f"Content-Type: must be application/json (got {content_type!r})")
    try:
        request = json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_without_repeats)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, "MalformedJson", f"body: must be a JSON object ({error})") from None
    except RecursionError:
        raise RequestError(400, "MalformedJson", _NESTING[engine]) from None
    if not isinstance(request, dict):
        raise RequestError(400, "MalformedJson", f"body: must be a JSON object (got {type(request).__name__})")
    depth = _depth(request)
    if depth > MAX_NESTING:
        raise RequestError(400, "MalformedJson", f"{_NESTING[engine]} (got {depth})")
    return request


# serde_json refuses a 128th nested array or object ("recursion limit exceeded"; its remaining_depth starts at
# 128, router/Cargo.lock pins serde_json 1.0.140 without unbounded_depth (TGI v3.3.6)). vLLM's json.loads reads
# deeper: the same limit is ours there.
MAX_NESTING = 127
_NESTING = {
    "tgi": f"body: must be a JSON object nested at most {MAX_NESTING} levels deep, TGI's JSON parser limit",
    "vllm": f"body: must be a JSON object nested at most {MAX_NESTING} levels deep",
}


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _reject_constant(name: str) -> None:
    # NaN and Infinity are not JSON; serde_json refuses them too.
    raise ValueError(f"{name} is not JSON")


def _without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # serde refuses a struct field given twice ("duplicate field"); Python would keep the last. Refused
    # everywhere (ours where TGI reads a free JSON value), so what we check is what the container reads.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {json.dumps(repeated)[:80]} repeated")
    return obj


def _checked_payload(forwarded: dict[str, Any]) -> bytes:
    try:
        # Serialized as inferences.py writes it (container_payload: UTF-8, no ASCII escapes, which would double
        # the size of non-Latin text) for the container, which refuses a body over its payload limit
        # (launcher/src/main.rs, --payload-limit; router/src/server.rs (TGI v3.3.6)). serde_json refuses an
        # unpaired surrogate escape, which UTF-8 cannot encode either.
        payload = container_payload(forwarded)
    except UnicodeEncodeError:
        raise RequestError(400, "MalformedJson", "body: must be valid Unicode (unpaired surrogate escape)") from None
    if len(payload) > tgi.PAYLOAD_LIMIT_BYTES:
        message = f"body: must be at most {tgi.PAYLOAD_LIMIT_BYTES} bytes as the container receives it (got {len(payload)})"
        raise RequestError(413, "PayloadTooLarge", message)
    return payload


def container_payload(forwarded: dict[str, Any]) -> bytes:
    """The bytes the container receives: what the API writes to S3 and what its payload limit is measured on."""
    return json.dumps(forwarded, ensure_ascii=False).encode()
