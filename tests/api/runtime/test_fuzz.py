"""Property-based fuzz through the handler: malformed or out-of-range requests of the three shapes (bad_requests.py,
also checked against parse_request alone in test_request_fuzz.py) get a 4xx JSON error, write nothing, invoke nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from inference_api import handler
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from tests.api.runtime.bad_requests import content_types, raw_bodies
from tests.api.runtime.conftest import BUCKET, api_event, call

_PARTITION = "aws"  # moto keeps S3, a global service, per partition


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
