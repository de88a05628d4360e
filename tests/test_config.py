"""One test per validation rule: the bad value raises one readable line naming the field and the range."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from llm_async.api.config import ApiConfig
from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.config import EndpointConfig, ScalingConfig, WarmWindow
from llm_async.environments import ENVIRONMENTS
from llm_async.model.config import HubWeights, ModelConfig, S3Weights
from llm_async.model.presets import (
    FALCON_40B_INSTRUCT,
    FALCON_40B_INSTRUCT_G4DN,
    PRESETS,
    QWEN2_5_7B_INSTRUCT,
)
from llm_async.monitoring.config import MonitoringConfig, OpsSubscription
from llm_async.network.config import ExistingVpc, NewVpc
from llm_async.notifications.config import ResultSubscription
from llm_async.storage.config import StorageConfig
from llm_async.validators import ConfigError

SANDBOX = ENVIRONMENTS["sandbox"]()
SUPPORTED = (
    "ml.g4dn.xlarge, ml.g4dn.2xlarge, ml.g4dn.12xlarge, ml.g5.xlarge, ml.g5.2xlarge, ml.g5.4xlarge,"
    " ml.g5.12xlarge, ml.g5.48xlarge, ml.p4d.24xlarge"
)


def _model(**changes: Any) -> ModelConfig:
    return dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, **changes)


def _endpoint(**changes: Any) -> EndpointConfig:
    return dataclasses.replace(SANDBOX.endpoint, **changes)


def _raises(message: str):
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


def test_every_environment_builds() -> None:
    configs = {name: build() for name, build in ENVIRONMENTS.items()}
    assert {name: c.env_name for name, c in configs.items()} == {n: n for n in ("sandbox", "dev", "staging", "prod")}


def test_error_is_one_line() -> None:
    with pytest.raises(ConfigError) as error:
        _endpoint(request_ttl_s=59)
    assert "\n" not in str(error.value)


def test_num_gpus_above_instance_gpu_count() -> None:
    with _raises("model.num_gpus: must be 1–1 on ml.g5.2xlarge (1 × NVIDIA A10G) (got 4)"):
        dataclasses.replace(SANDBOX, model=FALCON_40B_INSTRUCT.model)


def test_num_gpus_within_instance_gpu_count() -> None:
    config = dataclasses.replace(
        SANDBOX, model=FALCON_40B_INSTRUCT.model, endpoint=_endpoint(instance_type="ml.g5.12xlarge")
    )
    assert config.model.num_gpus == config.endpoint.instance.gpus == 4


def test_num_gpus_range() -> None:
    with _raises("model.num_gpus: must be an integer 1–8 (got 0)"):
        _model(num_gpus=0)


def test_max_input_length_must_be_below_max_total_tokens() -> None:
    with _raises("model.max_input_length: must be < model.max_total_tokens (2048) (got 2048)"):
        _model(max_input_length=2048, max_total_tokens=2048)


def test_quantize_method() -> None:
    with pytest.raises(ConfigError, match=r"^model\.quantize: must be None or one of awq, bitsandbytes, .* \(got 'int3'\)$"):
        _model(quantize="int3")


def test_tgi_version_must_be_in_the_sdk_table() -> None:
    with pytest.raises(ConfigError, match=r"^model\.tgi_version: must be a version of the SDK's TGI image table \(.*3\.3\.6\) \(got '9\.9\.9'\)$"):
        _model(tgi_version="9.9.9")


def test_hub_revision_must_be_a_commit_sha() -> None:
    with _raises("model.weights.revision: must be a 40-character lowercase commit sha (got 'main')"):
        HubWeights("tiiuae/falcon-40b-instruct", "main")


def test_hub_model_id_shape() -> None:
    with _raises("model.weights.model_id: must be a Hub id 'owner/name' (got 'falcon')"):
        HubWeights("falcon", "1e7fdcc9f45d13704f3826e99937917e007cd975")


def test_s3_weights_must_be_a_prefix() -> None:
    with _raises("model.weights.s3_uri: must be an S3 prefix 's3://bucket/prefix/' ending in '/' (got 's3://b/model.tar.gz')"):
        S3Weights("s3://b/model.tar.gz")


def test_s3_weights_parts() -> None:
    weights = S3Weights("s3://my-bucket/models/llm/")
    assert (weights.bucket_name, weights.key_prefix) == ("my-bucket", "models/llm/")


def test_unknown_instance_type_lists_the_supported_ones() -> None:
    with _raises(f"endpoint.instance_type: must be one of {SUPPORTED} (got 'ml.m5.xlarge')"):
        _endpoint(instance_type="ml.m5.xlarge")


@pytest.mark.parametrize(
    ("field", "bad", "allowed"),
    [
        ("container_startup_health_check_timeout_s", 59, "an integer 60–3600"),
        ("container_startup_health_check_timeout_s", 3601, "an integer 60–3600"),
        ("model_data_download_timeout_s", 59, "an integer 60–3600"),
        ("model_data_download_timeout_s", 3601, "an integer 60–3600"),
        ("max_concurrent_invocations_per_instance", 0, "an integer 1–1000"),
        ("max_concurrent_invocations_per_instance", 1001, "an integer 1–1000"),
        ("invocation_timeout_s", 0, "an integer 1–3600"),
        ("invocation_timeout_s", 3601, "an integer 1–3600"),
        ("request_ttl_s", 59, "an integer 60–21600"),
        ("request_ttl_s", 21601, "an integer 60–21600"),
        ("volume_size_gb", 0, "an integer 1–512"),
        ("volume_size_gb", 513, "an integer 1–512"),
        ("request_ttl_s", True, "an integer 60–21600"),
    ],
)
def test_sagemaker_limits(field: str, bad: int, allowed: str) -> None:
    with _raises(f"endpoint.{field}: must be {allowed} (got {bad!r})"):
        _endpoint(**{field: bad})


def test_sagemaker_limits_accept_their_bounds() -> None:
    endpoint = _endpoint(
        container_startup_health_check_timeout_s=3600,
        model_data_download_timeout_s=60,
        max_concurrent_invocations_per_instance=1000,
        invocation_timeout_s=1,
        request_ttl_s=21600,
    )
    assert endpoint.request_ttl_s == 21600


def test_volume_size_rejected_on_nvme_instances() -> None:
    with _raises("endpoint.volume_size_gb: must be None for ml.g5.2xlarge, whose local NVMe storage SageMaker uses instead (got 100)"):
        _endpoint(volume_size_gb=100)


def test_endpoint_name_is_derived_from_the_instance_type() -> None:
    assert _endpoint(name_prefix="llm-async-prod").endpoint_name == "llm-async-prod-g5-2xlarge"
    assert _endpoint(name_prefix="x", instance_type="ml.g5.12xlarge").endpoint_name == "x-g5-12xlarge"


def test_endpoint_name_at_most_63_characters() -> None:
    longest = "a" * (63 - len("-g5-2xlarge"))
    assert len(_endpoint(name_prefix=longest).endpoint_name) == 63
    with _raises(
        "endpoint.name_prefix: must be 1–52 letters, digits or '-', starting and ending with a letter"
        f" or digit (the endpoint name '<prefix>-g5-2xlarge' is limited to 63) (got {longest + 'a'!r})"
    ):
        _endpoint(name_prefix=longest + "a")


@pytest.mark.parametrize("prefix", ["llm_async", "", "-llm", 7])
def test_endpoint_name_prefix_characters(prefix: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^endpoint\.name_prefix: .* \(got {re.escape(repr(prefix))}\)$"):
        _endpoint(name_prefix=prefix)


def test_min_capacity_above_max_capacity() -> None:
    with _raises("scaling.min_capacity: must be 0–scaling.max_capacity (1) (got 2)"):
        ScalingConfig(min_capacity=2, max_capacity=1)


def test_min_capacity_negative() -> None:
    with _raises("scaling.min_capacity: must be an integer ≥ 0 (got -1)"):
        ScalingConfig(min_capacity=-1)


def test_max_capacity_zero() -> None:
    with _raises("scaling.max_capacity: must be an integer ≥ 1 (got 0)"):
        ScalingConfig(max_capacity=0)


def test_idle_window_range() -> None:
    with _raises("scaling.idle_minutes_before_scale_in: must be an integer 1–60 (got 0)"):
        ScalingConfig(idle_minutes_before_scale_in=0)


def test_default_idle_window_is_at_most_15_minutes() -> None:
    assert ScalingConfig().idle_minutes_before_scale_in <= 15


def test_cooldown_range() -> None:
    with _raises("scaling.scale_in_cooldown_s: must be an integer 0–3600 (got -5)"):
        ScalingConfig(scale_in_cooldown_s=-5)


def test_warm_window_min_capacity_within_max() -> None:
    with _raises("scaling.warm_windows.min_capacity: must be 1–scaling.max_capacity (1) (got 2)"):
        ScalingConfig(max_capacity=1, warm_windows=(WarmWindow(start_hour=8, end_hour=18, min_capacity=2),))


def test_warm_window_hours() -> None:
    with _raises("scaling.warm_windows.end_hour: must be > start_hour (18) (got 8)"):
        WarmWindow(start_hour=18, end_hour=8)
    with _raises("scaling.warm_windows.start_hour: must be an integer 0–23 (got 24)"):
        WarmWindow(start_hour=24, end_hour=23)


def test_warm_window_time_zone() -> None:
    with _raises("scaling.warm_windows.time_zone: must be an IANA time zone like 'Europe/Berlin' (got 'CET+1')"):
        WarmWindow(start_hour=8, end_hour=18, time_zone="CET+1")


def test_warm_window_days() -> None:
    with _raises("scaling.warm_windows.days: must be a cron day-of-week like 'MON-FRI', 'SAT,SUN' or '*' (got 'weekdays')"):
        WarmWindow(start_hour=8, end_hour=18, days="weekdays")


def test_payload_expiry_days() -> None:
    with _raises("storage.payload_expiry_days: must be an integer 1–3650 (got 0)"):
        StorageConfig(payload_expiry_days=0)


def test_region_must_have_a_tgi_image() -> None:
    with _raises("region: must be a region with a TGI 3.3.6 image (got 'xx-nowhere-1')"):
        dataclasses.replace(SANDBOX, region="xx-nowhere-1")


def test_account_shape() -> None:
    with _raises("account: must be a 12-digit AWS account id or None (got '1234')"):
        dataclasses.replace(SANDBOX, account="1234")


def test_falcon_presets_match_the_seed_notebook() -> None:
    for preset in (FALCON_40B_INSTRUCT, FALCON_40B_INSTRUCT_G4DN):
        assert preset.model.weights == HubWeights(
            "tiiuae/falcon-40b-instruct", "1e7fdcc9f45d13704f3826e99937917e007cd975"
        )
        assert (preset.model.num_gpus, preset.model.max_input_length, preset.model.max_total_tokens) == (4, 1900, 2048)
    assert FALCON_40B_INSTRUCT.instance_type == "ml.g5.12xlarge"
    assert FALCON_40B_INSTRUCT.model.quantize is None
    assert (FALCON_40B_INSTRUCT_G4DN.instance_type, FALCON_40B_INSTRUCT_G4DN.model.quantize) == (
        "ml.g4dn.12xlarge",
        "bitsandbytes",
    )


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_on_its_instance(name: str) -> None:
    preset = PRESETS[name]
    config = DeploymentConfig(
        env_name="t", model=preset.model, endpoint=EndpointConfig(instance_type=preset.instance_type, name_prefix="t")
    )
    assert config.endpoint.instance.gpus == preset.model.num_gpus


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SANDBOX.scaling.max_capacity = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: _model(name="Falcon_40B"), "model.name: must be 1–40 lowercase letters, digits or '-' (got 'Falcon_40B')"),
        (lambda: _model(weights="tiiuae/falcon-40b"), "model.weights: must be HubWeights or S3Weights (got 'tiiuae/falcon-40b')"),
        (lambda: _model(num_gpus=9), "model.num_gpus: must be an integer 1–8 (got 9)"),
        (lambda: _model(max_input_length=0), "model.max_input_length: must be an integer ≥ 1 (got 0)"),
        (lambda: _model(max_total_tokens=1), "model.max_total_tokens: must be an integer ≥ 2 (got 1)"),
        (lambda: ScalingConfig(scale_out_backlog_per_instance=0), "scaling.scale_out_backlog_per_instance: must be an integer ≥ 1 (got 0)"),
        (lambda: ScalingConfig(wake_cooldown_s=-1), "scaling.wake_cooldown_s: must be an integer 0–10800 (got -1)"),
        (lambda: ScalingConfig(scale_out_cooldown_s=3601), "scaling.scale_out_cooldown_s: must be an integer 0–3600 (got 3601)"),
        (lambda: ScalingConfig(warm_windows=[WarmWindow(8, 18)]), "scaling.warm_windows: must be a tuple of WarmWindow (got [WarmWindow(start_hour=8, end_hour=18, time_zone='UTC', days='MON-FRI', min_capacity=1)])"),
        (lambda: WarmWindow(8, 18, min_capacity=0), "scaling.warm_windows.min_capacity: must be an integer ≥ 1 (got 0)"),
        (lambda: WarmWindow(8, 24), "scaling.warm_windows.end_hour: must be an integer 0–23 (got 24)"),
        (lambda: StorageConfig(access_log_expiry_days=0), "storage.access_log_expiry_days: must be an integer 1–3650 (got 0)"),
        (lambda: dataclasses.replace(SANDBOX, env_name="Prod"), "env_name: must be 1–20 lowercase letters, digits or '-', starting with a letter (got 'Prod')"),
        (lambda: dataclasses.replace(SANDBOX, region="useast1"), "region: must be an AWS region like 'eu-west-1' or None (got 'useast1')"),
    ],
)
def test_remaining_rules(build, message: str) -> None:
    with _raises(message):
        build()


def test_warm_window_cannot_lower_the_minimum() -> None:
    with _raises("scaling.warm_windows.min_capacity: must be ≥ scaling.min_capacity (2): a window only raises the minimum (got 1)"):
        ScalingConfig(min_capacity=2, max_capacity=3, warm_windows=(WarmWindow(8, 18, min_capacity=1),))


def test_wake_cooldown_defaults_to_the_startup_budget() -> None:
    # 300 s provisioning + 600 s download + 600 s health check.
    assert SANDBOX.wake_cooldown_s == 1500
    slow = dataclasses.replace(SANDBOX, endpoint=_endpoint(container_startup_health_check_timeout_s=1800))
    assert slow.wake_cooldown_s == 2700


def test_wake_cooldown_shorter_than_the_startup_budget() -> None:
    with _raises(
        "scaling.wake_cooldown_s: must be ≥ 1500 (provisioning 300 s + endpoint.model_data_download_timeout_s"
        " + endpoint.container_startup_health_check_timeout_s) (got 600)"
    ):
        dataclasses.replace(SANDBOX, scaling=ScalingConfig(wake_cooldown_s=600))
    assert dataclasses.replace(SANDBOX, scaling=ScalingConfig(wake_cooldown_s=1800)).wake_cooldown_s == 1800


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ResultSubscription("sms", "+15550100"), "api.result_subscriptions.protocol: must be one of sqs, email, https (got 'sms')"),
        (lambda: ResultSubscription("sqs", "arn:aws:sqs:x"), "api.result_subscriptions.endpoint: must be empty for sqs (the stack creates the queue) (got 'arn:aws:sqs:x')"),
        (lambda: ResultSubscription("email", "ops"), "api.result_subscriptions.endpoint: must be an email address for email (got 'ops')"),
        (lambda: ResultSubscription("https", "http://hooks.example.com"), "api.result_subscriptions.endpoint: must be an https:// URL for https (got 'http://hooks.example.com')"),
        (lambda: ResultSubscription("sqs", topics=("done",)), "api.result_subscriptions.topics: must be a non-empty tuple of 'success' and/or 'error' (got ('done',))"),
        (lambda: ApiConfig(throttle_rate_per_s=0), "api.throttle_rate_per_s: must be an integer 1–10000 (got 0)"),
        (lambda: ApiConfig(throttle_burst=0), "api.throttle_burst: must be an integer 1–5000 (got 0)"),
        (lambda: ApiConfig(max_body_bytes=20_000_000), "api.max_body_bytes: must be an integer 1024–5000000 (got 20000000)"),
        (lambda: ApiConfig(max_body_bytes=2048, max_inputs_bytes=4096), "api.max_inputs_bytes: must be an integer 1–2048 (got 4096)"),
        (lambda: ApiConfig(result_subscriptions=[ResultSubscription("sqs")]), "api.result_subscriptions: must be a tuple of ResultSubscription (got [ResultSubscription(protocol='sqs', endpoint='', topics=('success', 'error'))])"),
    ],
)
def test_api_rules(build, message: str) -> None:
    with _raises(message):
        build()


def test_log_retention_must_be_a_cloudwatch_period() -> None:
    with pytest.raises(ConfigError, match=r"^monitoring\.log_retention_days: must be one of 1, 3, 5, 7, 14, 30, .* \(got 2\)$"):
        MonitoringConfig(log_retention_days=2)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: OpsSubscription("sms", "+15550100"), "monitoring.ops_subscriptions.protocol: must be one of email, https, sqs (got 'sms')"),
        (lambda: OpsSubscription("email", "oncall"), "monitoring.ops_subscriptions.endpoint: must be an email address for email (got 'oncall')"),
        (lambda: OpsSubscription("https", "http://pager.example.com/hook"), "monitoring.ops_subscriptions.endpoint: must be an https:// URL for https (got 'http://pager.example.com/hook')"),
        (
            lambda: OpsSubscription("sqs", "arn:aws:sqs:us-east-1:123456789012:alarms.fifo"),
            "monitoring.ops_subscriptions.endpoint: must be a standard SQS queue ARN 'arn:aws:sqs:<region>:<account>:<name>'"
            " for sqs (got 'arn:aws:sqs:us-east-1:123456789012:alarms.fifo')",
        ),
        (
            lambda: OpsSubscription("sqs", "https://sqs.us-east-1.amazonaws.com/123456789012/alarms"),
            "monitoring.ops_subscriptions.endpoint: must be a standard SQS queue ARN 'arn:aws:sqs:<region>:<account>:<name>'"
            " for sqs (got 'https://sqs.us-east-1.amazonaws.com/123456789012/alarms')",
        ),
        (
            lambda: MonitoringConfig(ops_subscriptions=(OpsSubscription("email", "a@example.com"), "b@example.com")),
            "monitoring.ops_subscriptions: must be a tuple of OpsSubscription (got (OpsSubscription(protocol='email',"
            " endpoint='a@example.com'), 'b@example.com'))",
        ),
        (lambda: MonitoringConfig(wake_margin_s=-1), "monitoring.wake_margin_s: must be an integer 0–3600 (got -1)"),
        (lambda: MonitoringConfig(api_5xx_threshold=0), "monitoring.api_5xx_threshold: must be an integer 1–10000 (got 0)"),
    ],
)
def test_monitoring_rules(build, message: str) -> None:
    with _raises(message):
        build()


def test_ops_subscriptions_accept_email_https_and_a_standard_queue() -> None:
    config = MonitoringConfig(
        ops_subscriptions=(
            OpsSubscription("email", "llm-oncall@example.com"),
            OpsSubscription("https", "https://events.pagerduty.com/integration/abc/enqueue"),
            OpsSubscription("sqs", "arn:aws:sqs:eu-west-1:123456789012:ops-alarms"),
        )
    )
    assert [s.protocol for s in config.ops_subscriptions] == ["email", "https", "sqs"]


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
    assert dataclasses.replace(
        SANDBOX, endpoint=_endpoint(request_ttl_s=1800), monitoring=MonitoringConfig(wake_margin_s=299)
    ).expected_wake_s == 1799


def test_request_ttl_must_outlive_a_cold_start() -> None:
    with _raises("endpoint.request_ttl_s: must be > 1500 (the startup budget), so a request outlives a cold start (got 900)"):
        dataclasses.replace(SANDBOX, endpoint=_endpoint(request_ttl_s=900))


# VPC mode: ids of an existing VPC, and the Hub-weights rule (they come from the internet).
_SUBNETS = ("subnet-0f1e2d3c4b5a69788", "subnet-09a8b7c6d5e4f3a21")
_ZONES = ("us-east-1a", "us-east-1b")
_TABLES = ("rtb-0123456789abcdef0", "rtb-0fedcba9876543210")


def _existing(**changes: Any) -> ExistingVpc:
    fields = {"vpc_id": "vpc-0a1b2c3d4e5f60718", "subnet_ids": _SUBNETS, "availability_zones": _ZONES, "route_table_ids": _TABLES}
    return ExistingVpc(**{**fields, **changes})


def _s3_weights_sandbox(**changes: Any) -> DeploymentConfig:
    return dataclasses.replace(SANDBOX, model=_model(weights=S3Weights("s3://weights/qwen/")), **changes)


def test_vpc_mode_is_off_by_default() -> None:
    assert SANDBOX.network is None
    assert all(build().network is None for build in ENVIRONMENTS.values())


def test_hub_weights_in_a_new_vpc_need_a_nat_gateway() -> None:
    with _raises(
        "network.nat_gateways: must be ≥ 1 with Hub weights (the container downloads them from the internet),"
        " or S3Weights (got 0)"
    ):
        dataclasses.replace(SANDBOX, network=NewVpc())
    assert dataclasses.replace(SANDBOX, network=NewVpc(nat_gateways=1)).network == NewVpc(nat_gateways=1)
    assert _s3_weights_sandbox(network=NewVpc()).network == NewVpc()


def test_hub_weights_in_an_existing_vpc_need_internet_egress() -> None:
    with _raises(
        "network.internet_egress: must be True with Hub weights (subnets routed to a NAT gateway), or S3Weights (got False)"
    ):
        dataclasses.replace(SANDBOX, network=_existing())
    assert _s3_weights_sandbox(network=_existing()).network == _existing()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vpc_id": "vpc-123"}, "network.vpc_id: must be a VPC id 'vpc-' + 8 or 17 hex digits (got 'vpc-123')"),
        ({"vpc_id": "subnet-0a1b2c3d"}, "network.vpc_id: must be a VPC id 'vpc-' + 8 or 17 hex digits (got 'subnet-0a1b2c3d')"),
        (
            {"subnet_ids": ("subnet-0a1b2c3d", "sg-0a1b2c3d")},
            "network.subnet_ids: must be subnet ids 'subnet-' + 8 or 17 hex digits (got 'sg-0a1b2c3d')",
        ),
        (
            {"subnet_ids": ("subnet-0a1b2c3d",)},
            "network.subnet_ids: must be a tuple of at least two private subnet ids in different AZs (got ('subnet-0a1b2c3d',))",
        ),
        (
            {"subnet_ids": ("subnet-0a1b2c3d", "subnet-0a1b2c3d")},
            "network.subnet_ids: must be distinct subnet ids (got ('subnet-0a1b2c3d', 'subnet-0a1b2c3d'))",
        ),
        (
            {"availability_zones": ()},
            "network.availability_zones: must be a tuple of 2 AZs, one per subnet (needed to place the endpoints'"
            " interfaces) (got ())",
        ),
        (
            {"availability_zones": ("us-east-1a", "us-east-1a")},
            "network.availability_zones: must be at least two different AZs (SageMaker requires two)"
            " (got ('us-east-1a', 'us-east-1a'))",
        ),
        ({"availability_zones": ("us-east-1a", "use1-az2")}, "network.availability_zones: must be AZ names like 'us-east-1a' (got 'use1-az2')"),
        (
            {"route_table_ids": ("rtb-0123456789abcdef0",)},
            "network.route_table_ids: must be a tuple of 2 route table ids, one per subnet (the S3 gateway"
            " endpoint's routes) (got ('rtb-0123456789abcdef0',))",
        ),
        (
            {"route_table_ids": ("rtb-0123456789abcdef0", "rt-1")},
            "network.route_table_ids: must be route table ids 'rtb-' + 8 or 17 hex digits (got 'rt-1')",
        ),
    ],
)
def test_existing_vpc_ids(changes: dict[str, Any], message: str) -> None:
    with _raises(message):
        _existing(**changes)


def test_existing_vpc_without_endpoints_needs_no_zones_or_route_tables() -> None:
    bare = _existing(availability_zones=(), route_table_ids=(), create_endpoints=False)
    assert bare.subnet_ids == _SUBNETS


def test_existing_vpc_zones_must_be_in_the_region() -> None:
    with _raises("network.availability_zones: must be AZs of region eu-west-1 (got 'us-east-1a')"):
        _s3_weights_sandbox(region="eu-west-1", network=_existing())


@pytest.mark.parametrize(
    ("vpc", "message"),
    [
        (lambda: NewVpc(nat_gateways=3), "network.nat_gateways: must be an integer 0–2 (got 3)"),
        (lambda: NewVpc(cidr="10.40.0.0/8"), "network.cidr: must be an IPv4 CIDR block /16–/24 like '10.40.0.0/16' (got '10.40.0.0/8')"),
        (lambda: NewVpc(cidr="10.400.0.0/16"), "network.cidr: must be an IPv4 CIDR block /16–/24 like '10.40.0.0/16' (got '10.400.0.0/16')"),
        (lambda: _s3_weights_sandbox(network="vpc-0a1b2c3d"), "network: must be None, NewVpc or ExistingVpc (got 'vpc-0a1b2c3d')"),
    ],
)
def test_new_vpc_rules(vpc, message: str) -> None:  # noqa: ANN001
    with _raises(message):
        vpc()
