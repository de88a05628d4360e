"""Batch jobs' settings: the input file's limits, how lines are chunked and submitted, the completion windows offered."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_async.validators import fail, int_in_range, matches

# S3's largest single PUT: the presigned upload target of POST /files is one PUT.
LARGEST_UPLOAD_BYTES = 5_000_000_000
# Distributed Map runs at most 10,000 child workflows at once (Step Functions quotas).
MAX_CHILD_WORKFLOWS_AT_ONCE = 10_000
MAX_LINES = 1_000_000
# One SubmitChunk invocation writes and invokes each of its lines in turn, within its Lambda timeout.
MAX_CHUNK_LINES = 500
# A window is `<hours>h`, as OpenAI's `completion_window` ("24h"); the contract of the Lambdas parses that form
# (batch_jobs.contract). A week at most: a batch's objects must outlive its window (storage.payload_expiry_days).
_WINDOW = re.compile(r"^[1-9][0-9]*h$")
MAX_WINDOW_HOURS = 168


@dataclass(frozen=True)
class BatchConfig:
    """The OpenAI Batch API over the endpoint (docs/design/batch-jobs.md)."""

    enabled: bool = True
    max_file_bytes: int = 200_000_000
    """The largest input file POST /files signs an upload for, and Validate reads (OpenAI's 200 MB)."""
    max_lines: int = 50_000
    """The most lines an input file may have (OpenAI's 50,000)."""
    chunk_lines: int = 50
    """Lines a child workflow submits and then tracks together (the Distributed Map's ItemBatcher)."""
    max_concurrency: int | None = None
    """Child workflows at once, so at most `max_concurrency × chunk_lines` lines are in SageMaker's queue. None: enough
    for twice what the endpoint runs at once at max capacity (`DeploymentConfig.batch_max_concurrency`)."""
    completion_windows: tuple[str, ...] = ("24h",)
    """The `completion_window` values POST /batches takes, each `<hours>h`; lines not done by then are reported expired."""

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            fail("batch.enabled", "True or False", self.enabled)
        int_in_range("batch.max_file_bytes", self.max_file_bytes, 1, LARGEST_UPLOAD_BYTES)
        int_in_range("batch.max_lines", self.max_lines, 1, MAX_LINES)
        int_in_range("batch.chunk_lines", self.chunk_lines, 1, MAX_CHUNK_LINES)
        if self.chunk_lines > self.max_lines:
            fail("batch.chunk_lines", f"1–{self.max_lines} (batch.max_lines)", self.chunk_lines)
        if self.max_concurrency is not None:
            int_in_range("batch.max_concurrency", self.max_concurrency, 1, MAX_CHILD_WORKFLOWS_AT_ONCE)
        windows = self.completion_windows
        if not isinstance(windows, tuple) or not windows or len(set(windows)) != len(windows):
            fail("batch.completion_windows", "a non-empty tuple of distinct windows like ('24h',)", windows)
        for window in windows:
            if not matches(_WINDOW, window) or int(window[:-1]) > MAX_WINDOW_HOURS:
                fail("batch.completion_windows", f"'<hours>h' windows of 1–{MAX_WINDOW_HOURS} hours, like '24h'", window)

    @property
    def chunks(self) -> int:
        """Child workflows of the largest batch."""
        return -(-self.max_lines // self.chunk_lines)

    @property
    def longest_window_s(self) -> int:
        return max(window_seconds(window) for window in self.completion_windows)

    @property
    def run_s(self) -> int:
        """The longest a batch runs: its longest window and RUN_MARGIN_S (the state machine's timeout)."""
        return self.longest_window_s + RUN_MARGIN_S

    def max_concurrency_for(self, running: int) -> int:
        """Child workflows at once: `max_concurrency` as configured, else derived_max_concurrency."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return derived_max_concurrency(running, self.chunk_lines)


def derived_max_concurrency(running: int, chunk_lines: int) -> int:
    """Enough chunks to hold twice `running` (what the endpoint runs at once at max capacity), so its queue stays fed
    without requests waiting long enough to near their TTL; two at least, so that the next chunk is queued while the
    last lines of another still run."""
    return min(MAX_CHILD_WORKFLOWS_AT_ONCE, max(2, -(-2 * running // chunk_lines)))


POLL_INTERVAL_S = 30
"""How often a child workflow checks its chunk, unless the completion window is too long for that (`poll_interval_s`)."""
# A child workflow's history holds at most 25,000 events (Step Functions quotas). Each poll adds 9: the Wait's entered and
# exited, the Lambda task's entered, scheduled, started, succeeded and exited, the Choice's entered and exited. The
# polls of a whole window get 20,000 of them; the rest is for the submit, its retries and the Lambda service retries.
EVENTS_PER_POLL = 9
POLL_HISTORY_BUDGET = 20_000


def poll_interval_s(longest_window_s: int) -> int:
    """30 s, or longer when a child could poll for a whole window of that length: ceil(window × 9 / 20,000) s."""
    return max(POLL_INTERVAL_S, -(-longest_window_s * EVENTS_PER_POLL // POLL_HISTORY_BUDGET))


def window_seconds(window: str) -> int:
    """`24h` → 86,400."""
    return int(window.removesuffix("h")) * 3600


RUN_MARGIN_S = 3600
"""A batch's run beyond its completion window: Validate and Finalize (up to their 15-minute Lambda timeouts each), the
last poll of each chunk, retries. The state machine's timeout is the longest window plus this."""
MAX_CHUNKS = 50_000
"""Child workflows one batch may have. Without a ResultWriter the Distributed Map gathers every child's output into
its own, within Step Functions' 256 KiB payload quota: each child returns `{}` (3 bytes with its comma), so 50,000
children stay under 150 KiB."""
