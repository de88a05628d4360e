"""Typed, frozen configuration of one llm-async deployment, validated when it is built.

Every rule failure raises `ConfigError` with one line: the field's dotted path, the allowed values,
and what was given. Limits are SageMaker's (CreateEndpointConfig / InvokeEndpointAsync API reference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

from llm_async.dlc_table import available_tgi_versions, tgi_regions
from llm_async.errors import ConfigError as ConfigError  # re-exported: callers catch it from here
from llm_async.errors import fail as _fail
from llm_async.instance_types import GPU_INSTANCE_TYPES, GpuInstanceType


def _int_in_range(field_path: str, value: Any, low: int, high: int | None = None) -> None:
    allowed = f"an integer {low}–{high}" if high is not None else f"an integer ≥ {low}"
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(field_path, allowed, value)
    if value < low or (high is not None and value > high):
        _fail(field_path, allowed, value)


# TGI's `--quantize` choices (text-generation-launcher 3.x).
TGI_QUANTIZE_METHODS = (
    "awq",
    "bitsandbytes",
    "bitsandbytes-fp4",
    "bitsandbytes-nf4",
    "compressed-tensors",
    "eetq",
    "exl2",
    "fp8",
    "gptq",
    "marlin",
)
_HUB_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_GIT_SHA = re.compile(r"^[0-9a-f]{40}$")
_S3_PREFIX = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(\S+/)$")
# CreateEndpoint: EndpointName pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, and at most 63 characters
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# Time from a wake decision to an instance being requested and booted, before the model download.
PROVISIONING_MARGIN_S = 300
_CRON_DAYS = re.compile(r"^(\*|(MON|TUE|WED|THU|FRI|SAT|SUN)([-,](MON|TUE|WED|THU|FRI|SAT|SUN))*)$")


@dataclass(frozen=True)
class HubWeights:
    """Weights the TGI container downloads from the Hugging Face Hub at start (needs internet)."""

    model_id: str
    revision: str
    """A full commit sha, so a redeploy never silently picks up new weights."""

    def __post_init__(self) -> None:
        if not _HUB_MODEL_ID.match(self.model_id):
            _fail("model.weights.model_id", "a Hub id 'owner/name'", self.model_id)
        if not _GIT_SHA.match(self.revision):
            _fail("model.weights.revision", "a 40-character lowercase commit sha", self.revision)


@dataclass(frozen=True)
class S3Weights:
    """Uncompressed weights under an S3 prefix, mounted at /opt/ml/model (allows network isolation)."""

    s3_uri: str
    """s3://bucket/prefix/ (trailing slash: SageMaker copies every object under the prefix)."""

    def __post_init__(self) -> None:
        if not _S3_PREFIX.match(self.s3_uri):
            _fail("model.weights.s3_uri", "an S3 prefix 's3://bucket/prefix/' ending in '/'", self.s3_uri)

    @property
    def bucket_name(self) -> str:
        return _S3_PREFIX.match(self.s3_uri).group(1)  # type: ignore[union-attr]

    @property
    def key_prefix(self) -> str:
        return _S3_PREFIX.match(self.s3_uri).group(2)  # type: ignore[union-attr]


@dataclass(frozen=True)
class ModelConfig:
    """What the TGI container serves and how (its environment variables)."""

    name: str
    """Short preset name, used in the summary and default resource names."""
    weights: HubWeights | S3Weights
    num_gpus: int
    """SM_NUM_GPUS: the tensor-parallel shard count."""
    max_input_length: int
    max_total_tokens: int
    quantize: str | None = None
    tgi_version: str = "3.3.6"
    """Version key of the SageMaker SDK's `huggingface-llm` image table."""

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z0-9][a-z0-9-]{0,39}$", self.name):
            _fail("model.name", "1–40 lowercase letters, digits or '-'", self.name)
        if not isinstance(self.weights, (HubWeights, S3Weights)):
            _fail("model.weights", "HubWeights or S3Weights", self.weights)
        _int_in_range("model.num_gpus", self.num_gpus, 1, 8)
        _int_in_range("model.max_input_length", self.max_input_length, 1)
        _int_in_range("model.max_total_tokens", self.max_total_tokens, 2)
        if self.max_input_length >= self.max_total_tokens:
            _fail(
                "model.max_input_length",
                f"< model.max_total_tokens ({self.max_total_tokens})",
                self.max_input_length,
            )
        if self.quantize is not None and self.quantize not in TGI_QUANTIZE_METHODS:
            _fail("model.quantize", f"None or one of {', '.join(TGI_QUANTIZE_METHODS)}", self.quantize)
        versions = available_tgi_versions()
        if self.tgi_version not in versions:
            _fail("model.tgi_version", f"a version of the SDK's TGI image table ({', '.join(versions)})", self.tgi_version)


@dataclass(frozen=True)
class EndpointConfig:
    """The async endpoint: instance, timeouts and the per-request limits the API will apply."""

    instance_type: str
    name_prefix: str
    """The endpoint is named `<name_prefix>-<instance type>` (e.g. llm-async-prod-g5-2xlarge): see `endpoint_name`."""
    max_concurrent_invocations_per_instance: int = 4
    container_startup_health_check_timeout_s: int = 600
    """Covers weight download + shard load; LLMs need far more than SageMaker's default."""
    model_data_download_timeout_s: int = 600
    volume_size_gb: int | None = None
    """Only for instances without local NVMe storage (SageMaker rejects it otherwise)."""
    invocation_timeout_s: int = 900
    request_ttl_s: int = 21600

    def __post_init__(self) -> None:
        if self.instance_type not in GPU_INSTANCE_TYPES:
            _fail("endpoint.instance_type", f"one of {', '.join(GPU_INSTANCE_TYPES)}", self.instance_type)
        name = f"{self.name_prefix}-{self._instance_slug}" if isinstance(self.name_prefix, str) else ""
        if len(name) > 63 or not _ENDPOINT_NAME.match(name):
            longest = 63 - len(self._instance_slug) - 1
            _fail(
                "endpoint.name_prefix",
                f"1–{longest} letters, digits or '-', starting and ending with a letter or digit"
                f" (the endpoint name '<prefix>-{self._instance_slug}' is limited to 63)",
                self.name_prefix,
            )
        _int_in_range(
            "endpoint.max_concurrent_invocations_per_instance",
            self.max_concurrent_invocations_per_instance,
            1,
            1000,
        )
        _int_in_range(
            "endpoint.container_startup_health_check_timeout_s",
            self.container_startup_health_check_timeout_s,
            60,
            3600,
        )
        _int_in_range("endpoint.model_data_download_timeout_s", self.model_data_download_timeout_s, 60, 3600)
        if self.volume_size_gb is not None:
            _int_in_range("endpoint.volume_size_gb", self.volume_size_gb, 1, 512)
            if self.instance.local_nvme:
                _fail(
                    "endpoint.volume_size_gb",
                    f"None for {self.instance_type}, whose local NVMe storage SageMaker uses instead",
                    self.volume_size_gb,
                )
        _int_in_range("endpoint.invocation_timeout_s", self.invocation_timeout_s, 1, 3600)
        _int_in_range("endpoint.request_ttl_s", self.request_ttl_s, 60, 21600)

    @property
    def instance(self) -> GpuInstanceType:
        return GPU_INSTANCE_TYPES[self.instance_type]

    @property
    def _instance_slug(self) -> str:
        return self.instance_type.removeprefix("ml.").replace(".", "-")

    @property
    def endpoint_name(self) -> str:
        """Derived from the instance type so that changing it replaces the endpoint instead of updating it.

        SageMaker refuses to update an endpoint's instance type while the variant is registered with
        Application Auto Scaling. A new name makes CloudFormation create a new endpoint and scalable
        target, switch the API to them, then delete the old pair (target first).
        """
        return f"{self.name_prefix}-{self._instance_slug}"

    @property
    def startup_budget_s(self) -> int:
        """How long a new instance may take to serve: provisioning, weight download, health check."""
        return PROVISIONING_MARGIN_S + self.model_data_download_timeout_s + self.container_startup_health_check_timeout_s


@dataclass(frozen=True)
class WarmWindow:
    """A recurring window during which at least `min_capacity` instances are kept warm."""

    start_hour: int
    end_hour: int
    time_zone: str = "UTC"
    days: str = "MON-FRI"
    """Cron day-of-week field, e.g. 'MON-FRI', 'SAT,SUN' or '*'."""
    min_capacity: int = 1

    def __post_init__(self) -> None:
        _int_in_range("scaling.warm_windows.start_hour", self.start_hour, 0, 23)
        _int_in_range("scaling.warm_windows.end_hour", self.end_hour, 0, 23)
        if self.end_hour <= self.start_hour:
            _fail("scaling.warm_windows.end_hour", f"> start_hour ({self.start_hour})", self.end_hour)
        if not _CRON_DAYS.match(self.days):
            _fail("scaling.warm_windows.days", "a cron day-of-week like 'MON-FRI', 'SAT,SUN' or '*'", self.days)
        if self.time_zone not in available_timezones():
            _fail("scaling.warm_windows.time_zone", "an IANA time zone like 'Europe/Berlin'", self.time_zone)
        _int_in_range("scaling.warm_windows.min_capacity", self.min_capacity, 1)


@dataclass(frozen=True)
class ScalingConfig:
    """Scale-to-zero behaviour. Alarms evaluate one-minute periods."""

    min_capacity: int = 0
    max_capacity: int = 1
    scale_out_backlog_per_instance: int = 8
    """Add an instance while each one has more than this many queued or running requests."""
    idle_minutes_before_scale_in: int = 15
    """Scale in to `min_capacity` after the backlog has been empty this long."""
    wake_cooldown_s: int | None = None
    """After a wake from zero. Default and minimum: the endpoint's startup budget (provisioning + weight
    download + health check), so the wake policy, re-run every minute while the first instance loads,
    adds one instance and not one per cooldown."""
    scale_out_cooldown_s: int = 300
    scale_in_cooldown_s: int = 300
    warm_windows: tuple[WarmWindow, ...] = ()

    def __post_init__(self) -> None:
        _int_in_range("scaling.min_capacity", self.min_capacity, 0)
        _int_in_range("scaling.max_capacity", self.max_capacity, 1)
        if self.min_capacity > self.max_capacity:
            _fail("scaling.min_capacity", f"0–scaling.max_capacity ({self.max_capacity})", self.min_capacity)
        _int_in_range("scaling.scale_out_backlog_per_instance", self.scale_out_backlog_per_instance, 1)
        # Alarms allow EvaluationPeriods × Period ≤ 1 day; past an hour, idle capacity is the cost we avoid.
        _int_in_range("scaling.idle_minutes_before_scale_in", self.idle_minutes_before_scale_in, 1, 60)
        if self.wake_cooldown_s is not None:
            _int_in_range("scaling.wake_cooldown_s", self.wake_cooldown_s, 0, 3 * 3600)
        _int_in_range("scaling.scale_out_cooldown_s", self.scale_out_cooldown_s, 0, 3600)
        _int_in_range("scaling.scale_in_cooldown_s", self.scale_in_cooldown_s, 0, 3600)
        if not isinstance(self.warm_windows, tuple):
            _fail("scaling.warm_windows", "a tuple of WarmWindow", self.warm_windows)
        for window in self.warm_windows:
            if window.min_capacity < self.min_capacity:
                _fail(
                    "scaling.warm_windows.min_capacity",
                    f"≥ scaling.min_capacity ({self.min_capacity}): a window only raises the minimum",
                    window.min_capacity,
                )
            if window.min_capacity > self.max_capacity:
                _fail(
                    "scaling.warm_windows.min_capacity",
                    f"1–scaling.max_capacity ({self.max_capacity})",
                    window.min_capacity,
                )


@dataclass(frozen=True)
class StorageConfig:
    """The async payload bucket."""

    payload_expiry_days: int = 7
    """Input, output and failure objects are deleted this many days after they are written."""
    access_log_expiry_days: int = 90
    retain_on_delete: bool = False
    """Keep the key and buckets when the stack is deleted: on in prod."""

    def __post_init__(self) -> None:
        _int_in_range("storage.payload_expiry_days", self.payload_expiry_days, 1, 3650)
        _int_in_range("storage.access_log_expiry_days", self.access_log_expiry_days, 1, 3650)


# CloudWatch Logs' allowed retention periods, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
# API Gateway accepts 10 MB, but a synchronous Lambda invocation only 6 MB of event (body, headers,
# request context): stay well under it so an oversized body gets the Lambda's 413, not a gateway 5xx.
MAX_BODY_BYTES = 5_000_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTTPS_URL = re.compile(r"^https://[^\s/]+\S*$")
# A standard queue (SNS standard topics cannot deliver to FIFO queues).
_SQS_QUEUE_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,80}$")


def _check_push_endpoint(field_path: str, protocol: str, endpoint: str) -> None:
    """The email address or https:// URL an SNS subscription of that protocol delivers to."""
    if protocol == "email" and not (isinstance(endpoint, str) and _EMAIL.match(endpoint)):
        _fail(field_path, "an email address for email", endpoint)
    if protocol == "https" and not (isinstance(endpoint, str) and _HTTPS_URL.match(endpoint)):
        _fail(field_path, "an https:// URL for https", endpoint)


@dataclass(frozen=True)
class ResultSubscription:
    """A push destination for inference outcomes: an SQS queue (created, with a DLQ), an email or an HTTPS URL."""

    protocol: str
    endpoint: str = ""
    """The email address or https:// URL; empty for 'sqs' (the stack creates the queue)."""
    topics: tuple[str, ...] = ("success", "error")

    def __post_init__(self) -> None:
        if self.protocol not in ("sqs", "email", "https"):
            _fail("api.result_subscriptions.protocol", "one of sqs, email, https", self.protocol)
        if self.protocol == "sqs" and self.endpoint:
            _fail("api.result_subscriptions.endpoint", "empty for sqs (the stack creates the queue)", self.endpoint)
        _check_push_endpoint("api.result_subscriptions.endpoint", self.protocol, self.endpoint)
        if not self.topics or not set(self.topics) <= {"success", "error"} or not isinstance(self.topics, tuple):
            _fail("api.result_subscriptions.topics", "a non-empty tuple of 'success' and/or 'error'", self.topics)


@dataclass(frozen=True)
class ApiConfig:
    """The inference API in front of the endpoint."""

    throttle_rate_per_s: int = 10
    throttle_burst: int = 20
    max_body_bytes: int = 1_048_576
    max_inputs_bytes: int = 262_144
    """Prompt size limit, in UTF-8 bytes; the TGI token limits still apply inside the container."""
    result_subscriptions: tuple[ResultSubscription, ...] = ()
    reserved_concurrency: int | None = None
    """Concurrent executions reserved for the API's Lambda (and its cap). None leaves it on the shared
    pool: a new account's whole quota can be 10, and a reservation must leave 100 unreserved."""

    def __post_init__(self) -> None:
        _int_in_range("api.throttle_rate_per_s", self.throttle_rate_per_s, 1, 10_000)
        if self.reserved_concurrency is not None:
            _int_in_range("api.reserved_concurrency", self.reserved_concurrency, 1, 1000)
        _int_in_range("api.throttle_burst", self.throttle_burst, 1, 5_000)
        _int_in_range("api.max_body_bytes", self.max_body_bytes, 1_024, MAX_BODY_BYTES)
        _int_in_range("api.max_inputs_bytes", self.max_inputs_bytes, 1, self.max_body_bytes)
        if not isinstance(self.result_subscriptions, tuple):
            _fail("api.result_subscriptions", "a tuple of ResultSubscription", self.result_subscriptions)


@dataclass(frozen=True)
class OpsSubscription:
    """Where the operations topic delivers alarms: an email address, an HTTPS URL (a pager or chat
    webhook) or an existing standard SQS queue, by ARN."""

    protocol: str
    endpoint: str

    def __post_init__(self) -> None:
        if self.protocol not in ("email", "https", "sqs"):
            _fail("monitoring.ops_subscriptions.protocol", "one of email, https, sqs", self.protocol)
        _check_push_endpoint("monitoring.ops_subscriptions.endpoint", self.protocol, self.endpoint)
        if self.protocol == "sqs" and not (isinstance(self.endpoint, str) and _SQS_QUEUE_ARN.match(self.endpoint)):
            _fail(
                "monitoring.ops_subscriptions.endpoint",
                "a standard SQS queue ARN 'arn:aws:sqs:<region>:<account>:<name>' for sqs",
                self.endpoint,
            )


@dataclass(frozen=True)
class MonitoringConfig:
    """The dashboard, the operations alarms and their topic, and log retention."""

    ops_subscriptions: tuple[OpsSubscription, ...] = ()
    wake_margin_s: int = 300
    """Added to the endpoint's startup budget: a request older than that has waited longer than any
    cold start should take, and the stuck-at-zero alarm fires."""
    api_5xx_threshold: int = 1
    """API 5xx responses in 5 minutes that page. 1 pages on any; the API's 503 is back-pressure that the
    client retries, so raise it where short SageMaker or S3 throttling is expected."""
    log_retention_days: int = 30
    """Every log group of the stack: the endpoint's, the API's access logs and the Lambda's."""

    def __post_init__(self) -> None:
        if not isinstance(self.ops_subscriptions, tuple) or not all(
            isinstance(s, OpsSubscription) for s in self.ops_subscriptions
        ):
            _fail("monitoring.ops_subscriptions", "a tuple of OpsSubscription", self.ops_subscriptions)
        _int_in_range("monitoring.wake_margin_s", self.wake_margin_s, 0, 3600)
        _int_in_range("monitoring.api_5xx_threshold", self.api_5xx_threshold, 1, 10_000)
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            _fail(
                "monitoring.log_retention_days",
                f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
                self.log_retention_days,
            )


_VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
_SUBNET_ID = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
_ROUTE_TABLE_ID = re.compile(r"^rtb-([0-9a-f]{8}|[0-9a-f]{17})$")
_AVAILABILITY_ZONE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
_IPV4_CIDR = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")


@dataclass(frozen=True)
class NewVpc:
    """VPC mode with a VPC the stack creates: private subnets in two AZs, no internet route unless NAT is asked for."""

    nat_gateways: int = 0
    """0: isolated subnets, AWS services through VPC endpoints only. ≥ 1: public subnets and NAT gateways
    too, for Hub weights (the container downloads them from huggingface.co)."""
    cidr: str = "10.40.0.0/16"

    def __post_init__(self) -> None:
        _int_in_range("network.nat_gateways", self.nat_gateways, 0, 2)
        match = _IPV4_CIDR.match(self.cidr) if isinstance(self.cidr, str) else None
        if not match or any(int(octet) > 255 for octet in match.groups()[:4]) or not 16 <= int(match.group(5)) <= 24:
            _fail("network.cidr", "an IPv4 CIDR block /16–/24 like '10.40.0.0/16'", self.cidr)


@dataclass(frozen=True)
class ExistingVpc:
    """VPC mode in a VPC that exists: imported from these ids, so synth makes no AWS lookup call."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    """Private subnets in at least two AZs (SageMaker requires two, even for one instance)."""
    availability_zones: tuple[str, ...] = ()
    """One per subnet, in the same order: where each interface endpoint puts its network interface."""
    route_table_ids: tuple[str, ...] = ()
    """The subnets' route tables, one per subnet: the S3 gateway endpoint adds its route to them."""
    create_endpoints: bool = True
    """False when the VPC already has the S3 gateway and the interface endpoints (with private DNS):
    a second endpoint with private DNS for the same service fails to create."""
    internet_egress: bool = False
    """The subnets route to the internet (a NAT gateway): needed for Hub weights."""

    def __post_init__(self) -> None:
        if not (isinstance(self.vpc_id, str) and _VPC_ID.match(self.vpc_id)):
            _fail("network.vpc_id", "a VPC id 'vpc-' + 8 or 17 hex digits", self.vpc_id)
        if not isinstance(self.subnet_ids, tuple) or len(self.subnet_ids) < 2:
            _fail("network.subnet_ids", "a tuple of at least two private subnet ids in different AZs", self.subnet_ids)
        for subnet_id in self.subnet_ids:
            if not (isinstance(subnet_id, str) and _SUBNET_ID.match(subnet_id)):
                _fail("network.subnet_ids", "subnet ids 'subnet-' + 8 or 17 hex digits", subnet_id)
        if len(set(self.subnet_ids)) != len(self.subnet_ids):
            _fail("network.subnet_ids", "distinct subnet ids", self.subnet_ids)
        count = len(self.subnet_ids)
        if self.availability_zones or self.create_endpoints:
            if not isinstance(self.availability_zones, tuple) or len(self.availability_zones) != count:
                _fail(
                    "network.availability_zones",
                    f"a tuple of {count} AZs, one per subnet (needed to place the endpoints' interfaces)",
                    self.availability_zones,
                )
            for zone in self.availability_zones:
                if not (isinstance(zone, str) and _AVAILABILITY_ZONE.match(zone)):
                    _fail("network.availability_zones", "AZ names like 'us-east-1a'", zone)
            if len(set(self.availability_zones)) < 2:
                _fail("network.availability_zones", "at least two different AZs (SageMaker requires two)", self.availability_zones)
        if self.route_table_ids or self.create_endpoints:
            if not isinstance(self.route_table_ids, tuple) or len(self.route_table_ids) != count:
                _fail(
                    "network.route_table_ids",
                    f"a tuple of {count} route table ids, one per subnet (the S3 gateway endpoint's routes)",
                    self.route_table_ids,
                )
            for table in self.route_table_ids:
                if not (isinstance(table, str) and _ROUTE_TABLE_ID.match(table)):
                    _fail("network.route_table_ids", "route table ids 'rtb-' + 8 or 17 hex digits", table)


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything one environment's `LlmAsyncStack` is built from."""

    env_name: str
    model: ModelConfig
    endpoint: EndpointConfig
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    network: NewVpc | ExistingVpc | None = None
    """VPC mode: the model and the API's Lambda in private subnets. None (the default): no VPC."""
    account: str | None = None
    region: str | None = None
    """None for both synthesizes an environment-agnostic stack (the image comes from a region mapping)."""

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9-]{0,19}$", self.env_name):
            _fail("env_name", "1–20 lowercase letters, digits or '-', starting with a letter", self.env_name)
        if self.account is not None and not re.match(r"^\d{12}$", self.account):
            _fail("account", "a 12-digit AWS account id or None", self.account)
        if self.region is not None and not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", self.region):
            _fail("region", "an AWS region like 'eu-west-1' or None", self.region)
        if self.region is not None and self.region not in tgi_regions(self.model.tgi_version):
            _fail("region", f"a region with a TGI {self.model.tgi_version} image", self.region)
        budget = self.endpoint.startup_budget_s
        if self.scaling.wake_cooldown_s is not None and self.scaling.wake_cooldown_s < budget:
            _fail(
                "scaling.wake_cooldown_s",
                f"≥ {budget} (provisioning {PROVISIONING_MARGIN_S} s + endpoint.model_data_download_timeout_s"
                " + endpoint.container_startup_health_check_timeout_s)",
                self.scaling.wake_cooldown_s,
            )
        # A request expires at its TTL: its age never reaches a stuck-at-zero threshold at or past it.
        ttl = self.endpoint.request_ttl_s
        if ttl <= budget:
            _fail("endpoint.request_ttl_s", f"> {budget} (the startup budget), so a request outlives a cold start", ttl)
        if self.expected_wake_s >= ttl:
            _fail(
                "monitoring.wake_margin_s",
                f"< {ttl - budget} (endpoint.request_ttl_s − the startup budget {budget} s), so the"
                " stuck-at-zero alarm can fire before requests expire",
                self.monitoring.wake_margin_s,
            )
        self._check_network()
        gpus = self.endpoint.instance.gpus
        if self.model.num_gpus > gpus:
            _fail(
                "model.num_gpus",
                f"1–{gpus} on {self.endpoint.instance_type} ({gpus} × {self.endpoint.instance.gpu_model})",
                self.model.num_gpus,
            )

    def _check_network(self) -> None:
        network = self.network
        if network is not None and not isinstance(network, (NewVpc, ExistingVpc)):
            _fail("network", "None, NewVpc or ExistingVpc", network)
        if isinstance(network, ExistingVpc) and self.region is not None:
            for zone in network.availability_zones:
                if not zone.startswith(self.region) or len(zone) != len(self.region) + 1:
                    _fail("network.availability_zones", f"AZs of region {self.region}", zone)
        # Hub weights are downloaded from huggingface.co when an instance starts: no VPC endpoint reaches it.
        if isinstance(self.model.weights, HubWeights):
            if isinstance(network, NewVpc) and network.nat_gateways == 0:
                _fail(
                    "network.nat_gateways",
                    "≥ 1 with Hub weights (the container downloads them from the internet), or S3Weights",
                    network.nat_gateways,
                )
            if isinstance(network, ExistingVpc) and not network.internet_egress:
                _fail(
                    "network.internet_egress",
                    "True with Hub weights (subnets routed to a NAT gateway), or S3Weights",
                    network.internet_egress,
                )

    @property
    def wake_cooldown_s(self) -> int:
        explicit = self.scaling.wake_cooldown_s
        return self.endpoint.startup_budget_s if explicit is None else explicit

    @property
    def expected_wake_s(self) -> int:
        """How long a request may wait while the endpoint wakes from zero: provisioning, weight download
        and health check (the startup budget), plus the monitoring margin for the alarm chain."""
        return self.endpoint.startup_budget_s + self.monitoring.wake_margin_s
