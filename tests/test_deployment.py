"""`DeploymentConfig`: the rules that span its sections (region, startup budget, TTL, GPUs, Hub weights and egress)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from llm_async.api.config import TokenBudget
from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.config import EndpointConfig, ScalingConfig
from llm_async.environments import ENVIRONMENTS, with_engine, with_preset
from llm_async.model.config import S3Weights
from llm_async.model.dlc_table import regions as image_regions
from llm_async.model.presets import FALCON_40B_INSTRUCT, PRESETS, QWEN2_5_7B_INSTRUCT
from llm_async.monitoring.config import MonitoringConfig
from llm_async.network.config import NewVpc
from llm_async.validators import ConfigError
from tests.helpers import existing_vpc

SANDBOX = ENVIRONMENTS["sandbox"]()


def _raises(message: str):  # noqa: ANN202
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


def _endpoint(**changes: Any) -> EndpointConfig:
    return dataclasses.replace(SANDBOX.endpoint, **changes)


def _s3_weights_sandbox(**changes: Any) -> DeploymentConfig:
    model = dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, weights=S3Weights("s3://weights/qwen/"))
    return dataclasses.replace(SANDBOX, model=model, **changes)


def test_sections_other_than_model_and_endpoint_default_to_their_own_defaults() -> None:
    config = DeploymentConfig(env_name="t", model=SANDBOX.model, endpoint=SANDBOX.endpoint)
    assert (config.scaling, config.monitoring, config.network, config.account, config.region) == (
        ScalingConfig(),
        MonitoringConfig(),
        None,
        None,
        None,
    )


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SANDBOX.scaling.max_capacity = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SANDBOX.region = "us-east-1"  # type: ignore[misc]


# Environment name, account and region.


@pytest.mark.parametrize("name", ["Prod", "1dev", "a" * 21, "dev_1", ""])
def test_env_name_shape(name: str) -> None:
    with _raises(f"env_name: must be 1–20 lowercase letters, digits or '-', starting with a letter (got {name!r})"):
        dataclasses.replace(SANDBOX, env_name=name)


def test_env_name_accepts_twenty_characters() -> None:
    assert dataclasses.replace(SANDBOX, env_name="a" + "-9" * 9 + "z").env_name == "a-9-9-9-9-9-9-9-9-9z"


def test_account_shape() -> None:
    with _raises("account: must be a 12-digit AWS account id or None (got '1234')"):
        dataclasses.replace(SANDBOX, account="1234")
    assert dataclasses.replace(SANDBOX, account="123456789012").account == "123456789012"


def test_region_shape() -> None:
    with _raises("region: must be an AWS region like 'eu-west-1' or None (got 'useast1')"):
        dataclasses.replace(SANDBOX, region="useast1")


def test_region_must_have_an_image_of_the_engine() -> None:
    with _raises("region: must be a region with a TGI 3.3.6 image (got 'xx-nowhere-1')"):
        dataclasses.replace(SANDBOX, region="xx-nowhere-1")


# The European Sovereign Cloud's region names start with four letters, which `validators.REGION` does not allow.
_SOVEREIGN = "eusc-de-east-1"


def test_every_region_of_the_image_table_is_accepted() -> None:
    regions = set(image_regions(SANDBOX.model.serving_engine.framework, SANDBOX.model.image_version)) - {_SOVEREIGN}
    assert len(regions) >= 40
    assert {dataclasses.replace(SANDBOX, region=r).region for r in regions} == regions


def test_the_sovereign_cloud_region_of_the_image_table_is_accepted() -> None:
    assert _SOVEREIGN in image_regions(SANDBOX.model.serving_engine.framework, SANDBOX.model.image_version)
    assert dataclasses.replace(SANDBOX, region=_SOVEREIGN).region == _SOVEREIGN


# The startup budget: wake cooldown, request TTL and the stuck-at-zero alarm.


def test_wake_cooldown_defaults_to_the_startup_budget() -> None:
    # 300 s provisioning + 600 s download + 600 s health check.
    assert SANDBOX.wake_cooldown_s == 1500
    slow = dataclasses.replace(SANDBOX, endpoint=_endpoint(container_startup_health_check_timeout_s=1800))
    assert slow.wake_cooldown_s == 2700


# Well short of the budget and one second short are refused; longer and the budget itself are accepted.
@pytest.mark.parametrize(("refused", "accepted"), [(600, 1800), (1499, 1500)])
def test_wake_cooldown_must_cover_the_startup_budget(refused: int, accepted: int) -> None:
    with _raises(
        "scaling.wake_cooldown_s: must be ≥ 1500 (provisioning 300 s + endpoint.model_data_download_timeout_s"
        f" + endpoint.container_startup_health_check_timeout_s) (got {refused})"
    ):
        dataclasses.replace(SANDBOX, scaling=ScalingConfig(wake_cooldown_s=refused))
    assert dataclasses.replace(SANDBOX, scaling=ScalingConfig(wake_cooldown_s=accepted)).wake_cooldown_s == accepted


def test_expected_wake_time_is_the_startup_budget_plus_the_margin() -> None:
    # 300 s provisioning + 600 s download + 600 s health check + the default 300 s margin.
    assert SANDBOX.expected_wake_s == 1800
    slower = dataclasses.replace(
        SANDBOX,
        endpoint=_endpoint(model_data_download_timeout_s=1200),
        monitoring=MonitoringConfig(wake_margin_s=600),
    )
    assert slower.expected_wake_s == 300 + 1200 + 600 + 600


def test_stuck_threshold_must_come_before_requests_expire() -> None:
    with _raises(
        "monitoring.wake_margin_s: must be < 300 (endpoint.request_ttl_s − the startup budget 1500 s), so the"
        " stuck-at-zero alarm can fire before requests expire (got 300)"
    ):
        dataclasses.replace(SANDBOX, endpoint=_endpoint(request_ttl_s=1800))
    assert (
        dataclasses.replace(
            SANDBOX, endpoint=_endpoint(request_ttl_s=1800), monitoring=MonitoringConfig(wake_margin_s=299)
        ).expected_wake_s
        == 1799
    )


def test_request_ttl_must_outlive_a_cold_start() -> None:
    with _raises(
        "endpoint.request_ttl_s: must be > 1500 (the startup budget), so a request outlives a cold start (got 900)"
    ):
        dataclasses.replace(SANDBOX, endpoint=_endpoint(request_ttl_s=900))
    with _raises(
        "endpoint.request_ttl_s: must be > 1500 (the startup budget), so a request outlives a cold start (got 1500)"
    ):
        dataclasses.replace(SANDBOX, endpoint=_endpoint(request_ttl_s=1500))
    # One second past the budget is enough when the alarm needs no margin.
    shortest = dataclasses.replace(
        SANDBOX, endpoint=_endpoint(request_ttl_s=1501), monitoring=MonitoringConfig(wake_margin_s=0)
    )
    assert shortest.expected_wake_s == 1500


# The model's GPUs against the instance's.


def test_num_gpus_above_instance_gpu_count() -> None:
    with _raises("model.num_gpus: must be 1–1 on ml.g5.2xlarge (1 × NVIDIA A10G) (got 4)"):
        dataclasses.replace(SANDBOX, model=FALCON_40B_INSTRUCT.model)


def test_num_gpus_within_instance_gpu_count() -> None:
    config = dataclasses.replace(
        SANDBOX, model=FALCON_40B_INSTRUCT.model, endpoint=_endpoint(instance_type="ml.g5.12xlarge")
    )
    assert config.model.num_gpus == config.endpoint.instance.gpus == 4


def test_fewer_gpus_than_the_instance_has_is_accepted() -> None:
    # Tensor parallelism over part of the instance: wasteful, but TGI runs.
    config = dataclasses.replace(SANDBOX, endpoint=_endpoint(instance_type="ml.g5.12xlarge"))
    assert (config.model.num_gpus, config.endpoint.instance.gpus) == (1, 4)


# VPC mode: Hub weights come from the internet; an existing VPC's zones are in the stack's region.

def test_vpc_mode_is_off_by_default() -> None:
    assert DeploymentConfig(env_name="t", model=SANDBOX.model, endpoint=SANDBOX.endpoint).network is None


def test_hub_weights_in_a_new_vpc_need_a_nat_gateway() -> None:
    with _raises(
        "network.nat_gateways: must be ≥ 1 with Hub weights (the container downloads them from the internet),"
        " or staged or S3 weights (got 0)"
    ):
        dataclasses.replace(SANDBOX, network=NewVpc())
    assert dataclasses.replace(SANDBOX, network=NewVpc(nat_gateways=1)).network == NewVpc(nat_gateways=1)
    assert _s3_weights_sandbox(network=NewVpc()).network == NewVpc()


def test_hub_weights_in_an_existing_vpc_need_internet_egress() -> None:
    with _raises(
        "network.internet_egress: must be True with Hub weights (subnets routed to a NAT gateway), or staged or S3"
        " weights (got False)"
    ):
        dataclasses.replace(SANDBOX, network=existing_vpc())
    assert dataclasses.replace(SANDBOX, network=existing_vpc(internet_egress=True)).network == existing_vpc(
        internet_egress=True
    )
    assert _s3_weights_sandbox(network=existing_vpc()).network == existing_vpc()


def test_existing_vpc_zones_must_be_in_the_region() -> None:
    with _raises("network.availability_zones: must be AZs of region eu-west-1 (got 'us-east-1a')"):
        _s3_weights_sandbox(region="eu-west-1", network=existing_vpc())
    assert _s3_weights_sandbox(region="us-east-1", network=existing_vpc()).region == "us-east-1"
    # Environment-agnostic: the zones cannot be checked against a region.
    assert _s3_weights_sandbox(network=existing_vpc(availability_zones=("eu-west-1a", "eu-west-1b"))).region is None


def test_network_must_be_one_of_the_vpc_modes() -> None:
    with _raises("network: must be None, NewVpc or ExistingVpc (got 'vpc-0a1b2c3d')"):
        _s3_weights_sandbox(network="vpc-0a1b2c3d")


# The token budget every forwarded request carries (api.default_max_new_tokens, api.max_new_tokens).


def test_the_default_budget_fits_beside_any_input_the_container_accepts() -> None:
    # Qwen 2.5 7B preset: MAX_TOTAL_TOKENS 8192, MAX_INPUT_TOKENS 4096 → at most 4096 new tokens, 512 by default.
    assert SANDBOX.token_budget == TokenBudget(default=512, maximum=4096)


def test_a_small_context_lowers_the_default_to_what_fits() -> None:
    falcon = dataclasses.replace(SANDBOX, model=PRESETS["falcon-40b-instruct"].model, endpoint=dataclasses.replace(
        SANDBOX.endpoint, instance_type=PRESETS["falcon-40b-instruct"].instance_type))
    assert falcon.token_budget == TokenBudget(default=148, maximum=148)


def test_the_budget_is_configurable_within_the_context() -> None:
    api = dataclasses.replace(SANDBOX.api, default_max_new_tokens=100, max_new_tokens=8191)
    assert dataclasses.replace(SANDBOX, api=api).token_budget == TokenBudget(default=100, maximum=8191)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_new_tokens": 8192}, "api.max_new_tokens: must be 1–8191 (model.max_total_tokens − 1) (got 8192)"),
        ({"default_max_new_tokens": 4097}, "api.default_max_new_tokens: must be 1–4096 (the largest budget a request may ask for) (got 4097)"),
        ({"max_new_tokens": 256, "default_max_new_tokens": 257}, "api.default_max_new_tokens: must be 1–256 (the largest budget a request may ask for) (got 257)"),
    ],
)
def test_the_budget_stays_within_the_context(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        dataclasses.replace(SANDBOX, api=dataclasses.replace(SANDBOX.api, **changes))
    assert str(error.value) == message


# Concurrency per instance: the sequences the engine's KV cache holds (llm_async/model/capacity.py).


def test_concurrency_defaults_to_what_the_kv_cache_holds() -> None:
    assert SANDBOX.endpoint.max_concurrent_invocations_per_instance is None
    assert SANDBOX.max_concurrent_invocations == 84
    assert with_engine(SANDBOX, "vllm").max_concurrent_invocations == 71


def test_concurrency_of_a_model_of_unknown_shape_is_four() -> None:
    config = dataclasses.replace(SANDBOX, model=dataclasses.replace(SANDBOX.model, architecture=None))
    assert (config.capacity, config.max_concurrent_invocations) == (None, 4)


def test_concurrency_as_configured_within_the_kv_cache() -> None:
    assert dataclasses.replace(SANDBOX, endpoint=_endpoint(max_concurrent_invocations_per_instance=5)).max_concurrent_invocations == 5


def test_concurrency_beyond_the_kv_cache_is_refused_with_the_arithmetic() -> None:
    with _raises(
        "endpoint.max_concurrent_invocations_per_instance: must be 1–84: qwen2-5-7b-instruct on 1 GPU(s) of ml.g5.2xlarge"
        " (TGI): KV cache 0.9 × (24.0 GiB − 14.2 GiB weights − 1.5 GiB runtime) = 7.5 GiB, 57,344 bytes a token →"
        " 140,122 tokens, 84 requests of 1,667 tokens (1,155 of typical prompt + 512 new; model.typical_prompt_tokens)"
        " (engine limit 128) (got 85)"
    ):
        dataclasses.replace(SANDBOX, endpoint=_endpoint(max_concurrent_invocations_per_instance=85))


def test_shorter_typical_prompts_allow_more_concurrency() -> None:
    short = dataclasses.replace(SANDBOX.model, typical_prompt_tokens=300)
    config = dataclasses.replace(SANDBOX, model=short, endpoint=_endpoint(max_concurrent_invocations_per_instance=120))
    assert config.max_concurrent_invocations == 120


def test_a_model_whose_gpus_hold_no_sequence_is_refused() -> None:
    llama = with_preset(SANDBOX, "llama-3-1-8b-instruct")
    with pytest.raises(
        ConfigError,
        match=r"^endpoint.instance_type: must be an instance whose GPUs hold one request of 4,608 tokens \(model.max_input_tokens"
        r" \+ the default budget\) at least: .*ml.g4dn.xlarge",
    ):
        dataclasses.replace(llama, endpoint=dataclasses.replace(llama.endpoint, instance_type="ml.g4dn.xlarge"))


def test_a_model_whose_full_prompt_does_not_fit_is_refused_though_typical_ones_do() -> None:
    # 140,122 tokens of KV cache hold 84 typical requests but not one prompt of 150,000 tokens.
    long = dataclasses.replace(SANDBOX.model, max_input_tokens=150_000, max_total_tokens=160_000)
    with pytest.raises(ConfigError, match=r"^endpoint.instance_type: must be an instance whose GPUs hold one request of 150,512 tokens"):
        dataclasses.replace(SANDBOX, model=long)


def test_scale_out_threshold_defaults_to_the_concurrency() -> None:
    assert SANDBOX.scale_out_backlog_per_instance == 84
    tuned = dataclasses.replace(SANDBOX, scaling=ScalingConfig(scale_out_backlog_per_instance=3))
    assert tuned.scale_out_backlog_per_instance == 3


# The deployment's own weights bucket: '<name_prefix>-weights-<account>-<region>' within S3's 63 characters.


def test_staged_weights_in_the_own_bucket_limit_the_name_prefix() -> None:
    staged = dataclasses.replace(SANDBOX, model=QWEN2_5_7B_INSTRUCT.staged().model)
    assert dataclasses.replace(staged, endpoint=_endpoint(name_prefix="a" * 27)).endpoint.name_prefix == "a" * 27
    with _raises(f"endpoint.name_prefix: must be at most 27 characters with StagedWeights in the deployment's own bucket (got {'a' * 28!r})"):
        dataclasses.replace(staged, endpoint=_endpoint(name_prefix="a" * 28))
    # Hub weights need no bucket: the longer prefix stands.
    assert dataclasses.replace(SANDBOX, endpoint=_endpoint(name_prefix="a" * 28)).endpoint.name_prefix == "a" * 28
