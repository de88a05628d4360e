"""What the template cannot say: how fast instances start and requests run, and how CloudWatch reports.

A new instance's startup (its cold start) is instance provisioning + weight load + engine start, each from a
cited default or the template (where the weights come from, how large they are, which engine serves them). How fast
requests run comes from the batching model (batching.py): the template's LlmAsync::Capacity metadata and instance
type, and the calibrated efficiencies. Every default here is listed in docs/simulator.md ("Cold start",
"Batching" and "Parameters") with its source.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from llm_async.api.config import DEFAULT_MAX_NEW_TOKENS
from llm_async.model import capacity as engine_capacity
from llm_async.model.instance_types import GPU_INSTANCE_TYPES
from llm_async.model.presets import QWEN2_5_7B_INSTRUCT
from llm_async_tools.simulation.batching import (
    BANDWIDTH_EFFICIENCY,
    COMPUTE_EFFICIENCY,
    DEFAULT_PROMPT_TOKENS,
    PEAK_TFLOPS,
    Batching,
    EngineLimits,
    Roofline,
)
from llm_async_tools.simulation.metrics import IDLE_METRICS
from llm_async_tools.simulation.model import ScalingModel

WEIGHTS_SOURCES = ("s3", "hub")
"""s3: SageMaker copies staged weights from S3 into /opt/ml/model before the container starts;
hub: the container downloads them from the Hugging Face Hub when it starts (llm_async/model/staged.py)."""

# A GPU instance launched by SageMaker until its container can start, with the image already on the host.
# AWS measured a P50 of 134 s for a scale-out on ml.g4dn.xlarge of an endpoint with no model weights and a cached
# image, which also holds that container's own start ("Introducing container caching in Amazon SageMaker AI for
# faster model scaling", 2026-06-16, https://aws.amazon.com/blogs/machine-learning/introducing-container-caching-in-amazon-sagemaker-ai-for-faster-model-scaling/);
# Tensorfuse reports 80-120 s for a cloud to provision and boot a GPU instance
# (https://tensorfuse.io/docs/blogs/lazy_loading_performance_degradation). 120: the upper end of the one, inside the
# other. The split of AWS's 134 s into launch and container start is ours: an estimate.
INSTANCE_PROVISIONING_S = 120.0
# Container image pull on the new instance: none, because SageMaker caches the image for accelerator instance types
# since 2026-06 (same AWS post; it falls back to ECR when no cached image is available). Uncached, the same post
# measured 381 s against 134 s for a 15.7 GB image (247 s of pull): docs/simulator.md shows that case.
IMAGE_PULL_S = 0.0
# S3 → instance, SageMaker's model data download: AWS's Qwen3-8B came down from S3 in 77 s on ml.g6.2xlarge with
# the image cached (same post). Its size is ours: 8.19 B parameters by its config.json (36 layers, hidden 4096, MLP
# 12288, vocabulary 151,936, untied embeddings; https://huggingface.co/Qwen/Qwen3-8B) in bf16 ≈ 16.4 GB, so
# 16.4e9 × 8 / 77 s = 1.7 Gbps. Its customer on ml.g5.2xlarge (5.8 GB of weights, 164 s against 134 s
# without weights) implies ≥ 1.5 Gbps. Ceiling: g5.2xlarge "up to 10 Gbps", 5 Gbps per flow outside a placement
# group (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-network-bandwidth.html).
S3_GBPS = 1.7
# Hugging Face Hub → instance, the container's own download at start: Tensorfuse downloaded
# meta-llama/Llama-3.1-8B-Instruct (8.03 B parameters in bf16 ≈ 16.1 GB) from the Hub in 61 s = 2.1 Gbps
# (https://tensorfuse.io/docs/blogs/reducing_gpu_cold_start). Reports range from ~75 MB/s = 0.6 Gbps inside a
# SageMaker endpoint (aws/sagemaker-huggingface-inference-toolkit#61, one 265 MB file) to ~500 MB/s = 4 Gbps, where
# hf_transfer's README says plain Python stops keeping up (https://github.com/huggingface/hf_transfer); EC2 caps
# internet traffic at 5 Gbps below 32 vCPUs (EC2 bandwidth page above). docs/simulator.md shows the 0.6 Gbps case.
HUB_GBPS = 2.1
# Engine start: from the container start with the weights on local disk to serving (load to GPU, warm-up, CUDA
# graphs; torch.compile for vLLM).
ENGINE_START_S = {
    # A TGI 2.2.0 start-up log of Llama-3.1-8B-Instruct on one A10G: shard ready in 47.6 s, warm-up and CUDA
    # graphs to "Connected" 8 s more (a public notes file in the search tool's code corpus, whose repository it does
    # not name: a report we could not trace); TGI#2828 shows a 4-shard "Shard ready in 55 s"
    # (https://github.com/huggingface/text-generation-inference/issues/2828). 56 s.
    "tgi": 56.0,
    # AWS's Qwen3-8B on its LMI (vLLM) container: 258 s = provisioning + 77 s download + container start, so 61 s
    # with the 120 s provisioning above (derived, so an estimate). vLLM #20264 shows a 3B model serving 59 s after
    # start with a warm torch.compile cache; Tensorfuse measured 233 s for Llama-3.1-8B with no cache at all (L40S).
    "vllm": 61.0,
}
DEFAULT_WEIGHTS_SOURCE = "hub"
"""A template without the weights metadata: Hub weights, what templates written before the metadata (issue 14) served
unless configured with S3Weights."""
DEFAULT_WEIGHTS_BYTES = 15_231_233_024
"""A template without the weights' size: Qwen/Qwen2.5-7B-Instruct's bf16 safetensors, the default preset's weights
(the size the model construct writes into the metadata for it)."""

_GIGA = 1e9


@dataclass(frozen=True)
class ColdStart:
    """One new instance's mean startup and what it is made of; what the report states."""

    instance_provisioning_s: float
    image_pull_s: float
    weights_source: str
    weights_bytes: int
    weights_gbps: float
    engine: str | None
    engine_start_s: float | None
    """None only when --provisioning-seconds replaced the breakdown and the engine is unknown."""
    total_s: float
    """The mean the simulation draws each instance's startup around (jitter applies to it)."""
    overridden: bool = False
    """--provisioning-seconds set the total: the components above are shown, not used."""
    defaults: tuple[str, ...] = ()
    """Inputs the template did not give, taken from the documented defaults ('weights source', 'weights size')."""

    @property
    def weight_load_s(self) -> float:
        return self.weights_bytes * 8 / (self.weights_gbps * _GIGA)

    @property
    def overlaps_pull(self) -> bool:
        """S3 weights download beside the image pull (SageMaker fetches both before the container starts)."""
        return self.weights_source == "s3"


@dataclass(frozen=True)
class SimulationParameters:
    provisioning_s: float | None = None
    """Mean total startup of a new instance; set, it replaces the breakdown below (--provisioning-seconds)."""
    instance_provisioning_s: float = INSTANCE_PROVISIONING_S
    image_pull_s: float = IMAGE_PULL_S
    weights_source: str | None = None
    """Overrides the template's weights metadata (s3 or hub)."""
    weights_bytes: int | None = None
    """Overrides the template's weights size."""
    s3_gbps: float = S3_GBPS
    hub_gbps: float = HUB_GBPS
    engine_start_s: float | None = None
    """Overrides the template's engine's default start time."""
    provisioning_jitter: float = 0.15
    """Relative standard deviation of the startup (normal, clipped to 0.5–2 × the mean); 0 makes it exact."""
    service_s: float = 20.0
    """Time alone on an idle instance of a request whose trace row gives neither tokens nor service_s."""
    prompt_tokens: float = DEFAULT_PROMPT_TOKENS
    """Prompt length of a request whose trace row gives no prompt_tokens."""
    bandwidth_efficiency: float = BANDWIDTH_EFFICIENCY
    """Share of the GPUs' data-sheet memory bandwidth a decode step achieves (calibration.py)."""
    compute_efficiency: float = COMPUTE_EFFICIENCY
    """Share of the GPUs' peak tensor FLOPS a prefill achieves (calibration.py)."""
    metric_lag_s: float = 60.0
    """Delay from the end of a metric's minute to the alarm evaluation that first sees it."""
    idle_metrics: str = "zero"
    """What SageMaker publishes for a minute without backlog: 'zero' datapoints or 'missing' ones."""
    api_wake: bool = True
    """Requests come through the inference API, which forces the wake alarm (if the template has one)."""
    hold_scale_in_during_scale_out_cooldown: bool = False
    """Undocumented: does one policy's scale-out cooldown hold another policy's scale-in?"""
    refuse_while_updating: bool = True
    """A capacity change while instances are still starting fails (the endpoint is Updating)."""
    start: datetime | None = None
    """Wall-clock time of t = 0 (scheduled actions); None: the CLI's default."""
    duration_s: float | None = None
    """Simulated span; None: whole days covering the trace."""
    seed: int = 0

    def __post_init__(self) -> None:
        positive = ["instance_provisioning_s", "s3_gbps", "hub_gbps", "service_s", "prompt_tokens"]
        positive += [n for n in ("provisioning_s", "engine_start_s", "weights_bytes") if getattr(self, n) is not None]
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")
        if self.image_pull_s < 0:
            raise ValueError(f"image_pull_s must be ≥ 0 (got {self.image_pull_s})")
        if self.weights_source is not None and self.weights_source not in WEIGHTS_SOURCES:
            raise ValueError(f"weights_source must be one of {', '.join(WEIGHTS_SOURCES)} (got {self.weights_source!r})")
        for name in ("bandwidth_efficiency", "compute_efficiency"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be > 0 and ≤ 1 (got {getattr(self, name)})")
        if not 0 <= self.provisioning_jitter <= 1:
            raise ValueError(f"provisioning_jitter must be 0–1 (got {self.provisioning_jitter})")
        if self.metric_lag_s < 0:
            raise ValueError(f"metric_lag_s must be ≥ 0 (got {self.metric_lag_s})")
        if self.idle_metrics not in IDLE_METRICS:
            raise ValueError(f"idle_metrics must be one of {', '.join(IDLE_METRICS)} (got {self.idle_metrics!r})")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError(f"duration_s must be > 0 (got {self.duration_s})")

    def cold_start(self, model: ScalingModel) -> ColdStart:
        """The startup of one of `model`'s new instances: these parameters first, then the template, then the defaults.

        S3 weights come down beside the image pull, Hub weights only once the container runs, after it:
        s3 = provisioning + max(pull, load) + engine start; hub = provisioning + pull + load + engine start.
        """
        defaults: list[str] = []
        source = self.weights_source if self.weights_source is not None else model.weights_source
        if source is None:
            source = DEFAULT_WEIGHTS_SOURCE
            defaults.append("weights source")
        size = self.weights_bytes if self.weights_bytes is not None else model.weights_bytes
        if size is None:
            size = DEFAULT_WEIGHTS_BYTES
            defaults.append("weights size")
        engine_start = self.engine_start_s if self.engine_start_s is not None else ENGINE_START_S.get(model.engine or "")
        if engine_start is None and self.provisioning_s is None:
            # The template reader refuses unknown engines; only a model built by hand can get here.
            raise ValueError(f"no engine start time for engine {model.engine!r}: pass --engine-start-seconds")
        gbps = self.s3_gbps if source == "s3" else self.hub_gbps
        cold = ColdStart(self.instance_provisioning_s, self.image_pull_s, source, size, gbps, model.engine, engine_start,
                         total_s=0.0, defaults=tuple(defaults))
        if self.provisioning_s is not None:
            return replace(cold, total_s=self.provisioning_s, overridden=True)
        staging = max(cold.image_pull_s, cold.weight_load_s) if cold.overlaps_pull else cold.image_pull_s + cold.weight_load_s
        return replace(cold, total_s=cold.instance_provisioning_s + staging + (engine_start or 0.0))

    def batching(self, model: ScalingModel) -> Batching:
        """What one of `model`'s instances batches: the template's capacity metadata, else the default preset's figures
        (Qwen2.5-7B-Instruct on the model's engine, on the template's instance type), and the API's default budget of
        new tokens, else DEFAULT_MAX_NEW_TOKENS; each default named."""
        instance = GPU_INSTANCE_TYPES.get(model.instance_type)
        if instance is None:
            raise ValueError(f"no GPU figures for instance type {model.instance_type}: the batching model needs its bandwidth")
        if instance.gpu_model not in PEAK_TFLOPS:
            raise ValueError(f"no peak TFLOPS for {instance.gpu_model} (batching.PEAK_TFLOPS)")
        known = model.capacity
        engine = (known.engine if known else None) or model.engine or "tgi"
        preset = QWEN2_5_7B_INSTRUCT.model if engine == "tgi" else QWEN2_5_7B_INSTRUCT.variant(engine=engine).model
        defaults: list[str] = []
        # The template reader always gives it (the API's DEFAULT_MAX_NEW_TOKENS); a model built by hand may not.
        budget = DEFAULT_MAX_NEW_TOKENS if model.default_new_tokens is None else model.default_new_tokens
        fallback = engine_capacity.capacity(preset, instance, budget)
        assert fallback is not None  # the preset carries its architecture and weight size

        def value(name: str, default: int, label: str) -> int:
            given = getattr(known, name) if known else None
            if given is None:
                defaults.append(label)
                return default
            return int(given)

        # Without a capacity entry the weights metadata still gives the size: not a default then.
        weights = model.weights_bytes if known is None or known.weights_bytes is None else known.weights_bytes
        if weights is None:
            weights = DEFAULT_WEIGHTS_BYTES
            defaults.append("weights size")
        gpus = value("num_gpus", instance.gpus, "GPUs")
        per_token = value("kv_bytes_per_token", fallback.kv_bytes_per_token, "KV bytes per token")
        cache = value("kv_cache_bytes", max(fallback.kv_cache_bytes, 0), "KV cache size")
        limit = value("engine_limit", fallback.engine_limit, "engine limit")
        longest = value("max_input_tokens", preset.max_input_tokens, "max input tokens")
        typical = engine_capacity.default_typical_prompt_tokens(longest)
        prompt = value("typical_prompt_tokens", typical, "typical prompt tokens")
        if model.default_new_tokens is None:
            defaults.append("default new tokens")
        roofline = Roofline(
            weights_bytes=weights,
            kv_bytes_per_token=per_token,
            bandwidth=gpus * instance.gpu_memory_gb_per_s * _GIGA * self.bandwidth_efficiency,
            flops=gpus * PEAK_TFLOPS[instance.gpu_model] * 1e12 * self.compute_efficiency,
        )
        # capacity.py's sizing: a typical prompt and the API's default budget (the engines queue a longer request).
        return Batching(roofline, EngineLimits(cache // per_token, limit), prompt, budget, tuple(defaults))
