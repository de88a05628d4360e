"""The TGI generate shape, `{"inputs": "...", "parameters": {...}}`: TGI's CompatGenerateRequest (TGI v3.3.6)."""

from __future__ import annotations

from typing import Any

from inference_api import tgi
from inference_api.tgi import Invalid, Rules, TokenBudget, boolean, described, integer, nullable


def generate_rules(budget: TokenBudget, max_input_tokens: int) -> Rules:
    """The fields of a generate request and of its parameters, as parse_generate checks them."""
    parameters = {
        # Option<usize>; only best_of > 1 meets validate_best_of (router/src/server.rs, validation.rs (TGI v3.3.6)).
        "best_of": nullable(integer(0, tgi.MAX_BEST_OF, " (TGI's MAX_BEST_OF)")),
        "temperature": nullable(tgi.positive),
        "repetition_penalty": nullable(tgi.positive),
        "frequency_penalty": nullable(tgi.frequency_penalty),
        "top_k": nullable(integer(1, tgi.I32_MAX)),  # Option<i32>, > 0: router/src/validation.rs (TGI v3.3.6)
        "top_p": nullable(tgi.open_unit),
        "typical_p": nullable(tgi.open_unit),
        "do_sample": boolean,  # bool: serde refuses null (router/src/lib.rs (TGI v3.3.6)), likewise below
        "max_new_tokens": budget.check,
        "return_full_text": nullable(boolean),
        "stop": tgi.stop,
        "truncate": nullable(integer(1, max_input_tokens, " (MAX_INPUT_TOKENS)")),  # router/src/validation.rs (TGI v3.3.6)
        "watermark": boolean,
        "details": boolean,
        "decoder_input_details": boolean,
        "seed": nullable(tgi.seed),
        "top_n_tokens": nullable(tgi.top_n_tokens),
        "grammar": nullable(tgi.grammar),
        "adapter_id": nullable(tgi.string),  # Option<String>: router/src/lib.rs (TGI v3.3.6); unknown ids get the base model
    }
    fields = {"inputs": inputs, "parameters": tgi.obj, "stream": tgi.refused_stream}
    return Rules(fields, {"inputs": "a non-empty string"}, parameters)


def parse_generate(request: dict[str, Any], budget: TokenBudget, max_input_tokens: int) -> tuple[dict[str, Any], list[str]]:
    """The body the container receives, and the prompt (for the byte limit)."""
    rules = generate_rules(budget, max_input_tokens)
    body = tgi.apply(request, rules.fields)
    rules.require(request)
    given = request.get("parameters")
    parameters = tgi.apply(given if given is not None else {}, rules.parameters, "parameters.")
    _best_of(given or {})
    if given is None:
        # Without `parameters` TGI samples: its default_parameters() sets do_sample true (router/src/lib.rs
        # (TGI v3.3.6)), while `{}` reads do_sample false. The forwarded request always has parameters: keep that.
        parameters["do_sample"] = True
    # Every forwarded request names its budget (ours).
    parameters.setdefault("max_new_tokens", budget.default)
    # TGI defaults return_full_text to true for a model with no pipeline tag (weights in /opt/ml/model) or a
    # text-generation one (router/src/server.rs, compat_generate (TGI v3.3.6)), echoing the prompt: false
    # unless the caller asked for true (ours).
    parameters.setdefault("return_full_text", False)
    body["parameters"] = parameters
    return body, [body["inputs"]]


@described("a non-empty string", {"type": "string", "minLength": 1})
def inputs(field: str, value: Any) -> Any:
    """The generate shape's `inputs`, for both engines (vllm_generate reads it too, as vLLM's prompt)."""
    # inputs: String; an empty one is refused (router/src/validation.rs (TGI v3.3.6)), and so is vLLM's "" prompt;
    # whitespace is accepted.
    if not isinstance(value, str) or not value:
        raise Invalid(field, "a non-empty string", value)
    return value


def _best_of(parameters: dict[str, Any]) -> None:
    # best_of > 1 needs sampling, and no seed (router/src/validation.rs (TGI v3.3.6)).
    best_of = parameters.get("best_of")
    if not tgi.is_int(best_of) or best_of <= 1:
        return
    sampling = parameters.get("do_sample") is True or any(
        parameters.get(name) is not None for name in ("temperature", "top_k", "top_p", "typical_p")
    )
    if not sampling:
        raise Invalid(
            "parameters.best_of", "at most 1 without sampling (do_sample, temperature, top_k, top_p or typical_p)", best_of
        )
    if parameters.get("seed") is not None:
        raise Invalid("parameters.seed", "null or absent when best_of > 1", parameters["seed"])
