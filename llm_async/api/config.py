"""The inference API's settings: throttling, body and prompt limits, reserved concurrency, result subscriptions."""

from __future__ import annotations

from dataclasses import dataclass

from llm_async.notifications.config import ResultSubscription
from llm_async.validators import fail, int_in_range

# API Gateway accepts 10 MB, but a synchronous Lambda invocation only 6 MB of event (body, headers,
# request context): stay well under it so an oversized body gets the Lambda's 413, not a gateway 5xx.
BODY_LIMIT_BYTES = 5_000_000


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

    def __post_init__(self) -> None:
        int_in_range("api.throttle_rate_per_s", self.throttle_rate_per_s, 1, 10_000)
        if self.reserved_concurrency is not None:
            int_in_range("api.reserved_concurrency", self.reserved_concurrency, 1, 1000)
        int_in_range("api.throttle_burst", self.throttle_burst, 1, 5_000)
        int_in_range("api.max_body_bytes", self.max_body_bytes, 1_024, BODY_LIMIT_BYTES)
        int_in_range("api.max_inputs_bytes", self.max_inputs_bytes, 1, self.max_body_bytes)
        if not isinstance(self.result_subscriptions, tuple):
            fail("api.result_subscriptions", "a tuple of ResultSubscription", self.result_subscriptions)
