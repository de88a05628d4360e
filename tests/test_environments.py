"""The environments `app.py` picks with `-c env=NAME`: built only when picked, and what each one deploys."""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

import pytest

from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.config import WarmWindow
from llm_async.environments import DEFAULT_ENV, ENVIRONMENTS, with_preset
from llm_async.model.config import StagedWeights
from llm_async.model.presets import PRESETS, QWEN2_5_7B_INSTRUCT

NAMES = ("sandbox", "dev", "staging", "prod")


@pytest.fixture(scope="module")
def configs() -> dict[str, DeploymentConfig]:
    return {name: build() for name, build in ENVIRONMENTS.items()}


def test_every_environment_builds(configs: dict[str, DeploymentConfig]) -> None:
    assert {name: c.env_name for name, c in configs.items()} == {n: n for n in NAMES}


def test_environments_are_builders_so_a_bad_value_in_one_does_not_stop_another() -> None:
    # A ready DeploymentConfig would be validated at import, failing every environment's synth.
    assert all(callable(build) and not isinstance(build, DeploymentConfig) for build in ENVIRONMENTS.values())
    assert ENVIRONMENTS["sandbox"]() is not ENVIRONMENTS["sandbox"]()


def test_the_default_environment_is_the_sandbox() -> None:
    assert DEFAULT_ENV == "sandbox"


def test_every_environment_serves_the_cheap_default_preset(configs: dict[str, DeploymentConfig]) -> None:
    for c in configs.values():
        assert (c.model.name, c.endpoint.instance_type) == (QWEN2_5_7B_INSTRUCT.model.name, QWEN2_5_7B_INSTRUCT.instance_type)


def test_the_sandbox_reads_the_hub_and_the_pipeline_stages_read_staged_weights(configs: dict[str, DeploymentConfig]) -> None:
    # One `cdk deploy` for a first try; no wake of dev, staging or prod depends on the Hub.
    assert configs["sandbox"].model == QWEN2_5_7B_INSTRUCT.model
    for name in ("dev", "staging", "prod"):
        assert configs[name].model == QWEN2_5_7B_INSTRUCT.staged().model
        assert configs[name].model.weights == StagedWeights("Qwen/Qwen2.5-7B-Instruct", QWEN2_5_7B_INSTRUCT.model.weights.revision)


def test_endpoint_names_differ_per_environment_so_they_can_share_an_account(
    configs: dict[str, DeploymentConfig],
) -> None:
    assert {name: c.endpoint.endpoint_name for name, c in configs.items()} == {
        name: f"llm-async-{name}-g5-2xlarge" for name in NAMES
    }


def test_only_prod_keeps_an_instance_warm_in_new_york_business_hours(configs: dict[str, DeploymentConfig]) -> None:
    assert configs["prod"].scaling.warm_windows == (
        WarmWindow(start_hour=8, end_hour=18, time_zone="America/New_York", days="MON-FRI", min_capacity=1),
    )
    assert all(not configs[name].scaling.warm_windows for name in ("sandbox", "dev", "staging"))


def test_only_prod_retains_its_data_when_the_stack_is_deleted(configs: dict[str, DeploymentConfig]) -> None:
    assert {name for name, c in configs.items() if c.storage.retain_on_delete} == {"prod"}


# One setting (or several, as a tuple) in each environment: sandbox, dev, staging, prod.
@pytest.mark.parametrize(
    ("settings", "per_environment"),
    [
        # The sandbox is environment-agnostic; the others are pinned to us-east-1.
        pytest.param(("account", "region"), [(None, None)] + [(None, "us-east-1")] * 3, id="account-region"),
        # Capacity grows towards prod, and every environment scales to zero.
        pytest.param(("scaling.min_capacity", "scaling.max_capacity"), [(0, 1), (0, 1), (0, 2), (0, 3)], id="capacity"),
        # Payloads expire soonest in the sandbox, latest in prod.
        pytest.param(("storage.payload_expiry_days",), [3, 7, 7, 30], id="payload-expiry"),
        # prod: a year of logs to trace an inference id back through an incident review.
        pytest.param(("monitoring.log_retention_days",), [7, 14, 30, 365], id="log-retention"),
        # API concurrency is reserved and capped, except in the sandbox.
        pytest.param(("api.reserved_concurrency",), [None, 10, 20, 50], id="api-concurrency"),
    ],
)
def test_what_each_environment_deploys(
    configs: dict[str, DeploymentConfig], settings: tuple[str, ...], per_environment: list[Any]
) -> None:
    read = operator.attrgetter(*settings)
    assert {name: read(c) for name, c in configs.items()} == dict(zip(NAMES, per_environment, strict=True))


def test_vpc_mode_is_off_in_every_environment(configs: dict[str, DeploymentConfig]) -> None:
    assert all(c.network is None for c in configs.values())


def test_a_preset_swaps_the_model_and_its_instance_type_only() -> None:
    prod = ENVIRONMENTS["prod"]()
    falcon = with_preset(prod, "falcon-40b-instruct")
    assert (falcon.model, falcon.endpoint.instance_type) == (PRESETS["falcon-40b-instruct"].model, "ml.g5.12xlarge")
    # A new instance type is a new endpoint name; every other setting of the environment stays.
    assert falcon.endpoint.endpoint_name == "llm-async-prod-g5-12xlarge"
    assert dataclasses.replace(falcon, model=prod.model, endpoint=prod.endpoint) == prod


def test_a_preset_is_validated_with_the_environment() -> None:
    # Falcon's context (2048 tokens, inputs up to 1900) leaves 148 new tokens: the budget follows it.
    assert with_preset(ENVIRONMENTS["sandbox"](), "falcon-40b-instruct").token_budget.maximum == 148
