"""`ServingModel` alone: the container and its environment, Hub, S3 or staged weights, an execution role scoped to one endpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk.assertions import Match

from llm_async.deployment import DeploymentConfig
from llm_async.environments import ENVIRONMENTS
from llm_async.model.capacity import capacity_metadata
from llm_async.model.config import S3Weights, StagedWeights
from llm_async.model.construct import ServingModel
from llm_async.model.environment import CONTAINER_MODEL_DIR, container_environment, tgi_environment, vllm_environment
from llm_async.model.instance_types import GPU_INSTANCE_TYPES
from llm_async.model.presets import FALCON_40B_INSTRUCT, FALCON_40B_INSTRUCT_G4DN, PRESETS, QWEN2_5_7B_INSTRUCT
from tests.compliance.acknowledged import acknowledged
from tests.constructs import Parts, bare_stack, template
from tests.helpers import BuiltStack, agnostic_arn
from tests.weights.rendered import rendered

S3_WEIGHTS_URI = "s3://my-weights-bucket/models/qwen2.5-7b/"
ENDPOINT_NAME = "llm-async-sandbox-g5-2xlarge"
ROLE_PATH = "Model/ExecutionRole"
INLINE_POLICY_FINDINGS = {f"{pack}-IAMNoInlinePolicy" for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")}
LOG_GROUP_FINDING = (
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
    f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}:*]"
)


@dataclass(frozen=True)
class Built(BuiltStack):
    model: ServingModel
    acknowledged: dict[tuple[str, str], str]
    """(construct path, finding) → evidence, as the cloud assembly records them."""

    def statements(self) -> dict[str, dict[str, Any]]:
        """The execution role's statements by Sid."""
        (policy,) = self.template.find_resources("AWS::IAM::Policy").values()
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        keyed = {statement["Sid"]: statement for statement in statements}
        assert len(keyed) == len(statements)
        return keyed

    def model_resource(self) -> dict[str, Any]:
        (resource,) = self.template.find_resources("AWS::SageMaker::Model").values()
        return resource


def _build(region: str | None, config: DeploymentConfig) -> Built:
    stack = bare_stack(region=region, account=None if region is None else "123456789012")
    model = Parts(stack, config).model
    return Built(stack, template(stack), model, acknowledged(stack))


@pytest.fixture(scope="module")
def hub() -> Built:
    """The sandbox: Hub weights, environment-agnostic."""
    return _build(None, ENVIRONMENTS["sandbox"]())


@pytest.fixture(scope="module")
def s3() -> Built:
    """S3 weights in a concrete region."""
    sandbox = ENVIRONMENTS["sandbox"]()
    model = dataclasses.replace(sandbox.model, weights=S3Weights(S3_WEIGHTS_URI))
    return _build("us-east-1", dataclasses.replace(sandbox, model=model, region="us-east-1"))


# The TGI launcher's environment.


def test_environment_of_the_seed_notebook_model() -> None:
    assert tgi_environment(FALCON_40B_INSTRUCT.model) == {
        "HF_MODEL_ID": "tiiuae/falcon-40b-instruct",
        "HF_MODEL_REVISION": "1e7fdcc9f45d13704f3826e99937917e007cd975",
        "SM_NUM_GPUS": "4",
        "MAX_INPUT_TOKENS": "1900",
        "MAX_TOTAL_TOKENS": "2048",
        "USAGE_STATS": "off",
    }


def test_quantization_is_set_only_when_configured() -> None:
    assert tgi_environment(FALCON_40B_INSTRUCT_G4DN.model)["HF_MODEL_QUANTIZE"] == "bitsandbytes"
    assert "HF_MODEL_QUANTIZE" not in tgi_environment(QWEN2_5_7B_INSTRUCT.model)


def test_s3_weights_are_served_from_the_mount_point_without_a_revision() -> None:
    model = dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, weights=S3Weights(S3_WEIGHTS_URI))
    assert tgi_environment(model) == {
        "HF_MODEL_ID": "/opt/ml/model",
        "SM_NUM_GPUS": "1",
        "MAX_INPUT_TOKENS": "4096",
        "MAX_TOTAL_TOKENS": "8192",
        "USAGE_STATS": "off",
    }
    assert CONTAINER_MODEL_DIR == "/opt/ml/model"


# Hub weights: downloaded by the container at start.


def test_hub_model_runs_the_tgi_image_with_its_environment_and_network_access(hub: Built) -> None:
    hub.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            # The container downloads the weights from huggingface.co: isolation would forbid it.
            "EnableNetworkIsolation": False,
            "ExecutionRoleArn": hub.ref(hub.model.role.role_arn),
            "PrimaryContainer": {
                "Image": hub.ref(hub.model.image.image_uri),
                "Mode": "SingleModel",
                "Environment": {
                    "HF_MODEL_ID": "Qwen/Qwen2.5-7B-Instruct",
                    "HF_MODEL_REVISION": "a09a35458c702b33eeacc393d103063234e8bc28",
                    "SM_NUM_GPUS": "1",
                    "MAX_INPUT_TOKENS": "4096",
                    "MAX_TOTAL_TOKENS": "8192",
                    "USAGE_STATS": "off",
                },
                "ModelDataSource": Match.absent(),
            },
            "VpcConfig": Match.absent(),
        },
    )


def test_env_agnostic_model_takes_its_image_from_the_region_mapping(hub: Built) -> None:
    image = hub.model_resource()["Properties"]["PrimaryContainer"]["Image"]
    mapping, region, key = image["Fn::FindInMap"]
    assert (region, key) == ({"Ref": "AWS::Region"}, "uri")
    assert mapping in hub.template.to_json()["Mappings"]


def test_hub_model_records_why_network_isolation_is_off_for_checkov(hub: Built) -> None:
    (skip,) = hub.model_resource()["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_370"
    assert "Hugging Face Hub" in skip["comment"]


# S3 weights: mounted by SageMaker, so the container needs no network.


def test_s3_weights_mount_at_opt_ml_model_with_network_isolation(s3: Built) -> None:
    props = s3.model_resource()["Properties"]
    assert props["EnableNetworkIsolation"] is True
    container = props["PrimaryContainer"]
    assert container["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert "HF_MODEL_REVISION" not in container["Environment"]
    assert container["ModelDataSource"] == {
        "S3DataSource": {"S3Uri": S3_WEIGHTS_URI, "S3DataType": "S3Prefix", "CompressionType": "None"}
    }


def test_region_specific_model_gets_a_plain_image(s3: Built) -> None:
    image = s3.model_resource()["Properties"]["PrimaryContainer"]["Image"]
    assert (
        image == "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference"
        ":2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    )
    assert "Mappings" not in s3.template.to_json()


def test_s3_weights_model_has_no_checkov_skip(s3: Built) -> None:
    assert "checkov" not in s3.model_resource().get("Metadata", {})


def test_s3_weights_grant_is_that_prefix_only(s3: Built) -> None:
    statements = s3.statements()
    assert statements["ReadModelWeights"] == {
        "Action": "s3:GetObject",
        "Effect": "Allow",
        "Resource": {
            "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-weights-bucket/models/qwen2.5-7b/*"]]
        },
        "Sid": "ReadModelWeights",
    }
    assert statements["ListModelWeights"] == {
        "Action": "s3:ListBucket",
        "Condition": {"StringLike": {"s3:prefix": ["models/qwen2.5-7b/*"]}},
        "Effect": "Allow",
        "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-weights-bucket"]]},
        "Sid": "ListModelWeights",
    }


def test_hub_weights_get_no_s3_grant(hub: Built) -> None:
    assert not {"ReadModelWeights", "ListModelWeights"} & set(hub.statements())


def test_s3_weights_prefix_wildcard_is_acknowledged_at_the_role(s3: Built) -> None:
    finding = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::my-weights-bucket/models/qwen2.5-7b/*]"
    assert "weights prefix" in s3.acknowledged[(ROLE_PATH, finding)]


# The execution role.


def test_execution_role_trusts_sagemaker_and_has_no_managed_policy(hub: Built) -> None:
    hub.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
                ]
            },
            "Description": f"SageMaker execution role of the {ENDPOINT_NAME} async endpoint",
            "ManagedPolicyArns": Match.absent(),
        },
    )
    hub.template.resource_count_is("AWS::IAM::Role", 1)


def test_execution_role_pulls_only_the_tgi_repository(hub: Built) -> None:
    pull = hub.statements()["PullTgiImage"]
    assert pull["Action"] == ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert pull["Resource"] == hub.ref(hub.model.image.repository_arn)
    assert pull["Resource"]["Fn::Join"][1][-1] == ":repository/huggingface-pytorch-tgi-inference"


def test_execution_role_wildcards_only_where_iam_has_no_resource(hub: Built, s3: Built) -> None:
    for built in (hub, s3):
        statements = built.statements()
        assert {sid for sid, s in statements.items() if s["Resource"] == "*"} == {"EcrLogin", "PublishEndpointMetrics"}
    statements = hub.statements()
    assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"
    assert statements["PublishEndpointMetrics"]["Action"] == "cloudwatch:PutMetricData"
    assert statements["PublishEndpointMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}
    }


def test_execution_role_logs_only_to_its_endpoint_log_group(hub: Built) -> None:
    logs = hub.statements()["WriteEndpointLogs"]
    assert logs["Action"] == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert logs["Resource"] == agnostic_arn("logs", f"log-group:/aws/sagemaker/Endpoints/{ENDPOINT_NAME}:*")
    assert hub.ref(hub.model.endpoint_log_group_arn) == logs["Resource"]


def test_execution_role_has_no_network_interface_permissions_without_a_network(hub: Built) -> None:
    actions = {
        a for s in hub.statements().values() for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert not {a for a in actions if a.startswith("ec2:")}


def test_model_waits_for_the_role_and_its_policy(hub: Built) -> None:
    # CreateModel checks that the role can pull the image.
    (policy_id,) = hub.template.find_resources("AWS::IAM::Policy")
    (role_id,) = hub.template.find_resources("AWS::IAM::Role")
    assert {policy_id, role_id} <= set(hub.model_resource()["DependsOn"])


def test_role_acknowledgments_are_the_wildcards_and_the_inline_policy(hub: Built) -> None:
    assert {path for path, _ in hub.acknowledged} == {ROLE_PATH}
    assert {finding for _, finding in hub.acknowledged} == {
        "AwsSolutions-IAM5[Resource::*]",
        LOG_GROUP_FINDING,
        *INLINE_POLICY_FINDINGS,
    }
    assert "no resource-level permissions" in hub.acknowledged[(ROLE_PATH, "AwsSolutions-IAM5[Resource::*]")]
    # VPC mode (tests/network/test_vpc_mode.py) adds the ec2 Describe* actions to this evidence.
    assert "VPC mode" not in hub.acknowledged[(ROLE_PATH, "AwsSolutions-IAM5[Resource::*]")]
    assert all(len(reason) > 60 for reason in hub.acknowledged.values())


# vLLM (AWS's vLLM DLC): SM_VLLM_* variables become `vllm serve` flags (docs/design/vllm-engine.md §2).


def test_vllm_environment_of_the_default_model_on_vllm() -> None:
    assert container_environment(PRESETS["qwen2-5-7b-instruct-vllm"].model) == {
        "HF_MODEL_ID": "Qwen/Qwen2.5-7B-Instruct",
        # The DLC does not read HF_MODEL_REVISION: the pin is vLLM's own --revision.
        "SM_VLLM_REVISION": QWEN2_5_7B_INSTRUCT.model.weights.revision,
        "SM_VLLM_TENSOR_PARALLEL_SIZE": "1",
        "SM_VLLM_MAX_MODEL_LEN": "8192",
        "SM_VLLM_GENERATION_CONFIG": "vllm",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "OPT_OUT_TRACKING": "true",
    }


def test_vllm_serves_s3_weights_offline_and_names_its_quantization() -> None:
    model = dataclasses.replace(
        PRESETS["qwen2-5-7b-instruct-vllm"].model, weights=S3Weights("s3://weights/qwen/"), quantize="awq"
    )
    env = vllm_environment(model)
    assert (env["HF_HUB_OFFLINE"], env["SM_VLLM_QUANTIZATION"]) == ("1", "awq")
    assert "HF_MODEL_ID" not in env and "SM_VLLM_REVISION" not in env  # the DLC serves a non-empty /opt/ml/model


def test_a_vllm_model_pulls_the_vllm_repository_only() -> None:
    stack = bare_stack(region="us-east-1")
    config = dataclasses.replace(ENVIRONMENTS["sandbox"](), model=PRESETS["qwen2-5-7b-instruct-vllm"].model)
    model = Parts(stack, config).model
    policy = template(stack).find_resources("AWS::IAM::Policy")[stack.resolve(model.role.node.find_child("DefaultPolicy").node.default_child.logical_id)]
    (pull,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "PullVllmImage"]
    assert pull["Resource"] == "arn:aws:ecr:us-east-1:763104351884:repository/vllm"  # the region's registry account


# Staged weights (issue 14): the revision's model/ prefix of the deployment's own bucket (a WeightsStore beside the
# model, as LlmAsyncWeightsStack holds it) or of an existing bucket, copied to /opt/ml/model, network isolation on.

QWEN, QWEN_SHA = "Qwen/Qwen2.5-7B-Instruct", "a09a35458c702b33eeacc393d103063234e8bc28"
MODEL_PREFIX = f"hub/{QWEN}/{QWEN_SHA}/model/"
MANIFEST_KEY = f"hub/{QWEN}/{QWEN_SHA}/manifest.json"
TEAM_BUCKET = "team-weights"
TEAM_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# What the model's role has whatever its weights: the image, the ECR login, its log group, its metrics.
BASE_SIDS = {"PullTgiImage", "EcrLogin", "WriteEndpointLogs", "PublishEndpointMetrics"}
# The own bucket's name, with the account and region as pseudo parameters (staged.own_bucket_name).
OWN_BUCKET = "llm-async-prod-weights-${AWS::AccountId}-${AWS::Region}"


def _weights_statements(built: Built) -> list[dict[str, Any]]:
    """The role's statements beyond those every model has (the own bucket's grants carry no Sid)."""
    (policy,) = built.template.find_resources("AWS::IAM::Policy").values()
    return [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") not in BASE_SIDS]


def _sandbox_with(weights: object) -> DeploymentConfig:
    sandbox = ENVIRONMENTS["sandbox"]()
    return dataclasses.replace(sandbox, model=dataclasses.replace(sandbox.model, weights=weights), region="us-east-1")


@pytest.fixture(scope="module")
def staged() -> Built:
    """prod: StagedWeights in the deployment's own bucket (Parts builds the WeightsStore in the same stack)."""
    config = ENVIRONMENTS["prod"]()
    assert isinstance(config.model.weights, StagedWeights) and config.model.weights.own_bucket
    return _build("us-east-1", config)


@pytest.fixture(scope="module")
def staged_existing() -> Built:
    """StagedWeights in an existing bucket encrypted with its own customer-managed key."""
    return _build("us-east-1", _sandbox_with(StagedWeights(QWEN, QWEN_SHA, bucket_name=TEAM_BUCKET, kms_key_arn=TEAM_KEY_ARN)))


@pytest.fixture(scope="module")
def s3_kms() -> Built:
    """S3 weights in a bucket encrypted with a customer-managed key."""
    return _build("us-east-1", _sandbox_with(S3Weights(S3_WEIGHTS_URI, kms_key_arn=TEAM_KEY_ARN)))


def test_staged_weights_are_read_from_the_own_buckets_model_prefix(staged: Built) -> None:
    source = staged.model_resource()["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert rendered(source["S3Uri"]) == f"s3://{OWN_BUCKET}/{MODEL_PREFIX}"


def test_staged_weights_are_a_prefix_copied_uncompressed(staged: Built) -> None:
    source = staged.model_resource()["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")
    assert set(source) == {"S3Uri", "S3DataType", "CompressionType"}


def test_staged_weights_are_served_from_the_mount_point(staged: Built) -> None:
    environment = staged.model_resource()["Properties"]["PrimaryContainer"]["Environment"]
    assert environment["HF_MODEL_ID"] == CONTAINER_MODEL_DIR
    assert "HF_MODEL_REVISION" not in environment


def test_staged_weights_run_network_isolated(staged: Built) -> None:
    assert staged.model_resource()["Properties"]["EnableNetworkIsolation"] is True


def test_staged_weights_model_has_no_checkov_skip(staged: Built) -> None:
    skips = staged.model_resource().get("Metadata", {}).get("checkov", {}).get("skip", [])
    assert [skip["id"] for skip in skips if skip["id"] == "CKV_AWS_370"] == []


def test_staged_weights_role_reads_the_model_prefix_of_the_own_bucket_only(staged: Built) -> None:
    key_id = staged.stack.get_logical_id(staged.stack.node.find_child("Weights").key.node.default_child)
    statements = [{**s, "Resource": rendered(s["Resource"])} for s in _weights_statements(staged)]
    assert statements == [
        {"Action": "s3:GetObject", "Effect": "Allow", "Resource": f"arn:${{AWS::Partition}}:s3:::{OWN_BUCKET}/{MODEL_PREFIX}*"},
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": [f"{MODEL_PREFIX}*"]}},
            "Effect": "Allow",
            "Resource": f"arn:${{AWS::Partition}}:s3:::{OWN_BUCKET}",
        },
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": f"${{{key_id}.Arn}}"},
    ]


def test_staged_weights_leave_the_own_buckets_key_policy_alone(staged: Built) -> None:
    # The grant is on the role: the key policy keeps only the account's root statement.
    (key,) = staged.template.find_resources("AWS::KMS::Key").values()
    (statement,) = key["Properties"]["KeyPolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}


def test_staged_weights_prefix_wildcard_is_acknowledged_at_the_role(staged: Built) -> None:
    finding = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::llm-async-prod-weights-<AWS::AccountId>-<AWS::Region>"
        f"/{MODEL_PREFIX}*]"
    )
    assert MODEL_PREFIX in staged.acknowledged[(ROLE_PATH, finding)]


def test_staged_weights_metadata_names_the_source_size_and_manifest(staged: Built) -> None:
    metadata = staged.model_resource()["Metadata"]["LlmAsync::Weights"]
    assert {**metadata, "Manifest": rendered(metadata["Manifest"])} == {
        "Source": "s3",
        "Bytes": ENVIRONMENTS["prod"]().model.weights_bytes,
        "Manifest": f"s3://{OWN_BUCKET}/{MANIFEST_KEY}",
    }


def test_model_metadata_names_its_capacity_on_the_instance(staged: Built) -> None:
    config = ENVIRONMENTS["prod"]()
    expected = capacity_metadata(config.model, GPU_INSTANCE_TYPES[config.endpoint.instance_type], config.token_budget.default)
    assert staged.model_resource()["Metadata"]["LlmAsync::Capacity"] == expected
    assert expected["Engine"] == "tgi" and expected["WeightsBytes"] == config.model.weights_bytes


def test_hub_weights_metadata_names_the_hub_and_no_manifest(hub: Built) -> None:
    # A None value is left out of the template.
    assert hub.model_resource()["Metadata"]["LlmAsync::Weights"] == {
        "Source": "hub",
        "Bytes": ENVIRONMENTS["sandbox"]().model.weights_bytes,
    }


def test_staged_weights_in_an_existing_bucket_are_read_from_it(staged_existing: Built) -> None:
    source = staged_existing.model_resource()["Properties"]["PrimaryContainer"]["ModelDataSource"]
    assert source == {
        "S3DataSource": {"S3Uri": f"s3://{TEAM_BUCKET}/{MODEL_PREFIX}", "S3DataType": "S3Prefix", "CompressionType": "None"}
    }
    assert staged_existing.model_resource()["Properties"]["EnableNetworkIsolation"] is True


def test_staged_weights_in_an_existing_bucket_get_no_weights_store(staged_existing: Built) -> None:
    staged_existing.template.resource_count_is("AWS::S3::Bucket", 0)
    staged_existing.template.resource_count_is("AWS::KMS::Key", 0)


def test_staged_weights_in_an_existing_bucket_grant_that_prefix_and_its_key(staged_existing: Built) -> None:
    statements = staged_existing.statements()
    assert set(statements) == BASE_SIDS | {"ReadModelWeights", "ListModelWeights", "DecryptModelWeights"}
    assert rendered(statements["ReadModelWeights"]["Resource"]) == f"arn:${{AWS::Partition}}:s3:::{TEAM_BUCKET}/{MODEL_PREFIX}*"
    assert statements["ReadModelWeights"]["Action"] == "s3:GetObject"
    assert rendered(statements["ListModelWeights"]["Resource"]) == f"arn:${{AWS::Partition}}:s3:::{TEAM_BUCKET}"
    assert statements["ListModelWeights"]["Condition"] == {"StringLike": {"s3:prefix": [f"{MODEL_PREFIX}*"]}}
    assert statements["DecryptModelWeights"] == {
        "Action": "kms:Decrypt", "Effect": "Allow", "Resource": TEAM_KEY_ARN, "Sid": "DecryptModelWeights"
    }


def test_staged_weights_in_an_existing_bucket_name_its_manifest(staged_existing: Built) -> None:
    metadata = staged_existing.model_resource()["Metadata"]["LlmAsync::Weights"]
    assert metadata == {"Source": "s3", "Bytes": ENVIRONMENTS["sandbox"]().model.weights_bytes, "Manifest": f"s3://{TEAM_BUCKET}/{MANIFEST_KEY}"}


def test_s3_weights_with_a_key_may_decrypt_with_that_key_only(s3_kms: Built) -> None:
    assert s3_kms.statements()["DecryptModelWeights"] == {
        "Action": "kms:Decrypt", "Effect": "Allow", "Resource": TEAM_KEY_ARN, "Sid": "DecryptModelWeights"
    }


def test_s3_weights_without_a_key_get_no_kms_grant(s3: Built) -> None:
    actions = [a for st in s3.statements().values() for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])]
    assert [a for a in actions if a.startswith("kms:")] == []


def test_s3_weights_have_no_manifest(s3_kms: Built) -> None:
    # Only the staging command writes a manifest; a None value is left out of the template.
    assert s3_kms.model_resource()["Metadata"]["LlmAsync::Weights"] == {
        "Source": "s3", "Bytes": ENVIRONMENTS["sandbox"]().model.weights_bytes
    }


def test_staged_weights_in_the_own_bucket_need_a_weights_store() -> None:
    config = ENVIRONMENTS["prod"]()
    stack = bare_stack()
    with pytest.raises(ValueError, match="^StagedWeights without a bucket_name read from the deployment's WeightsStore: pass weights_store$"):
        ServingModel(
            stack, "Model", model=config.model, endpoint_name=config.endpoint.endpoint_name,
            instance_type=config.endpoint.instance_type, default_new_tokens=config.token_budget.default, weights_store=None,
        )
