"""An oracle for "would TGI 3.3.6 refuse this body?", written from the source, apart from the code under test.

It follows TGI's own steps on POST /invocations: serde reads the body into one of the three request types
(router/src/sagemaker.rs, lib.rs), the handler's own checks (server.rs), the conversion to a generate request
(lib.rs try_into_generate, server.rs completions), then Validation::validate (validation.rs). `refusal` answers
the first reason TGI would refuse, or None. The launcher's defaults: MAX_BEST_OF 2, MAX_STOP_SEQUENCES 4,
MAX_TOP_N_TOKENS 5, max_client_batch_size 4. Tokens are unknown here: an input counts as at least one token.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]


def _int(bits: int, signed: bool = False) -> Check:
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return lambda v: type(v) is int and low <= v <= high


U32, U64, I32, USIZE = _int(32), _int(64), _int(32, signed=True), _int(64)


def BOOL(v: Any) -> bool:  # noqa: N802
    return type(v) is bool


def STR(v: Any) -> bool:  # noqa: N802
    return type(v) is str


def F32(v: Any) -> bool:  # noqa: N802
    # Beyond the f32 range serde reads infinity, which TGI might take: counted as refused, the stricter reading.
    return type(v) in (int, float) and math.isfinite(v) and abs(v) <= 3.4028234663852886e38


def ANY(v: Any) -> bool:  # noqa: N802
    return True


def OPT(t: Check) -> Check:  # noqa: N802
    return lambda v: v is None or t(v)


def VEC(t: Check) -> Check:  # noqa: N802
    return lambda v: type(v) is list and all(t(x) for x in v)


def STRUCT(fields: dict[str, Check], required: tuple[str, ...] = ()) -> Check:  # noqa: N802
    """A derived serde struct: unknown keys ignored, required keys present, each known key of its type."""
    return lambda v: type(v) is dict and all(k in v for k in required) and all(t(v[k]) for k, t in fields.items() if k in v)


def GRAMMAR(v: Any) -> bool:  # noqa: N802  (GrammarType: adjacently tagged, `json_object` an alias of `json`)
    if type(v) is not dict or "value" not in v:
        return False
    schema_config = STRUCT({"name": OPT(STR), "schema": ANY}, ("schema",))
    kinds = {"json": ANY, "json_object": ANY, "regex": STR, "json_schema": schema_config}
    return v.get("type") in kinds and kinds[v["type"]](v["value"])


def FUNCTION(v: Any) -> bool:  # noqa: N802
    # `parameters` is an alias of `arguments`: both is a duplicate field, neither a missing one.
    fields = {"name": STR, "description": OPT(STR), "arguments": ANY, "parameters": ANY}
    return STRUCT(fields, ("name",))(v) and ("arguments" in v) != ("parameters" in v)


TOOL_CALL = STRUCT({"id": STR, "type": STR, "function": FUNCTION}, ("id", "type", "function"))


def CHUNK(v: Any) -> bool:  # noqa: N802  (MessageChunk, tagged by type)
    if type(v) is not dict:
        return False
    if v.get("type") == "text":
        return STR(v.get("text"))
    return v.get("type") == "image_url" and STRUCT({"url": STR}, ("url",))(v.get("image_url"))


def MESSAGE(v: Any) -> bool:  # noqa: N802  (MessageBody, untagged: content, else tool_calls)
    content = STR(v.get("content")) or VEC(CHUNK)(v.get("content")) if type(v) is dict else False
    return STRUCT({"role": STR, "name": OPT(STR)}, ("role",))(v) and (
        content or ("tool_calls" in v and VEC(TOOL_CALL)(v["tool_calls"]))
    )


def TOOL_CHOICE(v: Any) -> bool:  # noqa: N802  (null, any string, or a typed function choice)
    if v is None or STR(v):
        return True
    return type(v) is dict and v.get("type") == "function" and STRUCT({"name": STR}, ("name",))(v.get("function"))


PARAMETERS = {
    "best_of": OPT(USIZE),
    "temperature": OPT(F32),
    "repetition_penalty": OPT(F32),
    "frequency_penalty": OPT(F32),
    "top_k": OPT(I32),
    "top_p": OPT(F32),
    "typical_p": OPT(F32),
    "do_sample": BOOL,
    "max_new_tokens": OPT(U32),
    "return_full_text": OPT(BOOL),
    "stop": VEC(STR),
    "truncate": OPT(USIZE),
    "watermark": BOOL,
    "details": BOOL,
    "decoder_input_details": BOOL,
    "seed": OPT(U64),
    "top_n_tokens": OPT(U32),
    "grammar": OPT(GRAMMAR),
    "adapter_id": OPT(STR),
}
GENERATE = STRUCT({"inputs": STR, "parameters": STRUCT(PARAMETERS), "stream": BOOL}, ("inputs",))
CHAT = STRUCT(
    {
        "model": OPT(STR),
        "messages": VEC(MESSAGE),
        "frequency_penalty": OPT(F32),
        "logit_bias": OPT(VEC(F32)),
        "logprobs": OPT(BOOL),
        "top_logprobs": OPT(U32),
        "max_tokens": OPT(U32),
        "max_completion_tokens": OPT(U32),
        "n": OPT(U32),
        "presence_penalty": OPT(F32),
        "stop": OPT(VEC(STR)),
        "stream": BOOL,
        "seed": OPT(U64),
        "temperature": OPT(F32),
        "top_p": OPT(F32),
        "tools": OPT(VEC(STRUCT({"type": STR, "function": FUNCTION}, ("type", "function")))),
        "tool_prompt": OPT(STR),
        "tool_choice": TOOL_CHOICE,
        "response_format": OPT(GRAMMAR),
        "stream_options": STRUCT({"include_usage": BOOL}),
    },
    ("messages",),
)
PROMPT = lambda v: STR(v) or (type(v) is list and len(v) > 0 and all(STR(p) for p in v))  # noqa: E731
COMPLETION = STRUCT(
    {
        "model": OPT(STR),
        "prompt": PROMPT,
        "max_tokens": OPT(U32),
        "temperature": OPT(F32),
        "top_p": OPT(F32),
        "stream": BOOL,
        "seed": OPT(U64),
        "suffix": OPT(STR),
        "repetition_penalty": OPT(F32),
        "frequency_penalty": OPT(F32),
        "stop": OPT(VEC(STR)),
    },
    ("prompt",),
)


def refusal(body: dict[str, Any], max_input_tokens: int, max_total_tokens: int) -> str | None:
    """Why TGI would refuse `body` at /invocations, or None. The untagged enum tries generate, chat, completions."""
    if _depth(body) > 127:
        return "recursion limit exceeded"  # serde_json's remaining_depth starts at 128
    if GENERATE(body):
        given = body.get("parameters")
        parameters = dict(given) if given is not None else {"do_sample": True}  # default_parameters()
        return _validate(body["inputs"], parameters, max_input_tokens, max_total_tokens)
    if CHAT(body):
        if "max_tokens" in body and "max_completion_tokens" in body:
            return "duplicate field max_tokens"
        return _chat(body, max_input_tokens, max_total_tokens)
    if COMPLETION(body):
        prompts = [body["prompt"]] if STR(body["prompt"]) else body["prompt"]
        if body.get("suffix") is not None:
            return "suffix not supported"
        if len(prompts) > 4:
            return "batch size exceeded"
        greedy = _f32(body.get("temperature")) == 0
        parameters = {
            "temperature": None if greedy else body.get("temperature"),
            "do_sample": not greedy,
            "repetition_penalty": body.get("repetition_penalty"),
            "frequency_penalty": body.get("frequency_penalty"),
            "top_p": body.get("top_p"),
            "max_new_tokens": body.get("max_tokens"),
            "stop": body.get("stop") or [],
            "seed": body.get("seed"),
        }
        for prompt in prompts:
            if reason := _validate(prompt, parameters, max_input_tokens, max_total_tokens):
                return reason
        return None
    return "data did not match any variant of untagged enum SagemakerRequest"


_FLOATS = ("temperature", "repetition_penalty", "frequency_penalty", "top_p", "typical_p")


def _chat(body: dict[str, Any], max_input_tokens: int, max_total_tokens: int) -> str | None:
    tools, choice, grammar = body.get("tools"), body.get("tool_choice"), body.get("response_format")
    if grammar is not None and tools is not None:
        return "Grammar and tools are mutually exclusive"
    if grammar is None and tools is not None:
        name = choice["function"]["name"] if type(choice) is dict else choice
        if name not in (None, "auto", "none", "required") and name not in [t["function"]["name"] for t in tools]:
            return f"Tool with name {name} not found"
    greedy = _f32(body.get("temperature")) == 0
    presence = _f32(body.get("presence_penalty"))
    parameters = {
        "temperature": None if greedy else body.get("temperature"),
        "do_sample": not greedy,
        "repetition_penalty": None if presence is None else _f32(presence + 2),
        "frequency_penalty": body.get("frequency_penalty"),
        "top_p": body.get("top_p"),
        "max_new_tokens": body.get("max_tokens", body.get("max_completion_tokens")),
        "stop": body.get("stop") or [],
        "seed": body.get("seed"),
        "top_n_tokens": body.get("top_logprobs"),
        "grammar": grammar,
    }
    return _validate("<templated messages>", parameters, max_input_tokens, max_total_tokens)


def _f32(value: Any) -> Any:
    """serde reads a float field into an f32, rounding to nearest; the checks compare that."""
    return struct.unpack("f", struct.pack("f", value))[0] if type(value) in (int, float) else value


def _validate(inputs: str, p: dict[str, Any], max_input_tokens: int, max_total_tokens: int) -> str | None:  # noqa: C901
    """Validation::validate and validate_best_of (validation.rs; best_of > 1 in server.rs generate_internal)."""
    p = {k: _f32(v) if k in _FLOATS else v for k, v in p.items()}
    best_of = p["best_of"] if p.get("best_of") is not None else 1
    sampling = p.get("do_sample") or any(p.get(k) is not None for k in ("temperature", "top_k", "top_p", "typical_p"))
    checks = [
        (best_of > 1 and not sampling, "you must use sampling when `best_of` is > 1"),
        ((p.get("temperature") if p.get("temperature") is not None else 1.0) <= 0, "temperature"),
        ((p.get("repetition_penalty") if p.get("repetition_penalty") is not None else 1.0) <= 0, "repetition_penalty"),
        (not -2 <= (p.get("frequency_penalty") or 0.0) <= 2, "frequency_penalty"),
        (p.get("top_p") is not None and not 0 < p["top_p"] < 1, "top_p"),
        (p.get("typical_p") is not None and not 0 < p["typical_p"] < 1, "typical_p"),
        (p.get("top_k") is not None and p["top_k"] <= 0, "top_k"),
        (p.get("max_new_tokens") == 0, "max_new_tokens"),
        (len(p.get("stop") or []) > 4, "stop"),
        (p.get("seed") is not None and best_of > 1, "`seed` must not be set when `best_of` > 1"),
        ((p.get("top_n_tokens") or 0) > 5, "top_n_tokens"),
        (inputs == "", "`inputs` cannot be empty"),
        (p.get("truncate") is not None and not 0 < p["truncate"] <= max_input_tokens, "truncate"),
        # At least one input token, and TGI counts min(max_new_tokens, 1024) against MAX_TOTAL_TOKENS.
        (1 + min(p.get("max_new_tokens") or 0, 1024) > max_total_tokens, "MaxTotalTokens"),
        (p.get("grammar") is not None and not _compiles(p["grammar"]), "grammar is not valid"),
        (best_of > 2, "`best_of` must be > 0 and <= 2"),
    ]
    return next((reason for refused, reason in checks if refused), None)


def _compiles(grammar: dict[str, Any]) -> bool:
    """What can be known without the meta-schema and outlines: a json grammar needs an object with properties;
    only `json` re-parses a string value (validation.rs)."""
    kind, value = grammar["type"], grammar["value"]
    if kind == "regex":
        return True
    if kind == "json_schema":
        schema = value["schema"]
    elif type(value) is str:
        try:
            schema = json.loads(value)
        except ValueError:
            return False
    else:
        schema = value
    return type(schema) is dict and "properties" in schema


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0
