"""Hypothesis strategies for bodies that must be refused, in all three shapes, under the handler tests' limits
(conftest.API_ENVIRONMENT): malformed envelopes, out-of-range or mistyped fields, unknown fields, oversize prompts.

Shared by test_fuzz.py (through the handler) and test_request_fuzz.py (parse_request alone, runnable without AWS).
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from tests.api.runtime.conftest import API_ENVIRONMENT
from tests.request_samples import CHAT_FIELDS, GENERATE_PARAMETERS

MAX_NEW_TOKENS = API_ENVIRONMENT.max_new_tokens
MAX_INPUT_TOKENS = API_ENVIRONMENT.max_input_tokens
MAX_INPUTS_BYTES = API_ENVIRONMENT.max_inputs_bytes
USER = [{"role": "user", "content": "hello"}]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=10,
)
floats = st.floats(allow_nan=False)
not_a_bool = st.one_of(st.integers(), st.text(), st.none())
outside_budget = st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_NEW_TOKENS + 1), st.booleans(), floats)


def _one(name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries({name: values})


def _unknown(known: set[str]) -> st.SearchStrategy:
    return st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: k not in known), json_values, min_size=1, max_size=3)


bad_parameters = st.one_of(
    _one("temperature", st.one_of(floats.filter(lambda v: v <= 0), st.text(), st.booleans())),
    _one("top_p", st.one_of(st.floats(min_value=1, allow_nan=False), st.floats(max_value=0, allow_nan=False))),
    _one("typical_p", st.one_of(st.floats(min_value=1, allow_nan=False), st.floats(max_value=0, allow_nan=False))),
    _one("top_k", st.one_of(st.integers(max_value=0), st.integers(min_value=2**31), floats, st.text())),
    _one("max_new_tokens", outside_budget),
    _one("repetition_penalty", st.floats(max_value=0, allow_nan=False)),
    # Clear of the bounds: serde rounds to an f32, so 2.0000000001 is 2.0, which TGI accepts.
    _one("frequency_penalty", floats.filter(lambda v: abs(v) > 2.001)),
    _one(
        "stop",
        st.one_of(
            st.lists(st.text(min_size=1), min_size=5, max_size=8),
            st.lists(st.just(""), min_size=1, max_size=3),
            st.text(),
            st.none(),
        ),
    ),
    _one("seed", st.one_of(st.integers(max_value=-1), st.integers(min_value=2**64), floats)),
    st.sampled_from(["do_sample", "details", "watermark", "decoder_input_details"]).flatmap(lambda n: _one(n, not_a_bool)),
    _one(
        "truncate",
        st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_INPUT_TOKENS + 1), st.text(), floats, st.booleans()),
    ),
    _one("best_of", st.one_of(st.integers(max_value=-1), st.integers(min_value=3))),
    st.just({"best_of": 2}),  # without sampling
    st.builds(lambda seed: {"best_of": 2, "do_sample": True, "seed": seed}, st.integers(min_value=0, max_value=2**64 - 1)),
    _one("top_n_tokens", st.one_of(st.integers(min_value=6), st.integers(max_value=-1))),
    _one(
        "grammar",
        st.one_of(
            json_scalars.filter(lambda v: v is not None),
            st.builds(
                lambda v: {"type": "json", "value": v},
                st.dictionaries(st.text().filter(lambda k: k != "properties"), json_values),
            ),
        ),
    ),
    _unknown(set(GENERATE_PARAMETERS)),
)
bad_generate = st.one_of(
    st.builds(lambda p: {"inputs": "hello", "parameters": p}, bad_parameters),
    st.builds(lambda p: {"inputs": "hello", "parameters": p}, json_scalars | st.lists(json_values, max_size=3)),
    st.builds(lambda i: {"inputs": i}, st.one_of(st.just(""), json_scalars.filter(lambda v: not isinstance(v, str)))),
    st.builds(lambda s: {"inputs": "x", "stream": s}, not_a_bool | st.just(True)),
    _unknown({"inputs", "parameters", "stream", "messages", "prompt"}).map(lambda d: {"inputs": "x", **d}),
    st.builds(lambda n: {"inputs": "x" * n}, st.integers(min_value=MAX_INPUTS_BYTES + 1, max_value=MAX_INPUTS_BYTES + 3_000)),
)

CHAT = {*CHAT_FIELDS, "max_completion_tokens", "prompt", "inputs"}  # the alias of max_tokens; the other shapes' keys
bad_message = st.one_of(
    json_scalars,
    st.builds(
        lambda r: {"role": r, "content": "x"}, json_scalars.filter(lambda r: r not in ("system", "user", "assistant", "tool"))
    ),
    st.builds(
        lambda c: {"role": "user", "content": c},
        st.one_of(st.integers(), st.booleans(), st.none(), st.dictionaries(st.text(), json_scalars)),
    ),
    st.just({"role": "user"}),
)
bad_chat_fields = st.one_of(
    _one("messages", st.one_of(st.just([]), json_scalars, st.lists(bad_message, min_size=1, max_size=3))),
    _one("stream", not_a_bool | st.just(True)),
    _one("n", st.integers().filter(lambda n: n != 1)),
    _one("presence_penalty", st.floats(max_value=-2, allow_nan=False)),
    _one("temperature", st.floats(max_value=-1e-9, allow_nan=False)),
    # Above 1, clear of f32 rounding (1.0000000001 is 1.0, dropped as OpenAI's "no filtering").
    _one("top_p", st.one_of(st.floats(min_value=1.001, allow_nan=False), st.floats(max_value=0, allow_nan=False))),
    _one("top_logprobs", st.one_of(st.integers(min_value=6), st.integers(max_value=-1))),
    st.sampled_from(["max_tokens", "max_completion_tokens"]).flatmap(lambda n: _one(n, outside_budget)),
    _one("logit_bias", json_values.filter(lambda v: v is not None)),
    st.just({"tools": [], "response_format": {"type": "regex", "value": "a"}}),
    _unknown(CHAT),
)
bad_chat = st.one_of(
    st.builds(lambda fields: {"messages": USER, **fields}, bad_chat_fields),
    st.builds(
        lambda n: {"messages": [{"role": "user", "content": "x" * n}]},
        st.integers(min_value=MAX_INPUTS_BYTES + 1, max_value=MAX_INPUTS_BYTES + 3_000),
    ),
)

COMPLETIONS = {
    "model",
    "prompt",
    "max_tokens",
    "temperature",
    "top_p",
    "stream",
    "seed",
    "suffix",
    "repetition_penalty",
    "frequency_penalty",
    "stop",
    "messages",
    "inputs",
}
bad_completions_fields = st.one_of(
    _one(
        "prompt",
        st.one_of(
            st.just(""),
            st.just([]),
            st.lists(st.text(min_size=1), min_size=5, max_size=8),
            st.lists(st.just(""), min_size=1, max_size=3),
            json_scalars.filter(lambda v: not isinstance(v, str)),
        ),
    ),
    _one("suffix", st.text()),
    _one("stream", not_a_bool | st.just(True)),
    _one("max_tokens", outside_budget),
    _one("repetition_penalty", st.floats(max_value=0, allow_nan=False)),
    _unknown(COMPLETIONS),
)
bad_completions = st.builds(lambda fields: {"prompt": "hello", **fields}, bad_completions_fields)

surrogates = st.integers(min_value=0xD800, max_value=0xDFFF).map(chr)
raw_bodies = st.one_of(
    st.one_of(bad_generate, bad_chat, bad_completions).map(json.dumps),
    # Unpaired surrogates, as JSON escapes, in each shape's text.
    st.builds(lambda c: json.dumps({"inputs": "x" + c}), surrogates),
    st.builds(lambda c: json.dumps({"inputs": "x", "parameters": {"stop": [c]}}), surrogates),
    st.builds(lambda c: json.dumps({"messages": [{"role": "user", "content": c}]}), surrogates),
    st.builds(lambda c: json.dumps({"prompt": ["x", c]}), surrogates),
    # None, or two, of the shapes' keys.
    st.dictionaries(st.text(max_size=8).filter(lambda k: k not in {"inputs", "messages", "prompt"}), json_values, max_size=3).map(
        json.dumps
    ),
    st.sampled_from([{"inputs": "x", "prompt": "y"}, {"messages": USER, "prompt": "y"}, {"inputs": "x", "messages": USER}]).map(
        json.dumps
    ),
    # Nesting deeper than serde_json's limit, or than the Python parser's recursion.
    st.integers(min_value=126, max_value=9_000).map(
        lambda n: '{"inputs": "x", "parameters": {"stop": ' + "[" * n + "]" * n + "}}"
    ),
    st.text(max_size=200).filter(lambda t: not _is_json_object(t)),
    st.sampled_from(
        [
            '{"inputs": "x", "parameters": {"temperature": NaN}}',
            '{"prompt": "x", "seed": Infinity}',
            '{"inputs": "a", "inputs": "b"}',
        ]
    ),
)
content_types = st.one_of(
    st.just("application/json"), st.sampled_from(["text/plain", "application/xml", "", "multipart/form-data"])
)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
