"""The environments `app.py` picks with `-c env=NAME`: built only when picked, and what each one deploys."""

from __future__ import annotations

import pytest

from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.config import WarmWindow
from llm_async.environments import DEFAULT_ENV, ENVIRONMENTS
from llm_async.model.presets import QWEN2_5_7B_INSTRUCT

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


def test_sandbox_is_environment_agnostic_and_the_others_are_pinned_to_us_east_1(
    configs: dict[str, DeploymentConfig],
) -> None:
    assert {name: (c.account, c.region) for name, c in configs.items()} == {
        "sandbox": (None, None),
        "dev": (None, "us-east-1"),
        "staging": (None, "us-east-1"),
        "prod": (None, "us-east-1"),
    }


def test_every_environment_serves_the_cheap_default_preset(configs: dict[str, DeploymentConfig]) -> None:
    for c in configs.values():
        assert (c.model, c.endpoint.instance_type) == (QWEN2_5_7B_INSTRUCT.model, QWEN2_5_7B_INSTRUCT.instance_type)


def test_endpoint_names_differ_per_environment_so_they_can_share_an_account(
    configs: dict[str, DeploymentConfig],
) -> None:
    assert {name: c.endpoint.endpoint_name for name, c in configs.items()} == {
        name: f"llm-async-{name}-g5-2xlarge" for name in NAMES
    }


def test_capacity_grows_towards_prod_and_every_environment_scales_to_zero(configs: dict[str, DeploymentConfig]) -> None:
    assert {name: (c.scaling.min_capacity, c.scaling.max_capacity) for name, c in configs.items()} == {
        "sandbox": (0, 1),
        "dev": (0, 1),
        "staging": (0, 2),
        "prod": (0, 3),
    }


def test_only_prod_keeps_an_instance_warm_in_new_york_business_hours(configs: dict[str, DeploymentConfig]) -> None:
    assert configs["prod"].scaling.warm_windows == (
        WarmWindow(start_hour=8, end_hour=18, time_zone="America/New_York", days="MON-FRI", min_capacity=1),
    )
    assert all(not configs[name].scaling.warm_windows for name in ("sandbox", "dev", "staging"))


def test_only_prod_retains_its_data_when_the_stack_is_deleted(configs: dict[str, DeploymentConfig]) -> None:
    assert {name for name, c in configs.items() if c.storage.retain_on_delete} == {"prod"}


def test_payloads_expire_soonest_in_the_sandbox_and_latest_in_prod(configs: dict[str, DeploymentConfig]) -> None:
    assert {name: c.storage.payload_expiry_days for name, c in configs.items()} == {
        "sandbox": 3,
        "dev": 7,
        "staging": 7,
        "prod": 30,
    }


def test_log_retention_per_environment(configs: dict[str, DeploymentConfig]) -> None:
    # prod: a year of logs to trace an inference id back through an incident review.
    assert {name: c.monitoring.log_retention_days for name, c in configs.items()} == {
        "sandbox": 7,
        "dev": 14,
        "staging": 30,
        "prod": 365,
    }


def test_api_concurrency_is_reserved_and_capped_except_in_the_sandbox(configs: dict[str, DeploymentConfig]) -> None:
    assert {name: c.api.reserved_concurrency for name, c in configs.items()} == {
        "sandbox": None,
        "dev": 10,
        "staging": 20,
        "prod": 50,
    }


def test_vpc_mode_is_off_in_every_environment(configs: dict[str, DeploymentConfig]) -> None:
    assert all(c.network is None for c in configs.values())
