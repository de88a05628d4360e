"""The payload bucket's settings: how long payloads and access logs are kept, and whether they outlive the stack."""

from __future__ import annotations

from dataclasses import dataclass

from llm_async.validators import int_in_range


@dataclass(frozen=True)
class StorageConfig:
    """The async payload bucket."""

    payload_expiry_days: int = 7
    """Input, output and failure objects are deleted this many days after they are written."""
    access_log_expiry_days: int = 90
    retain_on_delete: bool = False
    """Keep the key and buckets when the stack is deleted: on in prod."""

    def __post_init__(self) -> None:
        int_in_range("storage.payload_expiry_days", self.payload_expiry_days, 1, 3650)
        int_in_range("storage.access_log_expiry_days", self.access_log_expiry_days, 1, 3650)


