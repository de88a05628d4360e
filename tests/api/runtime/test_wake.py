"""Wake on request: only at zero instances, once a minute across callers, never failing a submit."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from inference_api.wake import Waker

from tests.api.runtime.conftest import API_ENVIRONMENT, BUCKET

ALARM = API_ENVIRONMENT.wake_alarm_name


def _variant(current: int, desired: int) -> dict:
    return {
        "EndpointName": "llm-async-test",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/llm-async-test",
        "EndpointConfigName": "cfg",
        "EndpointStatus": "InService",
        "CreationTime": "2026-01-01T00:00:00Z",
        "LastModifiedTime": "2026-01-01T00:00:00Z",
        "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": current, "DesiredInstanceCount": desired}],
    }


@pytest.fixture
def clients(aws):
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    with Stubber(sagemaker) as sm, Stubber(cloudwatch) as cw:
        yield {"s3": aws["s3"], "sagemaker": sagemaker, "cloudwatch": cloudwatch, "sm": sm, "cw": cw}


def _waker(clients, now: float = 1_800_000_000.0) -> Waker:
    return Waker(
        sagemaker=clients["sagemaker"],
        cloudwatch=clients["cloudwatch"],
        s3=clients["s3"],
        bucket=BUCKET,
        endpoint_name="llm-async-test",
        wake_alarm_name=ALARM,
        clock=lambda: now,
    )


def test_at_zero_instances_the_wake_alarm_is_set(clients) -> None:
    clients["sm"].add_response("describe_endpoint", _variant(0, 0), {"EndpointName": "llm-async-test"})
    clients["cw"].add_response(
        "set_alarm_state", {}, {"AlarmName": ALARM, "StateValue": "ALARM", "StateReason": ANY, "StateReasonData": ANY}
    )
    assert _waker(clients).wake_if_idle() == "woken"
    clients["cw"].assert_no_pending_responses()
    listing = clients["s3"].list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [o["Key"] for o in listing] == ["input/.wake/30000000"]


def test_reason_data_carries_a_breaching_datapoint(clients) -> None:
    sent = {}
    clients["sm"].add_response("describe_endpoint", _variant(0, 0))
    clients["cw"].add_response("set_alarm_state", {})
    clients["cloudwatch"].meta.events.register("provide-client-params.cloudwatch.SetAlarmState", lambda params, **_: sent.update(params))
    _waker(clients).wake_if_idle()
    data = json.loads(sent["StateReasonData"])
    assert (data["recentDatapoints"], data["threshold"], data["period"]) == ([1.0], 1.0, 60)


@pytest.mark.parametrize(("current", "desired"), [(1, 1), (0, 1), (2, 2)])
def test_warm_or_waking_endpoint_is_left_alone(clients, current: int, desired: int) -> None:
    clients["sm"].add_response("describe_endpoint", _variant(current, desired))
    assert _waker(clients).wake_if_idle() == "warm"  # no set_alarm_state queued: a call would fail the stub


def test_one_wake_attempt_per_minute_across_callers(clients) -> None:
    clients["sm"].add_response("describe_endpoint", _variant(0, 0))
    clients["cw"].add_response("set_alarm_state", {})
    waker = _waker(clients, 1_800_000_000.0)
    assert waker.wake_if_idle() == "woken"
    assert waker.wake_if_idle() == "rate-limited"  # the same instance: not even an S3 call
    assert _waker(clients, 1_800_000_059.0).wake_if_idle() == "rate-limited"
    clients["sm"].add_response("describe_endpoint", _variant(0, 1))
    assert _waker(clients, 1_800_000_060.0).wake_if_idle() == "warm"


def test_control_plane_errors_do_not_raise(clients) -> None:
    clients["sm"].add_client_error("describe_endpoint", "ThrottlingException", http_status_code=400)
    assert _waker(clients).wake_if_idle() == "failed"
