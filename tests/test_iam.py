"""Least privilege, read from every synthesized template: proven by the policies, not claimed."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

import pytest

from llm_async.model import staged
from llm_async.model.config import S3Weights, StagedWeights
from tests.synths import Synthesized
from tests.weights.rendered import rendered

ENVS = ["sandbox", "dev", "staging", "prod", "s3-weights", "subscribed", "vpc-new", "vpc-nat", "vpc-existing", "vllm"]
# Actions AWS offers no resource-level permission for (Service Authorization Reference: "Resource
# types" is empty), so "*" is the only resource they can name. Each is acknowledged where granted.
NO_RESOURCE_LEVEL = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",  # limited by a namespace condition instead
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    # VPC mode: what SageMaker and Lambda describe before placing network interfaces.
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _roles_assumed_by(synth: Synthesized, service: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: role
        for logical_id, role in synth.resources("AWS::IAM::Role").items()
        if any(
            service in _as_list(s.get("Principal", {}).get("Service", []))
            for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        )
    }


def _statements_of(synth: Synthesized, role_id: str) -> list[dict[str, Any]]:
    role = synth.template_json["Resources"][role_id]["Properties"]
    inline = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    attached = [
        s
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    return inline + attached


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("service", ["sagemaker.amazonaws.com", "lambda.amazonaws.com"])
def test_star_resources_only_where_iam_has_no_resource_level_permission(
    synthesized: dict[str, Synthesized], env: str, service: str
) -> None:
    synth = synthesized[env]
    roles = _roles_assumed_by(synth, service)
    assert roles, f"no role assumed by {service} in {env}"
    for role_id in roles:
        for statement in _statements_of(synth, role_id):
            if "*" in _as_list(statement["Resource"]):
                assert set(_as_list(statement["Action"])) <= NO_RESOURCE_LEVEL, (role_id, statement)


@pytest.mark.parametrize("env", ["vpc-new", "vpc-existing"])
def test_network_interfaces_are_created_only_in_our_subnets_and_security_group(
    synthesized: dict[str, Synthesized], env: str
) -> None:
    synth = synthesized[env]
    for service in ("sagemaker.amazonaws.com", "lambda.amazonaws.com"):
        (role_id,) = [r for r in _roles_assumed_by(synth, service) if r.startswith(("ModelExecutionRole", "ApiFunctionRole"))]
        (create,) = [s for s in _statements_of(synth, role_id) if "ec2:CreateNetworkInterface" in _as_list(s["Action"])]
        texts = [json.dumps(resource) for resource in create["Resource"]]
        kinds = sorted(next(k for k in (":network-interface/*", ":subnet/", ":security-group/") if k in t) for t in texts)
        assert kinds.count(":network-interface/*") == 1 and kinds.count(":security-group/") == 1, texts
        assert kinds.count(":subnet/") >= 2, texts  # the private subnets, two AZs at least
        for action_statement in _statements_of(synth, role_id):
            mutating = {a for a in _as_list(action_statement["Action"]) if a.startswith("ec2:") and not a.startswith("ec2:Describe")}
            if mutating:
                assert "*" not in _as_list(action_statement["Resource"]), action_statement


@pytest.mark.parametrize("env", [e for e in ENVS if not e.startswith("vpc-")])
def test_no_aws_managed_policy_on_the_sagemaker_or_lambda_roles(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    for service in ("sagemaker.amazonaws.com", "lambda.amazonaws.com"):
        for role_id, role in _roles_assumed_by(synth, service).items():
            assert "ManagedPolicyArns" not in role["Properties"], role_id


@pytest.mark.parametrize("env", ENVS)
def test_invoke_endpoint_async_is_granted_on_exactly_one_endpoint(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    (endpoint_id, _) = synth.only("AWS::SageMaker::Endpoint")
    grants = {
        role["Ref"]: statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:InvokeEndpointAsync" in _as_list(statement["Action"])
        for role in policy["Properties"]["Roles"]
    }
    # The inference API's Lambda, and the batch jobs' SubmitChunk step: no other role invokes the endpoint.
    expected = {"ApiFunctionRole"} | ({"BatchFunctionsSubmitChunkRole"} if synth.config.batch.enabled else set())
    assert {role_id[:-8] for role_id in grants} == expected
    for statement in grants.values():
        assert statement["Resource"] == {"Ref": endpoint_id}  # Ref of an endpoint is its ARN
        # CDK merges the wake path's DescribeEndpoint on the same ARN into the API's statement.
        assert set(_as_list(statement["Action"])) <= {"sagemaker:InvokeEndpointAsync", "sagemaker:DescribeEndpoint"}


# What a state machine's role needs "*" for: CloudWatch Logs' vended log delivery (Step Functions logging) and X-Ray.
STATES_NO_RESOURCE_LEVEL = {
    "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
    "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
}  # fmt: skip


@pytest.mark.parametrize("env", ENVS)
def test_the_batch_state_machine_names_a_resource_wherever_iam_allows(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    (role_id,) = _roles_assumed_by(synth, "states.amazonaws.com")
    # Every policy of the role: its default policy and the Distributed Map's (attached to it by CDK).
    statements = _statements_of(synth, role_id)
    for statement in statements:
        if "*" in _as_list(statement["Resource"]):
            assert set(_as_list(statement["Action"])) <= STATES_NO_RESOURCE_LEVEL, statement
    # Its only S3 access: reading a batch's items under batches/.
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
    assert [(s["Action"], s["Resource"]["Fn::Join"][1][1]) for s in s3] == [("s3:GetObject", "/batches/*")]


@pytest.mark.parametrize("env", ENVS)
def test_no_batch_role_reads_or_writes_the_whole_payload_bucket(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    (bucket_id,) = [k for k in synth.resources("AWS::S3::Bucket") if k.startswith("Payloads") and "AccessLogs" not in k]
    for policy_id, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for resource in _as_list(statement["Resource"]):
                text = json.dumps(resource)
                if bucket_id in text and "Fn::Join" in text:
                    # Object ARNs name one prefix: <bucket ARN>/<prefix>/*, never <bucket ARN>/*.
                    suffix = resource["Fn::Join"][1][1]
                    assert re.fullmatch(r"/(input|output|failure|files|batches)/\*", suffix), (policy_id, statement)


@pytest.mark.parametrize("env", ENVS)
def test_no_statement_allows_every_action_of_a_service(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in _as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), (statement, action)


@pytest.mark.parametrize("env", ["vpc-new", "vpc-nat"])
def test_only_cdks_default_group_custom_resource_has_a_managed_policy(
    synthesized: dict[str, Synthesized], env: str
) -> None:
    # Every role of the stack (tests/test_iam.py checks the SageMaker and Lambda roles outside VPC mode).
    synth = synthesized[env]
    managed = [k for k, r in synth.resources("AWS::IAM::Role").items() if "ManagedPolicyArns" in r["Properties"]]
    # API Gateway's account logging role (acknowledged), and the provider of Custom::VpcRestrictDefaultSG.
    assert sorted(m.split("Role")[0] for m in managed) == [
        "ApiCloudWatch",
        "CustomVpcRestrictDefaultSGCustomResourceProvider",
    ]
    assert len(synth.resources("Custom::VpcRestrictDefaultSG")) == 1


# Weights read from S3 (S3Weights, StagedWeights): the model's role reads its weights' prefix, and the payloads' input/.

WEIGHTS_FROM_S3 = ["dev", "staging", "prod", "s3-weights", "vpc-new", "llama"]


def _weights_prefix_arn(synth: Synthesized) -> tuple[str, str]:
    """The bucket ARN and the object-prefix ARN the model's weights are read from, as `rendered` writes them."""
    weights = synth.config.model.weights
    if isinstance(weights, S3Weights):
        bucket, prefix = weights.bucket_name, weights.key_prefix
    else:
        assert isinstance(weights, StagedWeights)
        bucket, prefix = weights.bucket_name, weights.model_prefix
        if weights.own_bucket:
            bucket = staged.own_bucket_name(synth.config.endpoint.name_prefix, "${AWS::AccountId}", "${AWS::Region}")
    bucket_arn = f"arn:${{AWS::Partition}}:s3:::{bucket}"
    return bucket_arn, f"{bucket_arn}/{prefix}*"


def _model_role_s3_statements(synth: Synthesized, action: str) -> list[dict[str, Any]]:
    """The model role's statements whose actions include `action`, by name or by wildcard."""
    _, model = synth.only("AWS::SageMaker::Model")
    role_id = model["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
    return [
        statement
        for statement in _statements_of(synth, role_id)
        if statement.get("Effect", "Allow") == "Allow"
        and any(fnmatchcase(action.lower(), pattern.lower()) for pattern in _as_list(statement["Action"]))
    ]


def test_the_weights_from_s3_list_is_every_synth_whose_model_reads_s3(synthesized: dict[str, Synthesized]) -> None:
    reads_s3 = {name for name, synth in synthesized.items() if isinstance(synth.config.model.weights, (S3Weights, StagedWeights))}
    assert reads_s3 == set(WEIGHTS_FROM_S3)


@pytest.mark.parametrize("env", WEIGHTS_FROM_S3)
def test_the_model_reads_objects_only_under_its_weights_prefix_and_the_payload_input(
    synthesized: dict[str, Synthesized], env: str
) -> None:
    synth = synthesized[env]
    ((payloads_id, _),) = [
        (k, v) for k, v in synth.resources("AWS::S3::Bucket").items() if k.startswith("Payloads") and not k.startswith("PayloadsAccessLogs")
    ]
    _, weights_objects = _weights_prefix_arn(synth)
    reads = [rendered(r) for s in _model_role_s3_statements(synth, "s3:GetObject") for r in _as_list(s["Resource"])]
    assert sorted(reads) == sorted([weights_objects, f"${{{payloads_id}.Arn}}/input/*"])


@pytest.mark.parametrize("env", WEIGHTS_FROM_S3)
def test_the_model_lists_only_its_weights_prefix(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    bucket_arn, objects = _weights_prefix_arn(synth)
    prefix = objects.removeprefix(f"{bucket_arn}/")
    (listing,) = _model_role_s3_statements(synth, "s3:ListBucket")
    assert (rendered(listing["Resource"]), listing["Condition"]) == (bucket_arn, {"StringLike": {"s3:prefix": [prefix]}})
