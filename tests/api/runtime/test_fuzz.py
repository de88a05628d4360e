"""Property-based fuzz: malformed or out-of-range requests get a 4xx JSON error, write nothing, invoke nothing."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inference_api import handler
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from tests.api.runtime.conftest import BUCKET, api_event, call

MAX_TOTAL_TOKENS = 2048
_PARTITION = "aws"  # moto keeps S3, a global service, per partition
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=10)

bad_parameters = st.one_of(
    st.fixed_dictionaries({"temperature": st.one_of(st.floats(max_value=0, allow_nan=False), st.text(), st.booleans())}),
    st.fixed_dictionaries({"top_p": st.one_of(st.floats(min_value=1, allow_nan=False), st.floats(max_value=0, allow_nan=False))}),
    st.fixed_dictionaries({"typical_p": st.one_of(st.floats(min_value=1, allow_nan=False), st.floats(max_value=0, allow_nan=False))}),
    st.fixed_dictionaries({"top_k": st.one_of(st.integers(max_value=0), st.floats(allow_nan=False), st.text())}),
    st.fixed_dictionaries({"max_new_tokens": st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_TOTAL_TOKENS), st.booleans())}),
    st.fixed_dictionaries({"repetition_penalty": st.floats(max_value=0, allow_nan=False)}),
    st.fixed_dictionaries({"stop": st.one_of(st.lists(st.text(min_size=1), min_size=5, max_size=8), st.lists(st.just(""), min_size=1, max_size=3), st.text())}),
    st.fixed_dictionaries({"seed": st.one_of(st.integers(max_value=-1), st.floats(allow_nan=False))}),
    st.fixed_dictionaries({"do_sample": st.one_of(st.integers(), st.text(), st.none())}),
    st.fixed_dictionaries({"truncate": st.one_of(st.integers(max_value=0), st.text(), st.floats(allow_nan=False))}),
    st.fixed_dictionaries({"best_of": st.integers(max_value=0)}),
    st.dictionaries(st.text(min_size=1).filter(lambda k: k not in {"temperature", "top_p", "top_k", "typical_p", "max_new_tokens", "repetition_penalty", "stop", "seed", "do_sample", "details", "return_full_text", "truncate", "watermark", "best_of"}), json_values, min_size=1, max_size=3),
    json_scalars | st.lists(json_values, max_size=3),
)

bad_bodies = st.one_of(
    st.builds(lambda p: {"inputs": "hello", "parameters": p}, bad_parameters),
    st.builds(lambda i: {"inputs": i}, st.one_of(st.just(""), st.text(alphabet=" \t\n", max_size=5), json_scalars.filter(lambda v: not isinstance(v, str)))),
    st.dictionaries(st.text(max_size=8).filter(lambda k: k not in {"inputs", "parameters"}), json_values, min_size=1, max_size=3).map(lambda d: {"inputs": "x", **d}),
    st.builds(lambda n: {"inputs": "x" * n}, st.integers(min_value=16_001, max_value=19_000)),
)
surrogates = st.integers(min_value=0xD800, max_value=0xDFFF).map(lambda c: chr(c))
raw_bodies = st.one_of(
    bad_bodies.map(json.dumps),
    # Unpaired surrogates, as JSON escapes, in the prompt or a stop sequence.
    st.builds(lambda c: json.dumps({"inputs": "x" + c}), surrogates),
    st.builds(lambda c: json.dumps({"inputs": "x", "parameters": {"stop": [c]}}), surrogates),
    # Nesting deep enough to exhaust the parser's recursion.
    st.integers(min_value=2_000, max_value=9_000).map(lambda n: '{"inputs": "x", "parameters": {"stop": ' + "[" * n + "]" * n + "}}"),
    st.text(max_size=200).filter(lambda t: not _is_json_object(t)),
    st.just('{"inputs": "x", "parameters": {"temperature": NaN}}'),
)
content_types = st.one_of(st.just("application/json"), st.sampled_from(["text/plain", "application/xml", "", "multipart/form-data"]))


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=raw_bodies, content_type=content_types)
def test_bad_requests_are_4xx_json_and_touch_nothing(aws, body: str, content_type: str) -> None:
    runtime = handler._inferences()._runtime
    invoked = []
    runtime.invoke_endpoint_async = lambda **kw: invoked.append(kw)
    status, _, response = call(api_event("POST", "/invocations", body, {"Content-Type": content_type}))
    assert 400 <= status < 500, (status, body)
    assert set(response) == {"error"} and set(response["error"]) == {"code", "message"}
    assert invoked == []
    # Not even a wake marker. Read from moto's S3 state: a ListObjectsV2 through botocore would take 8 of
    # this test's 10 ms an example.
    assert list(s3_backends[DEFAULT_ACCOUNT_ID][_PARTITION].buckets[BUCKET].keys) == []
