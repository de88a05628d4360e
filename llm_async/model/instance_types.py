"""The GPU instance types llm-async supports, with the facts synth needs about each.

Prices are SageMaker real-time/async hosting on-demand list prices in us-east-1 (USD per instance-hour,
https://aws.amazon.com/sagemaker/pricing/). They feed the synth summary's cost estimate only; other
regions and savings plans differ.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInstanceType:
    name: str
    gpus: int
    gpu_model: str
    gpu_memory_gib: int
    """Total GPU memory across all GPUs of the instance."""
    usd_per_hour: float
    gpu_memory_gb_per_s: int
    """Memory bandwidth of one GPU (NVIDIA's data sheets): what a decode step, which reads every weight and the KV
    cache once, is bound by."""
    local_nvme: bool = True
    """Instances with local NVMe storage reject `VolumeSizeInGB` and the endpoint config's `KmsKeyId`."""


# Bandwidth: T4 320 GB/s (NVIDIA T4 Tensor Core GPU data sheet), A10G 600 GB/s (NVIDIA A10G, as AWS's G5 instance
# page gives it), A100 40 GB 1,555 GB/s (NVIDIA A100 Tensor Core GPU data sheet, SXM4 40 GB).
_TYPES = (
    GpuInstanceType("ml.g4dn.xlarge", 1, "NVIDIA T4", 16, 0.736, 320),
    GpuInstanceType("ml.g4dn.2xlarge", 1, "NVIDIA T4", 16, 0.94, 320),
    GpuInstanceType("ml.g4dn.12xlarge", 4, "NVIDIA T4", 64, 4.89, 320),
    GpuInstanceType("ml.g5.xlarge", 1, "NVIDIA A10G", 24, 1.408, 600),
    GpuInstanceType("ml.g5.2xlarge", 1, "NVIDIA A10G", 24, 1.515, 600),
    GpuInstanceType("ml.g5.4xlarge", 1, "NVIDIA A10G", 24, 2.03, 600),
    GpuInstanceType("ml.g5.12xlarge", 4, "NVIDIA A10G", 96, 7.09, 600),
    GpuInstanceType("ml.g5.48xlarge", 8, "NVIDIA A10G", 192, 20.36, 600),
    GpuInstanceType("ml.p4d.24xlarge", 8, "NVIDIA A100", 320, 37.688, 1555),
)

GPU_INSTANCE_TYPES: dict[str, GpuInstanceType] = {t.name: t for t in _TYPES}
