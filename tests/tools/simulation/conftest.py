"""Shared helpers: scaling models read from the session's synthesized templates, and exact parameters."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import strategies as st

from llm_async.endpoint.config import ScalingConfig
from llm_async.environments import sandbox
from llm_async_tools.simulation.batching import Batching
from llm_async_tools.simulation.bound import Work
from llm_async_tools.simulation.engine import SimulationResult, simulate
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.parameters import SimulationParameters
from llm_async_tools.simulation.template import read_scaling_model
from llm_async_tools.simulation.trace import TracedRequest
from tests.synths import Synthesized, synthesize

MONDAY = datetime(2026, 1, 5, tzinfo=UTC)
PROVISIONING_S = 420.0
SERVICE_S = 20.0
# No jitter: provisioning takes exactly PROVISIONING_S, so timings can be predicted to the second.
EXACT = SimulationParameters(provisioning_s=PROVISIONING_S, provisioning_jitter=0, service_s=SERVICE_S)
# The bounds' and the gated cycle's tests: a cold start, small random traces of three sizes, GPU-hours to compare.
COLD_S = 200.0
REQUESTS = st.builds(Work, st.floats(0, 3000), st.sampled_from([50, 233, 1000]), st.sampled_from([20, 300, 900]))


def hours(seconds: float) -> object:
    """`seconds` of GPU time as GPU-hours, to compare with `==` (to a relative 1e-9)."""
    return pytest.approx(seconds / 3600, rel=1e-9)


@pytest.fixture(scope="session")
def ours(synthesized: dict[str, Synthesized]) -> ScalingModel:
    """The sandbox policy: 0–1 instances, wake alarm, idle scale-in, API wake."""
    return read_scaling_model(synthesized["sandbox"].template_json)


@pytest.fixture(scope="session")
def batching(ours: ScalingModel) -> Batching:
    """The sandbox's batching model (its model on its instance) with the default parameters."""
    return SimulationParameters().batching(ours)


@pytest.fixture(scope="session")
def fifteen_minute_window(tmp_path_factory: pytest.TempPathFactory) -> ScalingModel:
    """The sandbox as it was before the idle window's default became 3 minutes: idle_minutes_before_scale_in 15 (and
    scale_in_minutes 5, which a sandbox of one instance does not use), synthesized by the construct."""
    scaling = ScalingConfig(max_capacity=1, idle_minutes_before_scale_in=15, scale_in_minutes=5)
    config = dataclasses.replace(sandbox(), scaling=scaling)
    return read_scaling_model(synthesize(config, Path(tmp_path_factory.mktemp("idle-15")), rule_packs=False).template_json)


@pytest.fixture(scope="session")
def staging_policy(synthesized: dict[str, Synthesized]) -> ScalingModel:
    return read_scaling_model(synthesized["staging"].template_json)


def run(model: ScalingModel, arrivals: list[float], params: SimulationParameters = EXACT, **trace: float) -> SimulationResult:
    requests = [TracedRequest(a, trace.get("service_s")) for a in arrivals]
    return simulate(model, requests, params, start=MONDAY)
