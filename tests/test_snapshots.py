"""Snapshots of every stack a user deploys: the sandbox, each pipeline stage (dev, staging, prod), the pipeline.

They guard refactors; the assertion tests are the specification. Test-only variants (S3 weights, VPC modes,
subscriptions) have no snapshot: their fine-grained tests cover what they add. The view is normalised so a
diff reads well: asset hashes masked, and JSON documents embedded as strings (CodeBuild build specs, the
dashboard body) expanded into objects, with CloudFormation references shown as `${Ref}` placeholders.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.synths import Synthesized, SynthesizedPipeline, mask_asset_hashes

def _placeholder(part: Any) -> str:
    """A CloudFormation reference inside a joined string, as a readable placeholder."""
    if isinstance(part, str):
        return part
    (function, value), *_ = part.items()
    if function == "Ref":
        return "${%s}" % value
    if function == "Fn::GetAtt":
        return "${%s}" % ".".join(value)
    return "${%s}" % json.dumps(part, sort_keys=True)


def _expand(value: Any) -> Any:
    """JSON documents carried as strings (or joined from pieces and references) become objects."""
    if isinstance(value, dict):
        join = value.get("Fn::Join")
        if len(value) == 1 and isinstance(join, list) and join[0] == "":
            text = "".join(_placeholder(part) for part in join[1])
            document = _json_document(text)
            if document is not None:
                return {"Fn::Join (JSON document)": document}
        return {key: _expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item) for item in value]
    if isinstance(value, str):
        document = _json_document(value)
        return value if document is None else {"JSON document": document}
    return value


def _json_document(text: str) -> Any:
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def readable(template: dict[str, Any]) -> Any:
    return _expand(mask_asset_hashes(template))


@pytest.mark.parametrize("env", ["sandbox", "dev", "staging", "prod"])
def test_template_snapshot(synthesized: dict[str, Synthesized], env: str, snapshot: SnapshotAssertion) -> None:
    assert readable(synthesized[env].template_json) == snapshot(extension_class=JSONSnapshotExtension)


def test_weights_stack_snapshot(synthesized: dict[str, Synthesized], snapshot: SnapshotAssertion) -> None:
    weights = synthesized["prod"].weights
    assert weights is not None and readable(weights.template_json) == snapshot(extension_class=JSONSnapshotExtension)


def test_pipeline_snapshot(pipeline: SynthesizedPipeline, snapshot: SnapshotAssertion) -> None:
    assert readable(pipeline.template_json) == snapshot(extension_class=JSONSnapshotExtension)


def test_the_view_expands_embedded_documents_and_masks_hashes() -> None:
    template = {
        "BuildSpec": '{"phases": {"build": {"commands": ["cdk-assets publish \\"' + "a" * 64 + ':111111111111-us-east-1-0123abcd\\""]}}}',
        "DashboardBody": {"Fn::Join": ["", ['{"widgets": [{"region": "', {"Ref": "AWS::Region"}, '"}]}']]},
        "Name": "{not json",
    }
    assert readable(template) == {
        "BuildSpec": {"JSON document": {"phases": {"build": {"commands": [
            'cdk-assets publish "<asset-hash>:111111111111-us-east-1-<destination-hash>"'
        ]}}}},
        "DashboardBody": {"Fn::Join (JSON document)": {"widgets": [{"region": "${AWS::Region}"}]}},
        "Name": "{not json",
    }
