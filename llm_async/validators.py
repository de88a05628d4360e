"""The checks the configuration classes share, and the one error type they raise.

Every failure is one line, `<field path>: must be <allowed values> (got <value>)`, which `app.py` prints
instead of a traceback.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn


class ConfigError(ValueError):
    """A configuration value is outside what SageMaker, TGI or llm-async accepts."""


def fail(field_path: str, allowed: str, got: Any) -> NoReturn:
    raise ConfigError(f"{field_path}: must be {allowed} (got {got!r})")


def int_in_range(field_path: str, value: Any, low: int, high: int | None = None) -> None:
    """An int (not a bool) in [low, high]; no upper bound when `high` is None."""
    allowed = f"an integer {low}–{high}" if high is not None else f"an integer ≥ {low}"
    if isinstance(value, bool) or not isinstance(value, int):
        fail(field_path, allowed, value)
    if value < low or (high is not None and value > high):
        fail(field_path, allowed, value)


def matches(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.match(value) is not None


ACCOUNT = re.compile(r"^\d{12}$")
# Partitions with longer prefixes exist: the SDK image table lists eusc-de-east-1 (European Sovereign Cloud).
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTTPS_URL = re.compile(r"^https://[^\s/]+\S*$")


def check_push_endpoint(field_path: str, protocol: str, endpoint: str) -> None:
    """The email address or https:// URL an SNS subscription of that protocol delivers to."""
    if protocol == "email" and not matches(_EMAIL, endpoint):
        fail(field_path, "an email address for email", endpoint)
    if protocol == "https" and not matches(_HTTPS_URL, endpoint):
        fail(field_path, "an https:// URL for https", endpoint)
