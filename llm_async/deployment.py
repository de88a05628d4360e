"""`DeploymentConfig`: one environment's whole configuration, and the rules that span its sections.

Each section (model, endpoint, scaling, storage, api, monitoring, network, batch) is validated by its own class
beside its construct; here only what needs two sections at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llm_async.api.config import DEFAULT_MAX_NEW_TOKENS, ApiConfig, TokenBudget
from llm_async.batch.config import MAX_CHUNKS, RUN_MARGIN_S, BatchConfig
from llm_async.endpoint.config import PROVISIONING_MARGIN_S, EndpointConfig, ScalingConfig
from llm_async.model import staged
from llm_async.model.capacity import DEFAULT_CONCURRENCY, Capacity, capacity
from llm_async.model.config import HubWeights, ModelConfig, StagedWeights
from llm_async.model.dlc_table import regions
from llm_async.monitoring.config import MonitoringConfig
from llm_async.network.config import ExistingVpc, NewVpc
from llm_async.storage.config import StorageConfig
from llm_async.validators import ACCOUNT, REGION, fail, matches

_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


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
    batch: BatchConfig = field(default_factory=BatchConfig)
    network: NewVpc | ExistingVpc | None = None
    """VPC mode: the model and the API's Lambda in private subnets. None (the default): no VPC."""
    account: str | None = None
    region: str | None = None
    """None for both synthesizes an environment-agnostic stack (the image comes from a region mapping)."""

    def __post_init__(self) -> None:
        if not matches(_ENV_NAME, self.env_name):
            fail("env_name", "1–20 lowercase letters, digits or '-', starting with a letter", self.env_name)
        if self.account is not None and not matches(ACCOUNT, self.account):
            fail("account", "a 12-digit AWS account id or None", self.account)
        if self.region is not None and not matches(REGION, self.region):
            fail("region", "an AWS region like 'eu-west-1' or None", self.region)
        engine = self.model.serving_engine
        if self.region is not None and self.region not in regions(engine.framework, self.model.image_version):
            fail("region", f"a region with a {engine.label} {self.model.image_version} image", self.region)
        budget = self.endpoint.startup_budget_s
        if self.scaling.wake_cooldown_s is not None and self.scaling.wake_cooldown_s < budget:
            fail(
                "scaling.wake_cooldown_s",
                f"≥ {budget} (provisioning {PROVISIONING_MARGIN_S} s + endpoint.model_data_download_timeout_s"
                " + endpoint.container_startup_health_check_timeout_s)",
                self.scaling.wake_cooldown_s,
            )
        # A request expires at its TTL: its age never reaches a stuck-at-zero threshold at or past it.
        ttl = self.endpoint.request_ttl_s
        if ttl <= budget:
            fail("endpoint.request_ttl_s", f"> {budget} (the startup budget), so a request outlives a cold start", ttl)
        if self.expected_wake_s >= ttl:
            fail(
                "monitoring.wake_margin_s",
                f"< {ttl - budget} (endpoint.request_ttl_s − the startup budget {budget} s), so the"
                " stuck-at-zero alarm can fire before requests expire",
                self.monitoring.wake_margin_s,
            )
        self._check_network()
        self._check_token_budget()
        self._check_capacity()
        self._check_weights_bucket()
        self._check_batch()
        gpus = self.endpoint.instance.gpus
        if self.model.num_gpus > gpus:
            fail(
                "model.num_gpus",
                f"1–{gpus} on {self.endpoint.instance_type} ({gpus} × {self.endpoint.instance.gpu_model})",
                self.model.num_gpus,
            )

    def _check_capacity(self) -> None:
        fit = self.capacity
        if fit is None:
            return
        if not fit.holds_full_request:
            fail(
                "endpoint.instance_type",
                f"an instance whose GPUs hold one request of {fit.full_request_tokens:,} tokens (model.max_input_tokens"
                f" + the default budget) at least: {fit.summary}",
                self.endpoint.instance_type,
            )
        explicit = self.endpoint.max_concurrent_invocations_per_instance
        if explicit is not None and explicit > fit.sequences:
            # More would make the engine queue typical requests SageMaker has already handed to this instance: they
            # wait there, their invocation timeout running, though another instance may be free. Shorter prompts are
            # said with model.typical_prompt_tokens.
            fail("endpoint.max_concurrent_invocations_per_instance", f"1–{fit.sequences}: {fit.summary}", explicit)

    def _check_batch(self) -> None:
        batch = self.batch
        if not isinstance(batch, BatchConfig):
            fail("batch", "a BatchConfig", batch)
        if not batch.enabled:
            return
        if batch.chunks > MAX_CHUNKS:
            fail(
                "batch.chunk_lines",
                f"≥ {-(-batch.max_lines // MAX_CHUNKS)} with batch.max_lines {batch.max_lines}: at most {MAX_CHUNKS}"
                " child workflows a batch, whose outputs the Distributed Map gathers within 256 KiB",
                batch.chunk_lines,
            )
        # S3 expires an object at the first midnight UTC after its age reaches the expiry days: never earlier.
        run_s = batch.run_s
        days = self.storage.payload_expiry_days
        if days * 86_400 < run_s:
            fail(
                "storage.payload_expiry_days",
                f"≥ {-(-run_s // 86_400)} with batch.completion_windows {batch.completion_windows}, so a batch's"
                f" files outlive its run (the longest window + {RUN_MARGIN_S} s)",
                days,
            )

    def _check_weights_bucket(self) -> None:
        weights = self.model.weights
        longest = staged.longest_own_bucket_prefix()
        if isinstance(weights, StagedWeights) and weights.own_bucket and len(self.endpoint.name_prefix) > longest:
            # The own weights bucket is '<name_prefix>-weights-<account>-<region>', within S3's 63 characters.
            fail("endpoint.name_prefix", f"at most {longest} characters with StagedWeights in the deployment's own bucket", self.endpoint.name_prefix)

    def _check_token_budget(self) -> None:
        total = self.model.max_total_tokens
        if self.api.max_new_tokens is not None and self.api.max_new_tokens > total - 1:
            fail("api.max_new_tokens", f"1–{total - 1} (model.max_total_tokens − 1)", self.api.max_new_tokens)
        budget = self.token_budget
        if budget.default > budget.maximum:
            fail("api.default_max_new_tokens", f"1–{budget.maximum} (the largest budget a request may ask for)", budget.default)

    def _check_network(self) -> None:
        network = self.network
        if network is not None and not isinstance(network, (NewVpc, ExistingVpc)):
            fail("network", "None, NewVpc or ExistingVpc", network)
        if isinstance(network, ExistingVpc) and self.region is not None:
            for zone in network.availability_zones:
                if not zone.startswith(self.region) or len(zone) != len(self.region) + 1:
                    fail("network.availability_zones", f"AZs of region {self.region}", zone)
        # Hub weights are downloaded from huggingface.co when an instance starts: no VPC endpoint reaches it.
        if isinstance(self.model.weights, HubWeights):
            if isinstance(network, NewVpc) and network.nat_gateways == 0:
                fail(
                    "network.nat_gateways",
                    "≥ 1 with Hub weights (the container downloads them from the internet), or staged or S3 weights",
                    network.nat_gateways,
                )
            if isinstance(network, ExistingVpc) and not network.internet_egress:
                fail(
                    "network.internet_egress",
                    "True with Hub weights (subnets routed to a NAT gateway), or staged or S3 weights",
                    network.internet_egress,
                )

    @property
    def token_budget(self) -> TokenBudget:
        maximum = self.api.max_new_tokens or self.model.max_total_tokens - self.model.max_input_tokens
        return TokenBudget(default=self.api.default_max_new_tokens or min(DEFAULT_MAX_NEW_TOKENS, maximum), maximum=maximum)

    @property
    def capacity(self) -> Capacity | None:
        """What the engine's KV cache holds on the endpoint's instance (None: the model's shape is not known)."""
        return capacity(self.model, self.endpoint.instance, self.token_budget.default)

    @property
    def max_concurrent_invocations(self) -> int:
        """Requests SageMaker sends one instance at once: as configured, else what the KV cache holds."""
        explicit = self.endpoint.max_concurrent_invocations_per_instance
        if explicit is not None:
            return explicit
        fit = self.capacity
        return DEFAULT_CONCURRENCY if fit is None else fit.sequences

    @property
    def scale_out_backlog_per_instance(self) -> int:
        """Backlog per instance above which one more is added: as configured, else what one instance runs at once."""
        return self.scaling.scale_out_backlog_per_instance or self.max_concurrent_invocations

    @property
    def batch_max_concurrency(self) -> int:
        """Batch child workflows at once (BatchConfig.max_concurrency_for what the endpoint runs at max capacity)."""
        return self.batch.max_concurrency_for(self.scaling.max_capacity * self.max_concurrent_invocations)

    @property
    def wake_cooldown_s(self) -> int:
        explicit = self.scaling.wake_cooldown_s
        return self.endpoint.startup_budget_s if explicit is None else explicit

    @property
    def expected_wake_s(self) -> int:
        """How long a request may wait while the endpoint wakes from zero: provisioning, weight download
        and health check (the startup budget), plus the monitoring margin for the alarm chain."""
        return self.endpoint.startup_budget_s + self.monitoring.wake_margin_s
