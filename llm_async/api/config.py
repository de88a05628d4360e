"""The inference API's settings: throttling, body and prompt limits, reserved concurrency, result subscriptions."""

from __future__ import annotations

from dataclasses import dataclass

from llm_async.notifications.config import ResultSubscription
from llm_async.validators import fail, int_in_range

# The body is forwarded to the container nearly as sent, and TGI refuses a payload over its `--payload-limit`,
# 2,000,000 bytes by default (launcher/src/main.rs, TGI v3.3.6). That is also well under the 6 MB event a
# synchronous Lambda invocation takes, so an oversized body gets the Lambda's 413, not a gateway 5xx.
BODY_LIMIT_BYTES = 2_000_000
# The budget of new tokens forwarded when a request names none: enough for a long answer, small enough
# that one request does not hold a batch slot for the whole context (ours, not the engine's).
DEFAULT_MAX_NEW_TOKENS = 512


@dataclass(frozen=True)
class TokenBudget:
    """The new tokens every forwarded request asks for: `default` when it names none, at most `maximum`."""

    default: int
    maximum: int


@dataclass(frozen=True)
class ApiConfig:
    """The inference API in front of the endpoint."""

    throttle_rate_per_s: int = 10
    throttle_burst: int = 20
    max_body_bytes: int = 1_048_576
    max_inputs_bytes: int = 262_144
    """Prompt size limit, in UTF-8 bytes; the TGI token limits still apply inside the container."""
    result_subscriptions: tuple[ResultSubscription, ...] = ()
    reserved_concurrency: int | None = None
    """Concurrent executions reserved for the API's Lambda (and its cap). None leaves it on the shared
    pool: a new account's whole quota can be 10, and a reservation must leave 100 unreserved."""
    default_max_new_tokens: int | None = None
    """The budget forwarded when a request names none. None: DEFAULT_MAX_NEW_TOKENS, or max_new_tokens if lower."""
    max_new_tokens: int | None = None
    """The largest budget a request may ask for. None: model.max_total_tokens − model.max_input_tokens, which
    fits beside any input the container accepts (TGI refuses input + new tokens > MAX_TOTAL_TOKENS)."""

    def __post_init__(self) -> None:
        int_in_range("api.throttle_rate_per_s", self.throttle_rate_per_s, 1, 10_000)
        if self.reserved_concurrency is not None:
            int_in_range("api.reserved_concurrency", self.reserved_concurrency, 1, 1000)
        int_in_range("api.throttle_burst", self.throttle_burst, 1, 5_000)
        int_in_range("api.max_body_bytes", self.max_body_bytes, 1_024, BODY_LIMIT_BYTES)
        int_in_range("api.max_inputs_bytes", self.max_inputs_bytes, 1, self.max_body_bytes)
        for name in ("default_max_new_tokens", "max_new_tokens"):
            if getattr(self, name) is not None:
                int_in_range(f"api.{name}", getattr(self, name), 1)
        if not isinstance(self.result_subscriptions, tuple):
            fail("api.result_subscriptions", "a tuple of ResultSubscription", self.result_subscriptions)
