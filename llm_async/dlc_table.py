"""The SageMaker SDK's offline table of Hugging Face TGI (huggingface-llm) container images.

No account id is typed in this project: `sagemaker.core.image_uris` ships the registry table and
`retrieve` builds each region's URI without an AWS call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

TGI_FRAMEWORK = "huggingface-llm"


@dataclass(frozen=True)
class TgiImageUri:
    uri: str

    @property
    def account(self) -> str:
        return self.uri.split(".", 1)[0]

    @property
    def repository(self) -> str:
        return self.uri.split("/", 1)[1].split(":", 1)[0]


@cache
def _inference_table() -> dict:
    from sagemaker.core import image_uris  # slow import (~2 s): only when an image is resolved

    return image_uris.config_for_framework(TGI_FRAMEWORK)["inference"]


def available_tgi_versions() -> tuple[str, ...]:
    return tuple(_inference_table()["versions"])


@cache
def tgi_image_uris(version: str) -> dict[str, TgiImageUri]:
    """Region → image for one TGI version, for every region the SDK table lists."""
    from sagemaker.core import image_uris

    regions = _inference_table()["versions"][version]["registries"]
    return {
        region: TgiImageUri(image_uris.retrieve(TGI_FRAMEWORK, region=region, version=version))
        for region in sorted(regions)
    }
