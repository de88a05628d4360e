"""Wake on request: start a scale-out from zero at once instead of after the alarm chain's 1–3 minutes.

How: put the endpoint's own wake alarm into ALARM with `SetAlarmState`. The step policy attached to it
then runs exactly as if CloudWatch had seen `HasBacklogWithoutCapacity` ≥ 1, with the same step, the
same cooldown and the same MaxCapacity bound, so a wake by request and a wake by alarm can never add
two instances. The alternatives were rejected: `UpdateEndpointWeightsAndCapacities` is undone within
a minute by the idle scale-in policy (its alarm stays in ALARM while the endpoint sits at zero), and
re-registering the scalable target with MinCapacity 1 races the wake policy into a second instance
and leaves a minimum to restore. The step policy picks its step from the alarm's reason data, so the
datapoint and threshold are passed along; should that ever be ignored, the alarm's next evaluation
still wakes the endpoint (the safety net). Not verified against a live account.

Rate limit: one conditional S3 write per minute (`input/.wake/<minute>`) elects a single caller per
minute across all Lambda instances; everyone else skips the control-plane calls.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

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
        self._sagemaker = sagemaker
        self._cloudwatch = cloudwatch
        self._s3 = s3
        self._bucket = bucket
        self._endpoint_name = endpoint_name
        self._alarm_name = wake_alarm_name
        self._marker_prefix = marker_prefix
        self._clock = clock

    def wake_if_idle(self) -> str:
        """One of: 'rate-limited', 'warm', 'woken', 'failed'. Never raises: the alarm remains the safety net."""
        now = self._clock()
        try:
            self._s3.put_object(
                Bucket=self._bucket, Key=f"{self._marker_prefix}{int(now // 60)}", Body=b"", IfNoneMatch="*"
            )
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
                        "queryDate": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
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
