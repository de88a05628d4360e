"""The TGI generate shape, `{"inputs": "...", "parameters": {...}}`, for the vLLM engine: translated into a vLLM
completions request (docs/design/vllm-engine.md §6), or refused with a 400 naming the shape to send instead.

The fields keep TGI 3.3.6's types and ranges (GenerateParameters, router/src/lib.rs, checked by router/src/validation.rs
(TGI v3.3.6), through tgi.py's checks), so a generate request means the same to both engines; vLLM's own limits are
added (temperature ≤ 2, seed ≤ 2^63 − 1, truncate ≤ max_model_len − max_new_tokens). A parameter vLLM cannot honour as
TGI does is refused unless it asks for nothing (0, false, null). The answer is a text_completion: results.py reads
its choices[0].text, and return_full_text's echo makes vLLM prepend the prompt to it, as TGI does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inference_api import tgi, vllm
from inference_api.tgi import DROP, Invalid, Rules, TokenBudget, boolean, described, integer, nullable
from inference_api.tgi_generate import inputs

COMPLETIONS = 'send an OpenAI completions request ({"prompt": ...})'
LOGPROBS = 'send an OpenAI completions request with OpenAI logprobs ({"prompt": ..., "logprobs": N, "echo": true})'


def _unless(allowed: str, advice: str, harmless: Callable[[Any], bool], option: bool = True) -> tgi.Check:
    """A TGI parameter vLLM has no faithful equivalent for: dropped when it asks for nothing, else refused."""

    @described(f"{allowed} with the vLLM engine: {advice} instead")
    def check(field: str, value: Any) -> Any:
        if (value is None and option) or (value is not None and harmless(value)):
            return DROP
        raise Invalid(field, f"{allowed} with the vLLM engine: {advice} instead", value)

    return check


# docs/design/vllm-engine.md §6. vLLM's completions have none of these (completion/protocol.py:46-262 (vLLM 0.30.0)).
_UNTRANSLATABLE: dict[str, tgi.Check] = {
    # Typical sampling (TGI server/text_generation_server/utils/logits_process.py): no vLLM sampling parameter does it.
    "typical_p": _unless("absent", f"vLLM has no typical-p sampling; {COMPLETIONS} with top_p or min_p", lambda v: False),
    # best_of is not a field of vLLM 0.30.0's CompletionRequest: it would be ignored (docs/design/vllm-engine.md §3.1).
    "best_of": _unless(
        "0, 1 or absent", f"vLLM 0.30.0 has no best_of; {COMPLETIONS} per candidate", lambda v: tgi.is_int(v) and 0 <= v <= 1
    ),
    # TGI's details {finish_reason, tokens, top_tokens, seed, prefill} has no vLLM equivalent; OpenAI logprobs come closest.
    "details": _unless("false or absent", LOGPROBS, lambda v: v is False, option=False),
    "decoder_input_details": _unless("false or absent", LOGPROBS, lambda v: v is False, option=False),
    "top_n_tokens": _unless("0 or absent", LOGPROBS, lambda v: tgi.is_int(v) and v == 0),
    # TGI's Kirchenbauer watermark; vLLM 0.30.0's `watermarking` is an engine-level Gumbel scheme, off by default.
    "watermark": _unless(
        "false or absent", f"vLLM has no TGI watermark; {COMPLETIONS} without it", lambda v: v is False, option=False
    ),
    # /invocations sets `model` from a header InvokeEndpointAsync cannot send: only the base model serves (vllm.model).
    "adapter_id": _unless("absent", f"the endpoint serves its base model only; {COMPLETIONS}", lambda v: False),
    # TGI subtracts penalty × count ÷ length over all tokens (TGI utils/logits_process.py); vLLM penalty × count over
    # the output only (vllm/model_executor/layers/utils.py:79 (vLLM 0.30.0)): a different penalty.
    "frequency_penalty": _unless(
        "0 or absent",
        f"its penalty differs from TGI's; {COMPLETIONS} with vLLM's frequency_penalty",
        lambda v: tgi.is_number(v) and tgi.f32(v) == 0,
    ),
}


@described("a number with 0 < value ≤ 2 (vLLM's ceiling)", {"type": "number"})
def _temperature(field: str, value: Any) -> Any:
    # TGI: an f32 > 0 (router/src/validation.rs (TGI v3.3.6)); vLLM: ≤ 2 (vllm/sampling_params.py:583-588 (vLLM 0.30.0)).
    if not tgi.is_number(value) or not tgi.f32(value) > 0 or not value <= 2:
        raise Invalid(field, "a number with 0 < value ≤ 2 (vLLM's ceiling)", value)
    return value


def generate_rules(budget: TokenBudget) -> Rules:
    """The fields of a generate request and of its parameters, as parse_generate checks them (truncate against the
    budget afterwards)."""
    parameters = {
        **_UNTRANSLATABLE,
        "temperature": nullable(_temperature),
        "repetition_penalty": nullable(tgi.positive),  # both: > 0 (vllm/sampling_params.py:561-570)
        "top_k": nullable(integer(1, tgi.I32_MAX)),  # TGI: an i32 > 0; vLLM: any int ≥ -1
        "top_p": nullable(tgi.open_unit),  # TGI: 0 < p < 1; vLLM: 0 < p ≤ 1
        "do_sample": boolean,  # bool: serde refuses null (router/src/lib.rs (TGI v3.3.6))
        "max_new_tokens": budget.check,
        "return_full_text": nullable(boolean),
        "stop": tgi.stop,  # TGI: a list of ≤ 4; vLLM: ≤ 4, none empty (vllm/sampling_params.py:650-651)
        "truncate": nullable(_positive_integer),  # checked below, against the budget
        # TGI: a u64; vLLM: an int64 (completion/protocol.py:64 (vLLM 0.30.0)).
        "seed": nullable(integer(0, vllm.INT64_MAX, " (vLLM reads an int64)")),
        "grammar": nullable(_grammar),
    }
    fields = {"inputs": inputs, "parameters": tgi.obj, "stream": vllm.stream}
    return Rules(fields, {"inputs": "a non-empty string"}, parameters)


def parse_generate(request: dict[str, Any], budget: TokenBudget, max_model_len: int) -> tuple[dict[str, Any], list[str]]:
    """The completions body the container receives, and the prompt (for the byte limit)."""
    rules = generate_rules(budget)
    top = tgi.apply(request, rules.fields)
    rules.require(request)
    given = request.get("parameters")
    parameters = tgi.apply(given if given is not None else {}, rules.parameters, "parameters.")
    body: dict[str, Any] = {"prompt": top["inputs"], "max_tokens": parameters.get("max_new_tokens", budget.default)}
    # TGI samples when do_sample is true or any warper is set: temperature ≠ 1, top_k ≠ 0, top_p < 1, typical_p < 1
    # (server/text_generation_server/utils/tokens.py, NextTokenChooser and HeterogeneousNextTokenChooser (TGI v3.3.6));
    # without `parameters` its default_parameters() sets do_sample true (router/src/lib.rs). Greedy is vLLM's
    # temperature 0 (vllm/sampling_params.py:533-538 (vLLM 0.30.0)); temperature 1 is no warper, so it is greedy too.
    sampled = given is None or parameters.get("do_sample") is True or "top_k" in parameters or "top_p" in parameters
    if "temperature" in parameters and tgi.f32(parameters["temperature"]) != 1:
        sampled = True
    if sampled:
        body.update({name: parameters[name] for name in ("temperature", "top_k", "top_p") if name in parameters})
    else:
        body["temperature"] = 0
    for name in ("repetition_penalty", "seed", "stop"):
        if name in parameters:
            body[name] = parameters[name]
    if "truncate" in parameters:
        # TGI keeps the last `truncate` tokens (server/text_generation_server/models/flash_causal_lm.py (TGI v3.3.6)):
        # vLLM's left truncation, at most max_model_len − max_tokens (vllm/renderers/params.py:251-263 (vLLM 0.30.0)).
        bound, truncate = max_model_len - body["max_tokens"], parameters["truncate"]
        if truncate > bound:
            raise Invalid("parameters.truncate", f"an integer 1–{bound} (max_model_len − max_new_tokens)", truncate)
        body.update(truncate_prompt_tokens=parameters["truncate"], truncation_side="left")
    if parameters.get("return_full_text") is True:
        # vLLM prepends the prompt to the text (vllm/entrypoints/openai/completion/serving.py:533-554 (vLLM 0.30.0)).
        body["echo"] = True
    if "grammar" in parameters:
        body["structured_outputs"] = parameters["grammar"]
    return body, [body["prompt"]]


@described("an integer ≥ 1", {"type": "integer", "minimum": 1})
def _positive_integer(field: str, value: Any) -> Any:
    if not tgi.is_int(value) or value < 1:
        raise Invalid(field, "an integer ≥ 1", value)
    return value


_GRAMMAR_TYPES = ("json", "json_object", "json_schema", "regex")


@described(tgi.GRAMMAR, tgi.tagged_schema(_GRAMMAR_TYPES, ("type", "value"), value={}))
def _grammar(field: str, value: Any) -> Any:
    """TGI's GrammarType {type, value} (router/src/lib.rs (TGI v3.3.6)) as vLLM's structured_outputs
    (vllm/sampling_params.py:87-127 (vLLM 0.30.0)): json, json_object and json_schema constrain to the schema, regex to the
    pattern. vLLM compiles them with xgrammar (or guidance), not TGI's outlines: its regex dialect may differ. TGI's
    own requirement of a schema with `properties` is not kept: vLLM compiles any schema."""
    tgi.obj(field, value)
    unknown = sorted(set(value) - {"type", "value"})
    if unknown:
        raise Invalid(f"{field}.{unknown[0]}", "one of type, value", unknown[0])
    kind = value.get("type")
    if kind not in _GRAMMAR_TYPES:
        raise Invalid(f"{field}.type", f"one of {', '.join(_GRAMMAR_TYPES)}", value.get("type", DROP))
    tgi.require(value, "value", f"{field}.", "present")  # serde: missing field `value`
    content = value["value"]
    if kind == "regex":
        return {"regex": tgi.string(f"{field}.value", content)}
    if kind == "json_schema":
        # JsonSchemaConfig {name, schema, strict} (router/src/lib.rs (TGI v3.3.6)); strict is ignored by TGI.
        rules = {"name": nullable(tgi.string), "schema": vllm.json_schema_object, "strict": nullable(boolean)}
        tgi.apply(tgi.obj(f"{field}.value", content), rules, f"{field}.value.")
        tgi.require(content, "schema", f"{field}.value.", "a JSON Schema object")
        return {"json": content["schema"]}
    # json, json_object: a schema, or a string holding one (router/src/validation.rs (TGI v3.3.6)).
    vllm.json_schema_or_text(f"{field}.value", content)
    return {"json": content}
