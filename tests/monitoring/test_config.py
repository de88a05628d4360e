"""MonitoringConfig and OpsSubscription: where alarms page, the stuck margin, the 5xx threshold, log retention."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from llm_async.monitoring.config import MonitoringConfig, OpsSubscription
from llm_async.validators import ConfigError

RETENTION_PERIODS = (
    "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"
)
QUEUE_ARN_RULE = "a standard SQS queue ARN 'arn:aws:sqs:<region>:<account>:<name>' for sqs"


def _raises(message: str):  # noqa: ANN202  (pytest's context manager)
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


def test_log_retention_must_be_a_cloudwatch_period() -> None:
    with pytest.raises(
        ConfigError, match=r"^monitoring\.log_retention_days: must be one of 1, 3, 5, 7, 14, 30, .* \(got 2\)$"
    ):
        MonitoringConfig(log_retention_days=2)


def test_the_retention_error_lists_every_cloudwatch_period() -> None:
    with _raises(f"monitoring.log_retention_days: must be one of {RETENTION_PERIODS} (got 366)"):
        MonitoringConfig(log_retention_days=366)


@pytest.mark.parametrize("days", [int(d) for d in RETENTION_PERIODS.split(", ")])
def test_every_cloudwatch_retention_period_is_accepted(days: int) -> None:
    MonitoringConfig(log_retention_days=days)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: OpsSubscription("sms", "+15550100"),
            "monitoring.ops_subscriptions.protocol: must be one of email, https, sqs (got 'sms')",
        ),
        (
            lambda: OpsSubscription("email", "oncall"),
            "monitoring.ops_subscriptions.endpoint: must be an email address for email (got 'oncall')",
        ),
        (
            lambda: OpsSubscription("https", "http://pager.example.com/hook"),
            "monitoring.ops_subscriptions.endpoint: must be an https:// URL for https"
            " (got 'http://pager.example.com/hook')",
        ),
        (
            lambda: OpsSubscription("sqs", "arn:aws:sqs:us-east-1:123456789012:alarms.fifo"),
            "monitoring.ops_subscriptions.endpoint: must be a standard SQS queue ARN"
            " 'arn:aws:sqs:<region>:<account>:<name>' for sqs (got 'arn:aws:sqs:us-east-1:123456789012:alarms.fifo')",
        ),
        (
            lambda: OpsSubscription("sqs", "https://sqs.us-east-1.amazonaws.com/123456789012/alarms"),
            "monitoring.ops_subscriptions.endpoint: must be a standard SQS queue ARN"
            " 'arn:aws:sqs:<region>:<account>:<name>' for sqs"
            " (got 'https://sqs.us-east-1.amazonaws.com/123456789012/alarms')",
        ),
        (
            lambda: MonitoringConfig(ops_subscriptions=(OpsSubscription("email", "a@example.com"), "b@example.com")),
            "monitoring.ops_subscriptions: must be a tuple of OpsSubscription (got (OpsSubscription(protocol='email',"
            " endpoint='a@example.com'), 'b@example.com'))",
        ),
        (lambda: MonitoringConfig(wake_margin_s=-1), "monitoring.wake_margin_s: must be an integer 0–3600 (got -1)"),
        (
            lambda: MonitoringConfig(api_5xx_threshold=0),
            "monitoring.api_5xx_threshold: must be an integer 1–10000 (got 0)",
        ),
    ],
)
def test_monitoring_rules(build: Callable[[], object], message: str) -> None:
    with _raises(message):
        build()


# Each destination an on-call team would hand over, beside the near miss that is refused.
@pytest.mark.parametrize(
    ("protocol", "accepted", "near_miss", "allowed"),
    [
        ("email", "llm-oncall@example.com", "llm-oncall@example", "an email address for email"),
        ("email", "llm-oncall@example.com", "llm oncall@example.com", "an email address for email"),
        (
            "https",
            "https://events.pagerduty.com/integration/abc/enqueue",
            "http://events.pagerduty.com/integration/abc/enqueue",
            "an https:// URL for https",
        ),
        (
            "https",
            "https://hooks.slack.com/services/T0/B0/x",
            "hooks.slack.com/services/T0/B0/x",
            "an https:// URL for https",
        ),
        (
            "sqs",
            "arn:aws:sqs:eu-west-1:123456789012:ops-alarms",
            "arn:aws:sqs:eu-west-1:123456789012:ops-alarms.fifo",
            QUEUE_ARN_RULE,
        ),
        (
            "sqs",
            "arn:aws:sqs:eu-west-1:123456789012:ops-alarms",
            "arn:aws:sqs:eu-west-1:12345678901:ops-alarms",
            QUEUE_ARN_RULE,
        ),
        (
            "sqs",
            "arn:aws:sqs:eu-west-1:123456789012:ops-alarms",
            "arn:aws:sns:eu-west-1:123456789012:ops-alarms",
            QUEUE_ARN_RULE,
        ),
        (
            "sqs",
            "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:ops_alarms",
            "arn:aws:sqs:euwest1:123456789012:ops_alarms",
            QUEUE_ARN_RULE,
        ),
        (
            "sqs",
            "arn:aws:sqs:us-east-1:123456789012:" + "q" * 80,
            "arn:aws:sqs:us-east-1:123456789012:" + "q" * 81,
            QUEUE_ARN_RULE,
        ),
    ],
)
def test_ops_subscriptions_accept_email_https_and_a_standard_queue(
    protocol: str, accepted: str, near_miss: str, allowed: str
) -> None:
    MonitoringConfig(ops_subscriptions=(OpsSubscription(protocol, accepted),))
    with _raises(f"monitoring.ops_subscriptions.endpoint: must be {allowed} (got {near_miss!r})"):
        OpsSubscription(protocol, near_miss)


def test_a_list_of_subscriptions_is_refused() -> None:
    subscription = OpsSubscription("email", "a@example.com")
    with _raises(f"monitoring.ops_subscriptions: must be a tuple of OpsSubscription (got [{subscription!r}])"):
        MonitoringConfig(ops_subscriptions=[subscription])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"wake_margin_s": 3601}, "monitoring.wake_margin_s: must be an integer 0–3600 (got 3601)"),
        ({"api_5xx_threshold": 10_001}, "monitoring.api_5xx_threshold: must be an integer 1–10000 (got 10001)"),
        ({"api_5xx_threshold": True}, "monitoring.api_5xx_threshold: must be an integer 1–10000 (got True)"),
    ],
)
def test_limits_are_refused_just_past_their_upper_bound(changes: dict[str, object], message: str) -> None:
    with _raises(message):
        MonitoringConfig(**changes)  # type: ignore[arg-type]


def test_limits_are_accepted_at_their_bounds() -> None:
    MonitoringConfig(wake_margin_s=0, api_5xx_threshold=1)
    MonitoringConfig(wake_margin_s=3600, api_5xx_threshold=10_000)


def test_defaults_page_on_any_5xx_with_a_five_minute_margin_and_no_subscriber() -> None:
    default = MonitoringConfig()
    assert (default.api_5xx_threshold, default.wake_margin_s, default.log_retention_days) == (1, 300, 30)
    # No on-call address is known to the code: the topic's ARN is an output to subscribe by hand.
    assert default.ops_subscriptions == ()
