"""Snapshots of every environment's template (dev, staging, prod: as pipeline stages) and of the pipeline.

They guard refactors; the assertion tests are the specification.
"""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import normalize_asset_hashes
from tests.synths import Synthesized, SynthesizedPipeline


@pytest.mark.parametrize("env", ["sandbox", "dev", "staging", "prod", "s3-weights", "subscribed", "vpc-new", "vpc-nat", "vpc-existing"])
def test_template_snapshot(synthesized: dict[str, Synthesized], env: str, snapshot: SnapshotAssertion) -> None:
    template = normalize_asset_hashes(synthesized[env].template_json)
    assert template == snapshot(extension_class=JSONSnapshotExtension)


def test_pipeline_snapshot(pipeline: SynthesizedPipeline, snapshot: SnapshotAssertion) -> None:
    assert normalize_asset_hashes(pipeline.template_json) == snapshot(extension_class=JSONSnapshotExtension)
