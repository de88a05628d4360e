"""BatchConfig alone, each rule one readable line naming its field; and the rules it shares with the deployment's other
sections (DeploymentConfig): the derived concurrency, the number of chunks, payload expiry against the windows."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pytest

from llm_async.batch.config import MAX_CHUNKS, RUN_MARGIN_S, BatchConfig, window_seconds
from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.config import ScalingConfig
from llm_async.environments import ENVIRONMENTS
from llm_async.storage.config import StorageConfig
from llm_async.validators import ConfigError


def _raises(message: str):  # noqa: ANN202  (pytest's context manager)
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


def test_defaults_are_openais_limits_one_window_of_a_day_and_a_derived_concurrency() -> None:
    assert BatchConfig() == BatchConfig(
        enabled=True,
        max_file_bytes=200_000_000,
        max_lines=50_000,
        chunk_lines=50,
        max_concurrency=None,
        completion_windows=("24h",),
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BatchConfig(enabled=1), "batch.enabled: must be True or False (got 1)"),
        (lambda: BatchConfig(max_file_bytes=0), "batch.max_file_bytes: must be an integer 1–5000000000 (got 0)"),
        (
            lambda: BatchConfig(max_file_bytes=5_000_000_001),
            "batch.max_file_bytes: must be an integer 1–5000000000 (got 5000000001)",
        ),
        (lambda: BatchConfig(max_lines=0), "batch.max_lines: must be an integer 1–1000000 (got 0)"),
        (lambda: BatchConfig(max_lines=50_000.0), "batch.max_lines: must be an integer 1–1000000 (got 50000.0)"),
        (lambda: BatchConfig(chunk_lines=0), "batch.chunk_lines: must be an integer 1–500 (got 0)"),
        (lambda: BatchConfig(chunk_lines=501), "batch.chunk_lines: must be an integer 1–500 (got 501)"),
        (lambda: BatchConfig(max_lines=10, chunk_lines=11), "batch.chunk_lines: must be 1–10 (batch.max_lines) (got 11)"),
        (lambda: BatchConfig(max_concurrency=0), "batch.max_concurrency: must be an integer 1–10000 (got 0)"),
        (lambda: BatchConfig(max_concurrency=10_001), "batch.max_concurrency: must be an integer 1–10000 (got 10001)"),
        (
            lambda: BatchConfig(completion_windows=()),
            "batch.completion_windows: must be a non-empty tuple of distinct windows like ('24h',) (got ())",
        ),
        (
            lambda: BatchConfig(completion_windows=["24h"]),
            "batch.completion_windows: must be a non-empty tuple of distinct windows like ('24h',) (got ['24h'])",
        ),
        (
            lambda: BatchConfig(completion_windows=("24h", "24h")),
            "batch.completion_windows: must be a non-empty tuple of distinct windows like ('24h',) (got ('24h', '24h'))",
        ),
        (
            lambda: BatchConfig(completion_windows=("1d",)),
            "batch.completion_windows: must be '<hours>h' windows of 1–168 hours, like '24h' (got '1d')",
        ),
        (
            lambda: BatchConfig(completion_windows=("0h",)),
            "batch.completion_windows: must be '<hours>h' windows of 1–168 hours, like '24h' (got '0h')",
        ),
        (
            lambda: BatchConfig(completion_windows=("24h", "169h")),
            "batch.completion_windows: must be '<hours>h' windows of 1–168 hours, like '24h' (got '169h')",
        ),
    ],
)
def test_batch_rules(build: Callable[[], object], message: str) -> None:
    with _raises(message):
        build()


def test_the_bounds_are_accepted() -> None:
    BatchConfig(max_file_bytes=5_000_000_000, max_lines=1, chunk_lines=1, max_concurrency=1, completion_windows=("1h",))
    BatchConfig(max_lines=1_000_000, chunk_lines=500, max_concurrency=10_000, completion_windows=("168h", "24h"))


def test_the_longest_window_and_the_largest_batchs_chunks() -> None:
    config = BatchConfig(max_lines=1001, chunk_lines=50, completion_windows=("24h", "48h"))
    assert (config.longest_window_s, config.chunks) == (48 * 3600, 21)
    assert window_seconds("1h") == 3600


# With the deployment's other sections.


def _sandbox(**changes: Any) -> DeploymentConfig:
    return dataclasses.replace(ENVIRONMENTS["sandbox"](), **changes)


def test_every_environment_has_batch_jobs_with_the_defaults() -> None:
    for build in ENVIRONMENTS.values():
        assert build().batch == BatchConfig()


@pytest.mark.parametrize(
    ("max_capacity", "chunk_lines", "expected"),
    [
        # Twice what runs at once (max capacity × 17 per instance), in chunks; at least two.
        (1, 50, 2),  # 34 lines: one chunk would hold it, two keep the queue fed while a chunk's last lines run
        (3, 50, 3),  # 102 lines
        (3, 10, 11),  # 102 lines in chunks of 10
        (10, 1, 340),
    ],
)
def test_concurrency_defaults_to_chunks_for_twice_what_the_endpoint_runs_at_max_capacity(
    max_capacity: int, chunk_lines: int, expected: int
) -> None:
    sandbox = ENVIRONMENTS["sandbox"]()
    config = _sandbox(
        endpoint=dataclasses.replace(sandbox.endpoint, max_concurrent_invocations_per_instance=17),
        scaling=ScalingConfig(max_capacity=max_capacity),
        batch=BatchConfig(chunk_lines=chunk_lines),
    )
    assert config.batch_max_concurrency == expected


def test_the_derived_concurrency_follows_the_endpoints_own() -> None:
    # The sandbox's concurrency per instance comes from the engine's KV cache (llm_async/model/capacity.py).
    config = _sandbox(scaling=ScalingConfig(max_capacity=4), batch=BatchConfig(chunk_lines=1))
    assert config.batch_max_concurrency == 2 * 4 * config.max_concurrent_invocations


def test_a_configured_concurrency_is_taken_as_it_is() -> None:
    assert _sandbox(batch=BatchConfig(max_concurrency=7)).batch_max_concurrency == 7


def test_batch_must_be_a_batch_config() -> None:
    with _raises("batch: must be a BatchConfig (got {'enabled': False})"):
        _sandbox(batch={"enabled": False})


def test_a_batch_may_have_at_most_max_chunks_child_workflows() -> None:
    _sandbox(batch=BatchConfig(max_lines=MAX_CHUNKS, chunk_lines=1))
    with _raises(
        "batch.chunk_lines: must be ≥ 2 with batch.max_lines 50001: at most 50000 child workflows a batch,"
        " whose outputs the Distributed Map gathers within 256 KiB (got 1)"
    ):
        _sandbox(batch=BatchConfig(max_lines=MAX_CHUNKS + 1, chunk_lines=1))


def test_payloads_must_outlive_the_longest_window_and_its_margin() -> None:
    # 24 h + RUN_MARGIN_S (an hour) needs two days: S3 never expires an object before its expiry days have passed.
    assert RUN_MARGIN_S == 3600
    _sandbox(storage=StorageConfig(payload_expiry_days=2))
    with _raises(
        "storage.payload_expiry_days: must be ≥ 2 with batch.completion_windows ('24h',), so a batch's files outlive"
        " its run (the longest window + 3600 s) (got 1)"
    ):
        _sandbox(storage=StorageConfig(payload_expiry_days=1))
    with _raises(
        "storage.payload_expiry_days: must be ≥ 8 with batch.completion_windows ('168h',), so a batch's files outlive"
        " its run (the longest window + 3600 s) (got 7)"
    ):
        _sandbox(storage=StorageConfig(payload_expiry_days=7), batch=BatchConfig(completion_windows=("168h",)))


def test_the_rules_across_sections_do_not_apply_without_batch_jobs() -> None:
    disabled = BatchConfig(enabled=False, max_lines=MAX_CHUNKS + 1, chunk_lines=1)
    config = _sandbox(storage=StorageConfig(payload_expiry_days=1), batch=disabled)
    assert not config.batch.enabled
