"""Operations settings: where alarms page, when a wake counts as stuck, the 5xx threshold, log retention."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_async.validators import check_push_endpoint, fail, int_in_range, matches

# CloudWatch Logs' allowed retention periods, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
# A standard queue (SNS standard topics cannot deliver to FIFO queues).
_SQS_QUEUE_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,80}$")


@dataclass(frozen=True)
class OpsSubscription:
    """Where the operations topic delivers alarms: an email address, an HTTPS URL (a pager or chat
    webhook) or an existing standard SQS queue, by ARN."""

    protocol: str
    endpoint: str

    def __post_init__(self) -> None:
        if self.protocol not in ("email", "https", "sqs"):
            fail("monitoring.ops_subscriptions.protocol", "one of email, https, sqs", self.protocol)
        check_push_endpoint("monitoring.ops_subscriptions.endpoint", self.protocol, self.endpoint)
        if self.protocol == "sqs" and not matches(_SQS_QUEUE_ARN, self.endpoint):
            fail(
                "monitoring.ops_subscriptions.endpoint",
                "a standard SQS queue ARN 'arn:aws:sqs:<region>:<account>:<name>' for sqs",
                self.endpoint,
            )


@dataclass(frozen=True)
class MonitoringConfig:
    """The dashboard, the operations alarms and their topic, and log retention."""

    ops_subscriptions: tuple[OpsSubscription, ...] = ()
    wake_margin_s: int = 300
    """Added to the endpoint's startup budget: a request older than that has waited longer than any
    cold start should take, and the stuck-at-zero alarm fires."""
    api_5xx_threshold: int = 1
    """API 5xx responses in 5 minutes that page. 1 pages on any; the API's 503 is back-pressure that the
    client retries, so raise it where short SageMaker or S3 throttling is expected."""
    log_retention_days: int = 30
    """Every log group of the stack: the endpoint's, the API's access logs and the Lambda's."""

    def __post_init__(self) -> None:
        if not isinstance(self.ops_subscriptions, tuple) or not all(
            isinstance(s, OpsSubscription) for s in self.ops_subscriptions
        ):
            fail("monitoring.ops_subscriptions", "a tuple of OpsSubscription", self.ops_subscriptions)
        int_in_range("monitoring.wake_margin_s", self.wake_margin_s, 0, 3600)
        int_in_range("monitoring.api_5xx_threshold", self.api_5xx_threshold, 1, 10_000)
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            fail(
                "monitoring.log_retention_days",
                f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
                self.log_retention_days,
            )
