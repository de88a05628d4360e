"""Input shared by the Lambda's request tests (tests/api/runtime) and the TGI stand-in's (tests/tools): the field names
of TGI 3.3.6's request types (router/src/lib.rs), to build request bodies from.

Facts of TGI's types only. What each side accepts or refuses, and why, stays in its own tests: the stand-in and its
tests import nothing of the Lambda's, and nothing here decides an expectation.
"""

from __future__ import annotations

# GenerateParameters, in declaration order.
GENERATE_PARAMETERS = (
    "best_of", "temperature", "repetition_penalty", "frequency_penalty", "top_k", "top_p", "typical_p", "do_sample",
    "max_new_tokens", "return_full_text", "stop", "truncate", "watermark", "details", "decoder_input_details",
    "seed", "top_n_tokens", "grammar", "adapter_id",
)
# Those that are an Option<…>, where serde reads null as absent; the others are a bool or a Vec, where null is refused.
GENERATE_OPTIONS = tuple(
    name for name in GENERATE_PARAMETERS if name not in {"do_sample", "stop", "watermark", "details", "decoder_input_details"}
)

# ChatRequest, in declaration order (max_tokens has the alias max_completion_tokens).
CHAT_FIELDS = (
    "model", "messages", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "max_tokens", "n",
    "presence_penalty", "stop", "stream", "seed", "temperature", "top_p", "tools", "tool_prompt", "tool_choice",
    "response_format", "stream_options",
)
# Those where a null stands for the default: the Option<…> fields, and tool_choice (not an Option, but null is its
# "auto"); messages is a Vec, stream a bool and stream_options a struct.
CHAT_NULLABLE = tuple(name for name in CHAT_FIELDS if name not in {"messages", "stream", "stream_options"})
