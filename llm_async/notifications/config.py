"""Push destinations for inference outcomes: SQS queues the stack creates, emails, HTTPS URLs."""

from __future__ import annotations

from dataclasses import dataclass

from llm_async.validators import check_push_endpoint, fail


@dataclass(frozen=True)
class ResultSubscription:
    """A push destination for inference outcomes: an SQS queue (created, with a DLQ), an email or an HTTPS URL."""

    protocol: str
    endpoint: str = ""
    """The email address or https:// URL; empty for 'sqs' (the stack creates the queue)."""
    topics: tuple[str, ...] = ("success", "error")

    def __post_init__(self) -> None:
        if self.protocol not in ("sqs", "email", "https"):
            fail("api.result_subscriptions.protocol", "one of sqs, email, https", self.protocol)
        if self.protocol == "sqs" and self.endpoint:
            fail("api.result_subscriptions.endpoint", "empty for sqs (the stack creates the queue)", self.endpoint)
        check_push_endpoint("api.result_subscriptions.endpoint", self.protocol, self.endpoint)
        if not self.topics or not set(self.topics) <= {"success", "error"} or not isinstance(self.topics, tuple):
            fail("api.result_subscriptions.topics", "a non-empty tuple of 'success' and/or 'error'", self.topics)
