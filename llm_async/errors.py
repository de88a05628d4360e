"""The one error type a bad configuration raises, so `app.py` can print it as one line."""

from __future__ import annotations

from typing import Any, NoReturn


class ConfigError(ValueError):
    """A configuration value is outside what SageMaker, TGI or llm-async accepts."""


def fail(field_path: str, allowed: str, got: Any) -> NoReturn:
    raise ConfigError(f"{field_path}: must be {allowed} (got {got!r})")
