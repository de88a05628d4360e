"""ResultSubscription: a push destination of inference outcomes is an SQS queue the stack creates, an email or a URL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from llm_async.notifications.config import ResultSubscription
from llm_async.validators import ConfigError


def _raises(message: str):  # noqa: ANN202
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ResultSubscription("sms", "+15550100"),
            "api.result_subscriptions.protocol: must be one of sqs, email, https (got 'sms')",
        ),
        (
            lambda: ResultSubscription("sqs", "arn:aws:sqs:x"),
            "api.result_subscriptions.endpoint: must be empty for sqs (the stack creates the queue)"
            " (got 'arn:aws:sqs:x')",
        ),
        (
            lambda: ResultSubscription("sqs", topics=("done",)),
            "api.result_subscriptions.topics: must be a non-empty tuple of 'success' and/or 'error' (got ('done',))",
        ),
    ],
)
def test_result_subscription_rules(build: Callable[[], Any], message: str) -> None:
    with _raises(message):
        build()


# What an email or https destination's endpoint must be.
ENDPOINTS = {"email": "an email address for email", "https": "an https:// URL for https"}


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("email", ""),
        ("email", "ops"),
        ("email", "ml platform@example.com"),
        ("https", ""),
        ("https", "http://hooks.example.com"),
        ("https", "https://"),
        ("https", "https:// hooks.example.com"),
    ],
)
def test_email_and_https_need_a_well_formed_endpoint(protocol: str, endpoint: str) -> None:
    with _raises(f"api.result_subscriptions.endpoint: must be {ENDPOINTS[protocol]} (got {endpoint!r})"):
        ResultSubscription(protocol, endpoint)


@pytest.mark.parametrize("topics", [(), ["success"], ("success", "done"), "success"])
def test_topics_must_be_a_non_empty_tuple_of_the_two_names(topics: Any) -> None:
    with _raises(
        f"api.result_subscriptions.topics: must be a non-empty tuple of 'success' and/or 'error' (got {topics!r})"
    ):
        ResultSubscription("sqs", topics=topics)


@pytest.mark.parametrize(
    "destination",
    [
        ("sqs", "", ("error",)),
        ("email", "ml-platform@example.com", ("success", "error")),
        ("https", "https://hooks.example.com/llm?token=abc", ("success",)),
    ],
)
def test_each_protocol_accepts_its_endpoint_on_either_topic(destination: tuple[str, str, tuple[str, ...]]) -> None:
    protocol, endpoint, topics = destination
    ResultSubscription(protocol, endpoint, topics=topics)


def test_a_destination_hears_of_successes_and_errors_unless_told() -> None:
    assert ResultSubscription("sqs").topics == ("success", "error")
