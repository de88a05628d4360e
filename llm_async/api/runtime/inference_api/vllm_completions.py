"""The completions shape, `{"prompt": ...}`, as vLLM 0.30.0 reads it: CompletionRequest
(vllm/entrypoints/openai/completion/protocol.py:46-620 (vLLM 0.30.0)), its sampling checked by vllm/sampling_params.py.
The TGI generate shape is translated into one of these (vllm_generate.py).
"""

from __future__ import annotations

from typing import Any

from inference_api import openai_shapes, tgi, vllm
from inference_api.tgi import Rules, TokenBudget, boolean, nullable, string

_PROMPTS = f"a non-empty string or a list of 1–{vllm.MAX_PROMPTS} of them"


def completions_rules(budget: TokenBudget) -> Rules:
    """The fields of a completions request, as parse_completions checks them (truncate_prompt_tokens against the budget
    afterwards)."""
    fields = {
        "prompt": _prompt,
        "model": vllm.model,
        "echo": nullable(boolean),  # bool | None = False: prepend the prompt to the text (protocol.py:57)
        "frequency_penalty": nullable(vllm.penalty),  # (protocol.py:58)
        "logit_bias": nullable(vllm.logit_bias),  # (protocol.py:59)
        "logprobs": nullable(vllm.logprobs_count),  # int | None (protocol.py:60)
        # int | None = 16, null read as 16 (protocol.py:61,417-423): our default instead (normalisations).
        "max_tokens": budget.check,
        "n": vllm.one,  # `n: int = 1` (protocol.py:62 (vLLM 0.30.0)): null fails validation, refused
        "presence_penalty": nullable(vllm.penalty),  # (protocol.py:63)
        "seed": nullable(vllm.seed),  # (protocol.py:64)
        "stop": nullable(vllm.stop),  # (protocol.py:65)
        "stream": vllm.stream,
        "stream_options": vllm.stream_options,
        "suffix": _suffix,
        "temperature": nullable(vllm.temperature),  # (protocol.py:69)
        "top_p": nullable(vllm.top_p),  # (protocol.py:70)
        "user": nullable(string),  # (protocol.py:71)
        "top_k": nullable(vllm.top_k),  # (protocol.py:75)
        "min_p": nullable(vllm.min_p),  # (protocol.py:76)
        "repetition_penalty": nullable(vllm.repetition_penalty),  # (protocol.py:77)
        "truncate_prompt_tokens": nullable(_integer),  # checked below, against the budget (protocol.py:86)
        "truncation_side": nullable(vllm.truncation_side),
        "response_format": nullable(vllm.response_format),  # (protocol.py:122-129)
        "structured_outputs": nullable(vllm.structured_outputs),  # (protocol.py:130-133)
    }
    return Rules(fields, {"prompt": _PROMPTS})


def parse_completions(request: dict[str, Any], budget: TokenBudget, max_model_len: int) -> tuple[dict[str, Any], list[str]]:
    """The body the container receives, and its prompts (for the byte limit)."""
    rules = completions_rules(budget)
    rules.require(request)
    body = tgi.apply(request, rules.fields)
    body.setdefault("max_tokens", budget.default)  # every forwarded request names its budget (ours)
    if "truncate_prompt_tokens" in body:
        body["truncate_prompt_tokens"] = vllm.truncate_prompt_tokens(
            "truncate_prompt_tokens", body["truncate_prompt_tokens"], max_model_len, body["max_tokens"]
        )
    vllm.one_constraint(body)
    return body, openai_shapes.prompts(body)


# list[int] | list[list[int]] | str | list[str] (protocol.py:50-56). "" is refused (protocol.py:567-586), and so is a list
# over VLLM_MAX_COMPLETION_PROMPTS, 1024 (protocol.py:588-608 (vLLM 0.30.0)). Ours: text only (the byte limit measures
# text), at most 4 prompts (the TGI contract's batch), none of them empty, and no empty list.
_prompt = openai_shapes.prompt(vllm.MAX_PROMPTS, _PROMPTS)
# `suffix: str | None` (protocol.py:68) is accepted and not used (vllm/entrypoints/openai/completion/serving.py:119-121
# (vLLM 0.30.0)): the caller would not get what it asked for. Refused unless null (ours).
_suffix = openai_shapes.absent("vLLM does not support a suffix")
_integer = tgi.rule(tgi.is_int, "an integer", {"type": "integer"})
