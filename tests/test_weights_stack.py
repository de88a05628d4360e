"""LlmAsyncWeightsStack as the app composes it: beside LlmAsyncStack when the model reads staged weights from the
deployment's own bucket, named so that the endpoint's stack needs no import of it (WeightsStore has its own tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llm_async.model.config import StagedWeights
from tests.synths import Synthesized
from tests.weights.rendered import rendered

PIPELINE_STAGES = ["dev", "staging", "prod"]
OWN_BUCKET = [*PIPELINE_STAGES, "llama"]
"""The synths whose model reads StagedWeights from the own bucket: the pipeline's stages and the gated preset."""
STAGING_OUTPUTS = {"WeightsBucketName", "ManifestUri", "StagingRoleArn"}


def _intrinsics(value: Any, name: str) -> Iterator[Any]:
    """Every argument of the intrinsic function `name` anywhere in a template value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == name:
                yield item
            yield from _intrinsics(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _intrinsics(item, name)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _weights(synth: Synthesized) -> Synthesized:
    assert synth.weights is not None, synth.config.env_name
    return synth.weights


def _weights_bucket(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    """The one named bucket of the weights stack (its access-log bucket's name is CloudFormation's)."""
    ((logical_id, bucket),) = [
        (k, v) for k, v in _weights(synth).resources("AWS::S3::Bucket").items() if "BucketName" in v["Properties"]
    ]
    return logical_id, bucket


def _bucket_name(synth: Synthesized) -> str:
    return rendered(_weights_bucket(synth)[1]["Properties"]["BucketName"])


@pytest.mark.parametrize("env", ["sandbox", "s3-weights", "subscribed", "vpc-new", "vpc-nat", "vpc-existing", "vllm"])
def test_no_weights_stack_unless_the_model_reads_the_own_bucket(synthesized: dict[str, Synthesized], env: str) -> None:
    assert synthesized[env].weights is None


def test_the_synths_with_a_weights_stack_are_those_with_staged_weights_in_the_own_bucket(synthesized: dict[str, Synthesized]) -> None:
    own = {
        name for name, synth in synthesized.items()
        if isinstance(synth.config.model.weights, StagedWeights) and synth.config.model.weights.own_bucket
    }
    assert own == set(OWN_BUCKET) == {name for name, synth in synthesized.items() if synth.weights is not None}


@pytest.mark.parametrize("env", PIPELINE_STAGES)
def test_each_pipeline_stage_outputs_its_bucket_manifest_and_staging_role(synthesized: dict[str, Synthesized], env: str) -> None:
    outputs = _weights(synthesized[env]).template_json["Outputs"]
    assert STAGING_OUTPUTS <= set(outputs)


@pytest.mark.parametrize("env", OWN_BUCKET)
def test_bucket_name_output_is_the_weights_bucket(synthesized: dict[str, Synthesized], env: str) -> None:
    bucket_id, _ = _weights_bucket(synthesized[env])
    assert _weights(synthesized[env]).template_json["Outputs"]["WeightsBucketName"]["Value"] == {"Ref": bucket_id}


@pytest.mark.parametrize("env", OWN_BUCKET)
def test_manifest_uri_output_is_where_the_staging_command_writes_the_manifest(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    weights = synth.config.model.weights
    assert isinstance(weights, StagedWeights)
    manifest = rendered(_weights(synth).template_json["Outputs"]["ManifestUri"]["Value"])
    assert manifest == f"s3://{_bucket_name(synth)}/hub/{weights.model_id}/{weights.revision}/manifest.json"


@pytest.mark.parametrize("env", PIPELINE_STAGES)
def test_staging_role_output_is_the_stages_staging_role(synthesized: dict[str, Synthesized], env: str) -> None:
    weights = _weights(synthesized[env])
    (role_id,) = [
        logical_id
        for logical_id, role in weights.resources("AWS::IAM::Role").items()
        if role["Properties"].get("RoleName") == f"llm-async-{env}-weights-staging"
    ]
    assert weights.template_json["Outputs"]["StagingRoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_the_standalone_gated_preset_has_a_weights_stack_without_a_staging_role(synthesized: dict[str, Synthesized]) -> None:
    # No pipeline: the operator stages with their own credentials (docs/weights.md).
    weights = _weights(synthesized["llama"])
    assert {"WeightsBucketName", "ManifestUri"} <= set(weights.template_json["Outputs"])
    assert "StagingRoleArn" not in weights.template_json["Outputs"]
    assert weights.resources("AWS::IAM::Role") == {}


@pytest.mark.parametrize("env", OWN_BUCKET)
def test_bucket_is_named_after_the_deployments_prefix(synthesized: dict[str, Synthesized], env: str) -> None:
    prefix = synthesized[env].config.endpoint.name_prefix
    assert _bucket_name(synthesized[env]) == f"{prefix}-weights-${{AWS::AccountId}}-${{AWS::Region}}"


@pytest.mark.parametrize("env", OWN_BUCKET)
def test_the_model_reads_the_bucket_the_weights_stack_creates(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    _, model = synth.only("AWS::SageMaker::Model")
    uri = rendered(model["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri"])
    assert uri == f"s3://{_bucket_name(synth)}/{synth.config.model.weights.model_prefix}"


@pytest.mark.parametrize("env", OWN_BUCKET)
def test_the_main_stack_imports_nothing(synthesized: dict[str, Synthesized], env: str) -> None:
    assert list(_intrinsics(synthesized[env].template_json, "Fn::ImportValue")) == []


@pytest.mark.parametrize("env", OWN_BUCKET)
def test_the_weights_stack_exports_nothing(synthesized: dict[str, Synthesized], env: str) -> None:
    outputs = _weights(synthesized[env]).template_json["Outputs"]
    assert [name for name, output in outputs.items() if "Export" in output] == []


@pytest.mark.parametrize("env", OWN_BUCKET)
def test_the_main_stack_reads_only_the_key_arn_from_the_weights_stack(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    weights = _weights(synth)
    (key_id,) = weights.resources("AWS::KMS::Key")
    read = {reference["OutputName"] for reference in _intrinsics(synth.template_json, "Fn::GetStackOutput")}
    assert {name: weights.template_json["Outputs"][name]["Value"] for name in read} == {
        name: {"Fn::GetAtt": [key_id, "Arn"]} for name in read
    }
    assert len(read) == 1


@pytest.mark.parametrize("env", OWN_BUCKET)
def test_the_key_arn_read_from_the_weights_stack_is_what_the_model_may_decrypt_with(
    synthesized: dict[str, Synthesized], env: str
) -> None:
    synth = synthesized[env]
    (reference,) = list(_intrinsics(synth.template_json, "Fn::GetStackOutput"))
    _, model = synth.only("AWS::SageMaker::Model")
    role_id = model["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
    # CDK merges it with the payload key's kms:Decrypt: one statement naming both keys.
    granted = [
        statement["Action"]
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if {"Fn::GetStackOutput": reference} in _as_list(statement["Resource"])
    ]
    assert granted == ["kms:Decrypt"]


def test_weights_are_retained_in_prod_only(synthesized: dict[str, Synthesized]) -> None:
    for env, policy in (("dev", "Delete"), ("staging", "Delete"), ("prod", "Retain")):
        weights = _weights(synthesized[env])
        for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            for resource in weights.resources(resource_type).values():
                assert resource["DeletionPolicy"] == policy, (env, resource_type)
