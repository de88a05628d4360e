"""The serving engines llm-async deploys: each owns its image table, its version, its quantization names and the
host AMI its CUDA needs. The container environment of each is built in construct.py; its request rules live in
the Lambda (api/runtime/inference_api/tgi*.py, vllm*.py).

No aws-cdk-lib here: configuration validation imports it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Engine:
    name: str
    """What `ModelConfig.engine` and `-c engine=` take."""
    label: str
    framework: str
    """The SageMaker SDK's image table (`sagemaker/core/image_uri_config/<framework>.json`)."""
    default_version: str
    quantize_methods: tuple[str, ...]
    inference_ami_version: str | None = None
    """The production variant's InferenceAmiVersion, when the image needs newer GPU drivers than the default host AMI."""


TGI = Engine(
    name="tgi",
    label="TGI",
    framework="huggingface-llm",
    # The last SageMaker TGI DLC: TGI is in maintenance mode upstream (2025-12-11) and archived (2026-03-21).
    default_version="3.3.6",
    # `--quantize` choices of text-generation-launcher 3.x (launcher/src/main.rs, TGI v3.3.6).
    quantize_methods=(
        "awq", "bitsandbytes", "bitsandbytes-fp4", "bitsandbytes-nf4", "compressed-tensors", "eetq", "exl2", "fp8", "gptq", "marlin",
    ),
)

VLLM = Engine(
    name="vllm",
    label="vLLM",
    # AWS's vLLM DLC for SageMaker: upstream vllm/vllm-openai of the same version, configured by SM_VLLM_*
    # variables, serving vLLM's own SageMaker /invocations route (docs/design/vllm-engine.md, §1).
    framework="vllm",
    default_version="0.30.0",
    # The pre-quantized checkpoint formats among `QuantizationMethods`
    # (vllm/model_executor/layers/quantization/__init__.py:15, vLLM 0.30.0); vLLM 0.30 has no bitsandbytes.
    quantize_methods=("awq", "awq_marlin", "compressed-tensors", "fp8", "gptq", "gptq_marlin"),
    # The image is built for CUDA 13.0: the default SageMaker host AMI's NVIDIA driver is too old; AL2023 GPU
    # 4.1 has driver 580 / CUDA 13.0 (botocore's ProductionVariantInferenceAmiVersion; the DLC's own tests use it).
    inference_ami_version="al2023-ami-sagemaker-inference-gpu-4-1",
)

ENGINES: dict[str, Engine] = {engine.name: engine for engine in (TGI, VLLM)}
