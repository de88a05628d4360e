"""The SageMaker SDK's offline tables of container images: one per framework (TGI's `huggingface-llm`, AWS's `vllm`).

No account id is typed in this project: `sagemaker.core.image_uris` ships the registry tables and
`retrieve` builds each region's URI without an AWS call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib.metadata import distribution
from pathlib import Path


@dataclass(frozen=True)
class ImageUri:
    uri: str

    @property
    def account(self) -> str:
        return self.uri.split(".", 1)[0]

    @property
    def repository(self) -> str:
        return self.uri.split("/", 1)[1].split(":", 1)[0]


# The files `image_uris.config_for_framework(framework)` reads, as the SDK's distribution installs them.
SDK_DISTRIBUTION = "sagemaker-core"


def table_file(framework: str) -> str:
    return f"sagemaker/core/image_uri_config/{framework}.json"


@cache
def _inference_table(framework: str) -> dict:
    """The SDK's table, read without importing `sagemaker.core` (~2 s): every configuration is validated
    against it, in each test worker and each CLI run. Building a URI (`retrieve`) still imports the SDK."""
    path = Path(str(distribution(SDK_DISTRIBUTION).locate_file(table_file(framework))))
    return json.loads(path.read_text())["inference"]


def available_versions(framework: str) -> tuple[str, ...]:
    return tuple(_inference_table(framework)["versions"])


def regions(framework: str, version: str) -> tuple[str, ...]:
    """The regions with an image of that version, from the table alone (no URI built)."""
    return tuple(sorted(_inference_table(framework)["versions"][version]["registries"]))


@cache
def image_uris(framework: str, version: str) -> dict[str, ImageUri]:
    """Region → image for one version, for every region the SDK table lists."""
    from sagemaker.core import image_uris as sdk_image_uris

    with _endpoints_table_read_once():
        return {
            region: ImageUri(sdk_image_uris.retrieve(framework, region=region, version=version))
            for region in regions(framework, version)
        }


@contextmanager
def _endpoints_table_read_once() -> Iterator[None]:
    """`retrieve` builds a new botocore endpoint resolver, parsing botocore's 1 MB endpoints table, on
    every call: 2.4 of the 2.6 s that the 45 regions of a mapping take. Within this block the SDK reuses
    the first one. (A private SDK function: if a later SDK drops it, the block changes nothing.)"""
    from sagemaker.core import common_utils

    build = getattr(common_utils, "_botocore_resolver", None)
    if build is None:
        yield
        return
    common_utils._botocore_resolver = cache(build)
    try:
        yield
    finally:
        common_utils._botocore_resolver = build
