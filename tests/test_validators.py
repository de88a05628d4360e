"""The shared checks of `llm_async.validators`: one error type, one line, `<field>: must be <allowed> (got <value>)`."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from llm_async.environments import ENVIRONMENTS
from llm_async.validators import ACCOUNT, REGION, ConfigError, check_push_endpoint, fail, int_in_range, matches


def _raises(message: str):  # noqa: ANN202
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


def test_config_error_is_a_value_error() -> None:
    # app.py catches ConfigError; callers that only know ValueError still catch it.
    assert issubclass(ConfigError, ValueError)


def test_fail_names_the_field_the_allowed_values_and_the_repr_of_the_value() -> None:
    with _raises("a.b: must be an integer 1–3 (got '7')"):
        fail("a.b", "an integer 1–3", "7")


def test_error_is_one_line() -> None:
    endpoint = ENVIRONMENTS["sandbox"]().endpoint
    with pytest.raises(ConfigError) as error:
        dataclasses.replace(endpoint, request_ttl_s=59)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", [1, 2, 3])
def test_int_in_range_accepts_both_bounds_and_between(value: int) -> None:
    int_in_range("f", value, 1, 3)


@pytest.mark.parametrize("value", [0, 4])
def test_int_in_range_rejects_just_outside_the_bounds(value: int) -> None:
    with _raises(f"f: must be an integer 1–3 (got {value})"):
        int_in_range("f", value, 1, 3)


@pytest.mark.parametrize("value", [True, 2.0, "2", None])
def test_int_in_range_rejects_what_is_not_an_int(value: Any) -> None:
    # A bool is an int to Python, but `True` in a config is a mistake, not 1.
    with _raises(f"f: must be an integer 1–3 (got {value!r})"):
        int_in_range("f", value, 1, 3)


def test_int_in_range_without_an_upper_bound() -> None:
    int_in_range("f", 10**9, 1)
    with _raises("f: must be an integer ≥ 1 (got 0)"):
        int_in_range("f", 0, 1)


@pytest.mark.parametrize(
    ("value", "ok"), [("123456789012", True), ("12345678901", False), ("1234567890123", False), (123456789012, False)]
)
def test_account_is_twelve_digits_as_a_string(value: Any, ok: bool) -> None:
    assert matches(ACCOUNT, value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("us-east-1", True),
        ("ap-southeast-5", True),
        ("us-gov-west-1", True),
        ("useast1", False),
        ("US-EAST-1", False),
        ("us-east", False),
    ],
)
def test_region_shape(value: str, ok: bool) -> None:
    assert matches(REGION, value) is ok


@pytest.mark.parametrize(
    ("protocol", "endpoint", "message"),
    [
        ("email", "oncall", "f: must be an email address for email (got 'oncall')"),
        ("email", "on call@example.com", "f: must be an email address for email (got 'on call@example.com')"),
        ("https", "http://hooks.example.com", "f: must be an https:// URL for https (got 'http://hooks.example.com')"),
        ("https", "https://", "f: must be an https:// URL for https (got 'https://')"),
    ],
)
def test_push_endpoint_must_fit_its_protocol(protocol: str, endpoint: str, message: str) -> None:
    with _raises(message):
        check_push_endpoint("f", protocol, endpoint)


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [("email", "llm-oncall@example.com"), ("https", "https://hooks.example.com/llm"), ("sqs", "")],
)
def test_push_endpoint_accepts_a_valid_destination_and_leaves_other_protocols_alone(
    protocol: str, endpoint: str
) -> None:
    check_push_endpoint("f", protocol, endpoint)
