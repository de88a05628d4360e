"""ApiConfig: the API's throttling, body and prompt limits and reserved concurrency, each rule one readable line."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from llm_async.api.config import ApiConfig
from llm_async.notifications.config import ResultSubscription
from llm_async.validators import ConfigError

# The largest body accepted (see test_the_body_limit_stays_under_a_synchronous_lambda_event).
# TGI refuses a payload over 2,000,000 bytes (its --payload-limit default, launcher/src/main.rs, TGI v3.3.6).
LARGEST_BODY = 2_000_000


def _raises(message: str):  # noqa: ANN202  (pytest's context manager)
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ApiConfig(throttle_rate_per_s=0), "api.throttle_rate_per_s: must be an integer 1–10000 (got 0)"),
        (lambda: ApiConfig(throttle_burst=0), "api.throttle_burst: must be an integer 1–5000 (got 0)"),
        (
            lambda: ApiConfig(max_body_bytes=20_000_000),
            "api.max_body_bytes: must be an integer 1024–2000000 (got 20000000)",
        ),
        (
            lambda: ApiConfig(max_body_bytes=2048, max_inputs_bytes=4096),
            "api.max_inputs_bytes: must be an integer 1–2048 (got 4096)",
        ),
        (
            lambda: ApiConfig(result_subscriptions=[ResultSubscription("sqs")]),
            "api.result_subscriptions: must be a tuple of ResultSubscription"
            " (got [ResultSubscription(protocol='sqs', endpoint='', topics=('success', 'error'))])",
        ),
    ],
)
def test_api_rules(build: Callable[[], object], message: str) -> None:
    with _raises(message):
        build()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"throttle_rate_per_s": 10_001}, "api.throttle_rate_per_s: must be an integer 1–10000 (got 10001)"),
        ({"throttle_burst": 5_001}, "api.throttle_burst: must be an integer 1–5000 (got 5001)"),
        ({"max_body_bytes": 1_023}, "api.max_body_bytes: must be an integer 1024–2000000 (got 1023)"),
        ({"max_inputs_bytes": 0}, "api.max_inputs_bytes: must be an integer 1–1048576 (got 0)"),
        ({"reserved_concurrency": 0}, "api.reserved_concurrency: must be an integer 1–1000 (got 0)"),
        ({"reserved_concurrency": 1_001}, "api.reserved_concurrency: must be an integer 1–1000 (got 1001)"),
        ({"throttle_rate_per_s": True}, "api.throttle_rate_per_s: must be an integer 1–10000 (got True)"),
        ({"throttle_burst": 20.0}, "api.throttle_burst: must be an integer 1–5000 (got 20.0)"),
    ],
)
def test_each_limit_is_refused_just_past_its_bound(changes: dict[str, object], message: str) -> None:
    with _raises(message):
        ApiConfig(**changes)  # type: ignore[arg-type]


def test_each_limit_is_accepted_at_its_bounds() -> None:
    for changes in (
        {
            "throttle_rate_per_s": 1,
            "throttle_burst": 1,
            "max_body_bytes": 1_024,
            "max_inputs_bytes": 1,
            "reserved_concurrency": 1,
        },
        {
            "throttle_rate_per_s": 10_000,
            "throttle_burst": 5_000,
            "max_body_bytes": LARGEST_BODY,
            "max_inputs_bytes": LARGEST_BODY,
            "reserved_concurrency": 1_000,
        },
    ):
        ApiConfig(**changes)  # type: ignore[arg-type]


def test_the_prompt_limit_follows_the_body_limit() -> None:
    # max_inputs_bytes is bounded by this config's max_body_bytes, not by a fixed number.
    ApiConfig(max_body_bytes=4_096, max_inputs_bytes=4_096)
    with _raises("api.max_inputs_bytes: must be an integer 1–4095 (got 4096)"):
        ApiConfig(max_body_bytes=4_095, max_inputs_bytes=4_096)


def test_the_body_limit_stays_under_a_synchronous_lambda_event() -> None:
    # Lambda takes 6 MB of synchronous event (body, headers, request context): an oversized body must get
    # the handler's 413, not a gateway 5xx, so the largest accepted body leaves room for the rest.
    assert LARGEST_BODY < 6_000_000
    with _raises(f"api.max_body_bytes: must be an integer 1024–{LARGEST_BODY} (got {LARGEST_BODY + 1})"):
        ApiConfig(max_body_bytes=LARGEST_BODY + 1)


def test_defaults_leave_the_shared_pool_and_keep_the_prompt_inside_the_body() -> None:
    default = ApiConfig()
    # No reservation by default: a new account's whole quota can be 10 and a reservation must leave 100.
    assert default.reserved_concurrency is None
    assert (default.throttle_rate_per_s, default.throttle_burst) == (10, 20)
    assert default.max_inputs_bytes < default.max_body_bytes <= LARGEST_BODY
    assert default.result_subscriptions == ()
