"""One configuration per environment, built (and so validated) only when `app.py` picks it with `-c env=NAME`.

Builders rather than ready objects: a bad value in prod must not stop a sandbox synth, and its error
must reach `app.py`'s one-line handler instead of escaping at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from llm_async.api.config import ApiConfig
from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.config import EndpointConfig, ScalingConfig, WarmWindow
from llm_async.model.engines import ENGINES
from llm_async.model.presets import PRESETS, QWEN2_5_7B_INSTRUCT
from llm_async.monitoring.config import MonitoringConfig
from llm_async.storage.config import StorageConfig
from llm_async.validators import fail

DEFAULT_ENV = "sandbox"


def _config(
    env_name: str,
    *,
    region: str | None,
    scaling: ScalingConfig,
    monitoring: MonitoringConfig,
    storage: StorageConfig | None = None,
    api: ApiConfig | None = None,
    staged: bool = True,
) -> DeploymentConfig:
    """`staged`: the weights come from the deployment's own bucket, staged before the endpoint deploys (docs/weights.md):
    no wake depends on the Hub, and the endpoint runs network-isolated. The sandbox reads the Hub, so that one
    `cdk deploy` is all a first try needs."""
    preset = QWEN2_5_7B_INSTRUCT.staged() if staged else QWEN2_5_7B_INSTRUCT
    return DeploymentConfig(
        env_name=env_name,
        region=region,
        model=preset.model,
        endpoint=EndpointConfig(instance_type=preset.instance_type, name_prefix=f"llm-async-{env_name}"),
        scaling=scaling,
        storage=storage or StorageConfig(),
        monitoring=monitoring,
        api=api or ApiConfig(),
    )


# No environment subscribes anyone to its operations topic yet: the on-call addresses are not known
# here. Add them as `OpsSubscription("email", ...)` or a pager's `OpsSubscription("https", ...)`; until
# then, subscribe to the stack's `OpsTopicArn` output by hand.
_REGION = "us-east-1"


def sandbox() -> DeploymentConfig:
    """Environment-agnostic: deployable to whatever account and region `cdk deploy` is pointed at."""
    return _config(
        "sandbox",
        region=None,
        scaling=ScalingConfig(max_capacity=1),
        storage=StorageConfig(payload_expiry_days=3),
        monitoring=MonitoringConfig(log_retention_days=7),
        staged=False,
    )


def dev() -> DeploymentConfig:
    # Reserved (and capped) executions: a runaway client cannot starve the account's other functions.
    api = ApiConfig(reserved_concurrency=10)
    return _config("dev", region=_REGION, scaling=ScalingConfig(max_capacity=1), monitoring=MonitoringConfig(log_retention_days=14), api=api)


def staging() -> DeploymentConfig:
    api = ApiConfig(reserved_concurrency=20)
    return _config("staging", region=_REGION, scaling=ScalingConfig(max_capacity=2), monitoring=MonitoringConfig(log_retention_days=30), api=api)


def prod() -> DeploymentConfig:
    return _config(
        "prod",
        region=_REGION,
        scaling=ScalingConfig(
            max_capacity=3,
            warm_windows=(WarmWindow(start_hour=8, end_hour=18, time_zone="America/New_York", days="MON-FRI"),),
        ),
        storage=StorageConfig(payload_expiry_days=30, retain_on_delete=True),
        # A year of logs to trace an inference id back through an incident review.
        monitoring=MonitoringConfig(log_retention_days=365),
        api=ApiConfig(reserved_concurrency=50),
    )


ENVIRONMENTS: dict[str, Callable[[], DeploymentConfig]] = {"sandbox": sandbox, "dev": dev, "staging": staging, "prod": prod}


def with_preset(config: DeploymentConfig, name: str) -> DeploymentConfig:
    """`config` serving another model preset (`-c preset=NAME`): its model and the instance type it is sized for.

    The endpoint is named after the instance type, so a preset on another instance type deploys a new endpoint
    (docs/operations.md: changing the model or the instance type)."""
    if name not in PRESETS:
        fail("preset", f"one of {', '.join(PRESETS)}", name)
    preset = PRESETS[name]
    endpoint = dataclasses.replace(config.endpoint, instance_type=preset.instance_type)
    return dataclasses.replace(config, model=preset.model, endpoint=endpoint)


def with_engine(config: DeploymentConfig, name: str) -> DeploymentConfig:
    """`config` served by another engine (`-c engine=NAME`), at that engine's default version."""
    if name not in ENGINES:
        fail("engine", f"one of {', '.join(ENGINES)}", name)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, engine=name, engine_version=None))
