"""StorageConfig: how long payloads and access logs are kept, and whether they outlive the stack."""

from __future__ import annotations

import re
from typing import Any

import pytest

from llm_async.storage.config import StorageConfig
from llm_async.validators import ConfigError


def _raises(message: str):  # noqa: ANN202
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize("field", ["payload_expiry_days", "access_log_expiry_days"])
@pytest.mark.parametrize("bad", [0, 3651, True, "7", 7.0])
def test_expiry_days_must_be_a_whole_number_of_days_from_one_to_ten_years(field: str, bad: Any) -> None:
    # A bool is an int to Python; a day count of True is a mistake, not one day.
    with _raises(f"storage.{field}: must be an integer 1–3650 (got {bad!r})"):
        StorageConfig(**{field: bad})


def test_expiry_days_accept_their_bounds() -> None:
    StorageConfig(payload_expiry_days=1, access_log_expiry_days=3650)
    StorageConfig(payload_expiry_days=3650, access_log_expiry_days=1)


def test_defaults_keep_payloads_a_week_and_access_logs_90_days_and_delete_them_with_the_stack() -> None:
    assert StorageConfig() == StorageConfig(payload_expiry_days=7, access_log_expiry_days=90, retain_on_delete=False)
