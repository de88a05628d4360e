"""Wake on request: start a scale-out from zero at once instead of after the alarm chain's 1–3 minutes.

How: put the endpoint's own wake alarm into ALARM with `SetAlarmState`. The step policy attached to it
then runs exactly as if CloudWatch had seen `HasBacklogWithoutCapacity` ≥ 1, with the same step, the
same cooldown and the same MaxCapacity bound, so a wake by request and a wake by alarm can never add
two instances. Re-registering the scalable target with MinCapacity 1 was rejected: it races the wake policy into a
second instance and leaves a minimum to restore. `UpdateEndpointWeightsAndCapacities` was rejected
because it bypasses the policies' cooldowns. Open risk, shared with any early wake: the idle scale-in
alarm stays in ALARM while the endpoint sits at zero, and until the request shows in the backlog
metric (1–2 minutes) its action may set the capacity back to 0 if AAS does not hold scale-in during
the wake policy's scale-out cooldown; the wake alarm then wakes the endpoint as it would without this
path. The step policy picks its step from the alarm's reason data, so the datapoint and threshold are
passed along. None of this has been verified against a live account.

Rate limit: one conditional S3 write per minute (`input/.wake/<minute>`) elects a single caller per
minute across all Lambda instances; everyone else skips the control-plane calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from inference_api.contract import EndpointSettings
from inference_api.inferences import error_code


class Waker:
    def __init__(
        self,
        *,
        sagemaker: Any,
        cloudwatch: Any,
        s3: Any,
        bucket: str,
        endpoint_name: str,
        wake_alarm_name: str,
        marker_prefix: str = "input/.wake/",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sagemaker, self._cloudwatch, self._s3 = sagemaker, cloudwatch, s3
        self._bucket, self._endpoint_name, self._alarm_name = bucket, endpoint_name, wake_alarm_name
        self._marker_prefix, self._clock = marker_prefix, clock
        self._last_minute: int | None = None

    @classmethod
    def for_endpoint(cls, settings: EndpointSettings, s3: Any) -> Waker:
        """The waker of the environment's endpoint (the inference API's and the batch Wake step's), with SageMaker and
        CloudWatch clients of its own and the caller's S3 client."""
        return cls(
            sagemaker=boto3.client("sagemaker"),
            cloudwatch=boto3.client("cloudwatch"),
            s3=s3,
            bucket=settings.bucket_name,
            endpoint_name=settings.endpoint_name,
            wake_alarm_name=settings.wake_alarm_name,
        )

    def wake_if_idle(self) -> str:
        """One of: 'rate-limited', 'warm', 'woken', 'failed'. Never raises: the alarm remains the safety net."""
        now = self._clock()
        minute = int(now // 60)
        if minute == self._last_minute:
            return "rate-limited"  # this Lambda instance already tried this minute: skip even the S3 call
        self._last_minute = minute
        try:
            self._s3.put_object(Bucket=self._bucket, Key=f"{self._marker_prefix}{minute}", Body=b"", IfNoneMatch="*")
        except ClientError as error:
            if error_code(error) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                return "rate-limited"
            return "failed"
        except BotoCoreError:
            return "failed"
        try:
            endpoint = self._sagemaker.describe_endpoint(EndpointName=self._endpoint_name)
            variants = endpoint.get("ProductionVariants", [])
            if any(v.get("CurrentInstanceCount", 0) > 0 or v.get("DesiredInstanceCount", 0) > 0 for v in variants):
                return "warm"
            self._cloudwatch.set_alarm_state(
                AlarmName=self._alarm_name,
                StateValue="ALARM",
                StateReason="llm-async API: a request arrived while the endpoint has no instance",
                StateReasonData=json.dumps(
                    {
                        "version": "1.0",
                        "queryDate": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                        "statistic": "Maximum",
                        "period": 60,
                        "recentDatapoints": [1.0],
                        "threshold": 1.0,
                    }
                ),
            )
        except (ClientError, BotoCoreError):
            return "failed"
        return "woken"
