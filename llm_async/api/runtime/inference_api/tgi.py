"""What the engine, Hugging Face TGI 3.3.6 (the SageMaker TGI DLC), accepts: the field rules the shapes share.

A comment beside each rule names the file of text-generation-inference at tag v3.3.6 it follows; a rule
marked "ours" refuses something TGI would accept, on purpose. docs/request-contract.md lists every rule with
its line. No HTTP here: a refused field raises `Invalid`, which request.py answers with a 400.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The launcher's defaults; the model's environment (llm_async/model/construct.py) overrides none of them.
MAX_BEST_OF = 2  # --max-best-of, launcher/src/main.rs (TGI v3.3.6)
MAX_STOP_SEQUENCES = 4  # --max-stop-sequences, launcher/src/main.rs (TGI v3.3.6)
MAX_TOP_N_TOKENS = 5  # --max-top-n-tokens, launcher/src/main.rs (TGI v3.3.6)
MAX_CLIENT_BATCH_SIZE = 4  # --max-client-batch-size, launcher/src/main.rs (TGI v3.3.6)
PAYLOAD_LIMIT_BYTES = 2_000_000  # --payload-limit, launcher/src/main.rs; router/src/server.rs DefaultBodyLimit (TGI v3.3.6)

# The Rust types serde reads the fields into (router/src/lib.rs (TGI v3.3.6)).
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I32_MAX = 2**31 - 1
F32_MAX = 3.4028234663852886e38  # beyond it serde's f32 would read infinity: refused (ours)

DROP = object()
"""A check's answer for a field to leave out of the forwarded body (a null, or a value TGI reads as absent)."""

Check = Callable[[str, Any], Any]
"""A field rule: (field path, value) → the value to forward, or DROP; raises `Invalid`. Every check carries `allowed`,
what it accepts in its error message's words, and `schema`, a JSON Schema of what it accepts where a plain one says it
(None: any value; never narrower than the check). llm_async_tools/openapi.py reads both for the API's OpenAPI document;
only the check decides what passes."""


def described(allowed: str, schema: dict[str, Any] | None = None) -> Callable[[Check], Check]:
    """Marks a check with what it allows (`allowed`) and its JSON Schema, for the OpenAPI document."""

    def mark(check: Check) -> Check:
        check.allowed, check.schema = allowed, schema  # type: ignore[attr-defined]
        return check

    return mark


def or_null(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """`schema`, or null as well (None stays any value)."""
    return None if schema is None else {"anyOf": [schema, {"type": "null"}]}


def field_schema(check: Check) -> dict[str, Any]:
    """A field's JSON Schema: its check's (any value when it has none), with what the check allows as its description."""
    return {**(check.schema or {}), "description": check.allowed}  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Rules:
    """A request shape's field rules, as its parser applies them (and the OpenAPI document describes them)."""

    fields: dict[str, Check]
    required: dict[str, str]
    """Each field that must be present → what it must be (the message when it is missing)."""
    parameters: dict[str, Check] = dataclasses.field(default_factory=dict)
    """Generate's `parameters` object: the rules of its fields, applied after `fields`."""

    def require(self, obj: dict[str, Any]) -> None:
        for name, allowed in self.required.items():
            require(obj, name, "", allowed)


class Invalid(ValueError):
    """A field TGI would refuse (or that we refuse on purpose): `<field>: must be <allowed> (got <value>)`."""

    def __init__(self, field: str, allowed: str, got: Any = DROP) -> None:
        suffix = "" if got is DROP else f" (got {json.dumps(got)[:80]})"
        super().__init__(f"{field}: must be {allowed}{suffix}")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number serde reads into an f32: integers count, booleans do not."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value) and abs(value) <= F32_MAX


def f32(value: float) -> float:
    """The value as serde reads it into an f32 (rounded to nearest): TGI's checks compare that, so 0.99999999 is 1."""
    return struct.unpack("f", struct.pack("f", value))[0]


def rule(accepts: Callable[[Any], bool], allowed: str, schema: dict[str, Any] | None = None) -> Check:
    """A field rule from a test of the value: forwarded as sent when it passes, else refused as not `allowed`."""

    @described(allowed, schema)
    def check(field: str, value: Any) -> Any:
        if not accepts(value):
            raise Invalid(field, allowed, value)
        return value

    return check


def number(allowed: str, accepts: Callable[[float], bool]) -> Check:
    # The range is tested on the f32 TGI reads, so JSON Schema's bounds on the sent value would be off by its
    # rounding: the schema says "a number", `allowed` says the range.
    return rule(lambda value: is_number(value) and accepts(f32(value)), allowed, {"type": "number"})


def integer(low: int, high: int, why: str = "") -> Check:
    schema = {"type": "integer", "minimum": low, "maximum": high}
    return rule(lambda value: is_int(value) and low <= value <= high, f"an integer {low}–{high}{why}", schema)


boolean = rule(lambda value: isinstance(value, bool), "true or false", {"type": "boolean"})
string = rule(lambda value: isinstance(value, str), "a string", {"type": "string"})


def nullable(check: Check) -> Check:
    """An `Option<…>` field: serde reads null as absent, so a null is dropped (router/src/lib.rs (TGI v3.3.6))."""
    return described(check.allowed, or_null(check.schema))(  # type: ignore[attr-defined]
        lambda field, value: DROP if value is None else check(field, value)
    )


def apply(obj: dict[str, Any], rules: dict[str, Check], prefix: str = "") -> dict[str, Any]:
    """Check every field of `obj`; refuse a field the rules do not name (ours: serde would ignore it, silently)."""
    forwarded = {}
    for name, value in obj.items():
        field = f"{prefix}{name}"
        if name not in rules:
            raise Invalid(field, f"one of {', '.join(sorted(rules))}", name)
        result = rules[name](field, value)
        if result is not DROP:
            forwarded[name] = result
    return forwarded


def require(obj: dict[str, Any], name: str, prefix: str, allowed: str) -> None:
    if name not in obj:
        raise Invalid(f"{prefix}{name}", allowed)


@described("an object", {"type": "object"})
def obj(field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(field, "an object", value)
    return value


# Sampling parameters, as router/src/validation.rs (TGI v3.3.6) checks them once every shape is a GenerateRequest.
positive = number("a number > 0", lambda v: v > 0)  # router/src/validation.rs (TGI v3.3.6)
open_unit = number("a number with 0 < value < 1", lambda v: 0 < v < 1)  # router/src/validation.rs (TGI v3.3.6)
frequency_penalty = number("a number with -2 ≤ value ≤ 2", lambda v: -2 <= v <= 2)  # router/src/validation.rs (TGI v3.3.6)
seed = integer(0, U64_MAX, " (a u64)")  # Option<u64>: router/src/lib.rs (TGI v3.3.6)
top_n_tokens = integer(0, MAX_TOP_N_TOKENS, " (TGI's MAX_TOP_N_TOKENS)")  # router/src/validation.rs (TGI v3.3.6)


@described(
    f"a list of at most {MAX_STOP_SEQUENCES} non-empty strings",
    {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": MAX_STOP_SEQUENCES},
)
def stop(field: str, value: Any) -> Any:
    # Vec<String> of at most MAX_STOP_SEQUENCES (router/src/validation.rs (TGI v3.3.6)). An empty string is
    # refused (ours): TGI's stop criterion `re.escape("") + "$"` matches at once, ending the answer after a token.
    if not isinstance(value, list) or len(value) > MAX_STOP_SEQUENCES or not all(isinstance(s, str) and s for s in value):
        raise Invalid(field, f"a list of at most {MAX_STOP_SEQUENCES} non-empty strings", value)
    return value


@described("a number ≥ 0 (0: greedy)", {"type": "number"})
def temperature_or_greedy(field: str, value: Any) -> Any:
    # Chat and completions read temperature 0 as greedy: do_sample false, no temperature (router/src/lib.rs,
    # try_into_generate; router/src/server.rs, completions (TGI v3.3.6)); forwarded as 0 for TGI to do so.
    # Any other value reaches router/src/validation.rs, which refuses temperature <= 0.
    if not is_number(value) or f32(value) < 0:
        raise Invalid(field, "a number ≥ 0 (0: greedy)", value)
    return value


@described("a number with 0 < value ≤ 1 (1: dropped, no nucleus filtering)", {"type": "number"})
def openai_top_p(field: str, value: Any) -> Any:
    # OpenAI's top_p 1 means no nucleus filtering; TGI refuses top_p >= 1 (router/src/validation.rs (TGI v3.3.6)),
    # and reads an absent top_p as no filtering: 1 is dropped (a normalisation of ours).
    if is_number(value) and f32(value) == 1:
        return DROP
    if not is_number(value) or not 0 < f32(value) < 1:
        raise Invalid(field, "a number with 0 < value ≤ 1 (1: dropped, no nucleus filtering)", value)
    return value


@described("a string", or_null({"type": "string"}))
def tgi_model(field: str, value: Any) -> Any:
    # TGI reads a chat or completions `model` other than "tgi" as a LoRA adapter id (router/src/lib.rs,
    # try_into_generate; router/src/server.rs, completions (TGI v3.3.6)): the caller's model name, e.g. an
    # OpenAI client's "gpt-4o", is replaced by "tgi" (ours), so the base model answers.
    if value is not None and not isinstance(value, str):
        raise Invalid(field, "a string", value)
    return "tgi"


@described("false or absent", {"const": False})
def refused_stream(field: str, value: Any) -> Any:
    # `stream: bool`, serde refuses null (router/src/lib.rs (TGI v3.3.6)); true is refused (ours): one result is written.
    if value is True:
        raise Invalid(field, "false or absent: an async endpoint cannot stream; poll GET /invocations/{id}")
    if value is not False:
        raise Invalid(field, "false or absent", value)
    return value


@dataclass(frozen=True)
class TokenBudget:
    """The new tokens every forwarded request names (ours): `default` when it names none, at most `maximum`."""

    default: int
    maximum: int

    @property
    def check(self) -> Check:
        allowed = f"an integer 1–{self.maximum}"

        @described(allowed, or_null({"type": "integer", "minimum": 1, "maximum": self.maximum}))
        def check(field: str, value: Any) -> int:
            if value is None:
                return self.default
            # Option<u32>, 0 refused by router/src/validation.rs (TGI v3.3.6); the ceiling is ours (≤ MAX_TOTAL_TOKENS − 1).
            if not is_int(value) or not 1 <= value <= self.maximum:
                raise Invalid(field, allowed, value)
            return value

        return check


GRAMMAR_TYPES = ("json", "json_object", "json_schema", "regex")
GRAMMAR = f'an object {{"type", "value"}}, type one of {", ".join(GRAMMAR_TYPES)}'


def tagged_schema(types: tuple[str, ...], required: tuple[str, ...], **properties: Any) -> dict[str, Any]:
    """The JSON Schema of an object tagged by its "type", one of `types`, with only `properties` beside it."""
    properties = {"type": {"enum": list(types)}, **properties}
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


@described(GRAMMAR, tagged_schema(GRAMMAR_TYPES, ("type", "value"), value={}))
def grammar(field: str, value: Any) -> Any:
    """GrammarType, adjacently tagged {"type", "value"} (router/src/lib.rs (TGI v3.3.6)); `json_object` is an
    alias of `json`. TGI also checks the schema against the JSON Schema meta-schema and compiles it to a regex
    (router/src/validation.rs): the container refuses what fails those."""
    obj(field, value)
    unknown = sorted(set(value) - {"type", "value"})
    if unknown:
        raise Invalid(f"{field}.{unknown[0]}", "one of type, value", unknown[0])
    kind = value.get("type")
    if kind not in GRAMMAR_TYPES:
        raise Invalid(f"{field}.type", f"one of {', '.join(GRAMMAR_TYPES)}", kind)
    require(value, "value", f"{field}.", "present")  # serde: missing field `value` (router/src/lib.rs (TGI v3.3.6))
    content = value["value"]
    if kind == "regex":
        string(f"{field}.value", content)
    elif kind == "json_schema":
        json_schema_config(f"{field}.value", content)
    else:
        schema = content
        if isinstance(content, str):  # parsed again as JSON (router/src/validation.rs (TGI v3.3.6))
            try:
                schema = json.loads(content)
            except ValueError:
                raise Invalid(f"{field}.value", "a JSON Schema object, or a string holding one", content) from None
        _schema(f"{field}.value", schema)
    return value


def json_schema_config(field: str, value: Any) -> None:
    """GrammarType::JsonSchema's value, {"name"?, "schema", "strict"?} (router/src/lib.rs (TGI v3.3.6))."""
    config = obj(field, value)
    apply(config, {"name": nullable(string), "schema": _schema, "strict": nullable(boolean)}, f"{field}.")
    require(config, "schema", f"{field}.", "a JSON Schema object with 'properties'")


def _schema(field: str, value: Any) -> Any:
    # Only an object with `properties` compiles (router/src/validation.rs (TGI v3.3.6)).
    if not isinstance(value, dict) or "properties" not in value:
        raise Invalid(field, "a JSON Schema object with 'properties'", value)
    return value
