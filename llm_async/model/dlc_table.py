"""The SageMaker SDK's offline table of Hugging Face TGI (huggingface-llm) container images.

No account id is typed in this project: `sagemaker.core.image_uris` ships the registry table and
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


# The file `image_uris.config_for_framework(TGI_FRAMEWORK)` reads, as the SDK's distribution installs it.
SDK_DISTRIBUTION = "sagemaker-core"
TABLE_FILE = f"sagemaker/core/image_uri_config/{TGI_FRAMEWORK}.json"


@cache
def _inference_table() -> dict:
    """The SDK's table, read without importing `sagemaker.core` (~2 s): every configuration is validated
    against it, in each test worker and each CLI run. Building a URI (`retrieve`) still imports the SDK."""
    return json.loads(Path(str(distribution(SDK_DISTRIBUTION).locate_file(TABLE_FILE))).read_text())["inference"]


def available_tgi_versions() -> tuple[str, ...]:
    return tuple(_inference_table()["versions"])


def tgi_regions(version: str) -> tuple[str, ...]:
    """The regions with an image of that TGI version, from the table alone (no URI built)."""
    return tuple(sorted(_inference_table()["versions"][version]["registries"]))


@cache
def tgi_image_uris(version: str) -> dict[str, TgiImageUri]:
    """Region → image for one TGI version, for every region the SDK table lists."""
    from sagemaker.core import image_uris

    with _endpoints_table_read_once():
        return {
            region: TgiImageUri(image_uris.retrieve(TGI_FRAMEWORK, region=region, version=version))
            for region in tgi_regions(version)
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
