"""The SageMaker model: TGI image per region, container environment, execution role."""

from __future__ import annotations

from aws_cdk.assertions import Match

from llm_async.model.construct import tgi_environment
from llm_async.model.dlc_table import (
    TGI_FRAMEWORK,
    _inference_table,
    tgi_image_uris,
    tgi_regions,
)
from llm_async.model.presets import (
    FALCON_40B_INSTRUCT,
    FALCON_40B_INSTRUCT_G4DN,
    QWEN2_5_7B_INSTRUCT,
)
from tests.synths import S3_WEIGHTS_URI, Synthesized

TGI_TAG = "huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"


def test_env_agnostic_image_comes_from_a_region_mapping(sandbox: Synthesized) -> None:
    _, model = sandbox.only("AWS::SageMaker::Model")
    image = model["Properties"]["PrimaryContainer"]["Image"]
    mapping_name, region, key = image["Fn::FindInMap"]
    assert (region, key) == ({"Ref": "AWS::Region"}, "uri")
    regions = sandbox.template_json["Mappings"][mapping_name]
    # DLC accounts differ by region: the mapping carries each region's own registry.
    assert regions["us-east-1"]["uri"] == f"763104351884.dkr.ecr.us-east-1.amazonaws.com/{TGI_TAG}"
    assert regions["ap-east-1"]["uri"] == f"871362719292.dkr.ecr.ap-east-1.amazonaws.com/{TGI_TAG}"
    assert regions["me-south-1"]["uri"] == f"217643126080.dkr.ecr.me-south-1.amazonaws.com/{TGI_TAG}"
    assert regions["cn-north-1"]["uri"] == f"727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/{TGI_TAG}"
    assert regions["ap-east-1"]["account"] == "871362719292"
    assert len(regions) >= 40


def test_image_table_regions_and_uris_agree_and_the_sdk_is_left_as_found() -> None:
    from sagemaker.core import common_utils, image_uris

    # The table read from the installed file is the one the SDK's own loader reads.
    assert _inference_table() == image_uris.config_for_framework(TGI_FRAMEWORK)["inference"]

    resolver = common_utils._botocore_resolver
    tgi_image_uris.cache_clear()  # resolve again here, through the block that reads the endpoints table once
    assert tuple(tgi_image_uris("3.3.6")) == tgi_regions("3.3.6")
    assert common_utils._botocore_resolver is resolver


def test_env_agnostic_stack_refuses_a_region_without_an_image(sandbox: Synthesized) -> None:
    (rule,) = [r for name, r in sandbox.template_json["Rules"].items() if name.startswith("ModelImageSupportedRegion")]
    (assertion,) = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert {"us-east-1", "ap-east-1", "cn-north-1"} <= set(regions)
    assert assertion["AssertDescription"].startswith("TGI 3.3.6 has no SageMaker image in this region; supported: af-south-1,")


def test_region_specific_stack_gets_a_plain_image_and_no_mapping(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {"PrimaryContainer": {"Image": f"763104351884.dkr.ecr.us-east-1.amazonaws.com/{TGI_TAG}"}},
    )
    assert "Mappings" not in dev.template_json
    assert set(dev.template_json["Rules"]) == {"CheckBootstrapVersion"}


def test_hub_model_environment(sandbox: Synthesized) -> None:
    sandbox.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "EnableNetworkIsolation": False,
            "PrimaryContainer": {
                "Mode": "SingleModel",
                "Environment": {
                    "HF_MODEL_ID": "Qwen/Qwen2.5-7B-Instruct",
                    "HF_MODEL_REVISION": "a09a35458c702b33eeacc393d103063234e8bc28",
                    "SM_NUM_GPUS": "1",
                    "MAX_INPUT_LENGTH": "4096",
                    "MAX_TOTAL_TOKENS": "8192",
                },
                "ModelDataSource": Match.absent(),
            },
        },
    )


def test_environment_of_the_seed_notebook_model() -> None:
    assert tgi_environment(FALCON_40B_INSTRUCT.model) == {
        "HF_MODEL_ID": "tiiuae/falcon-40b-instruct",
        "HF_MODEL_REVISION": "1e7fdcc9f45d13704f3826e99937917e007cd975",
        "SM_NUM_GPUS": "4",
        "MAX_INPUT_LENGTH": "1900",
        "MAX_TOTAL_TOKENS": "2048",
    }
    assert tgi_environment(FALCON_40B_INSTRUCT_G4DN.model)["HF_MODEL_QUANTIZE"] == "bitsandbytes"
    assert "HF_MODEL_QUANTIZE" not in tgi_environment(QWEN2_5_7B_INSTRUCT.model)


def test_s3_weights_mount_at_opt_ml_model_with_network_isolation(s3_weights: Synthesized) -> None:
    _, model = s3_weights.only("AWS::SageMaker::Model")
    props = model["Properties"]
    assert props["EnableNetworkIsolation"] is True
    container = props["PrimaryContainer"]
    assert container["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert "HF_MODEL_REVISION" not in container["Environment"]
    assert container["ModelDataSource"] == {
        "S3DataSource": {"S3Uri": S3_WEIGHTS_URI, "S3DataType": "S3Prefix", "CompressionType": "None"}
    }


def test_s3_weights_grant_is_that_prefix_only(s3_weights: Synthesized) -> None:
    statements = _role_statements(s3_weights)
    assert statements["ReadModelWeights"] == {
        "Action": "s3:GetObject",
        "Effect": "Allow",
        "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-weights-bucket/models/qwen2.5-7b/*"]]},
        "Sid": "ReadModelWeights",
    }
    assert statements["ListModelWeights"]["Condition"] == {"StringLike": {"s3:prefix": ["models/qwen2.5-7b/*"]}}


def test_execution_role_trusts_sagemaker_and_has_no_managed_policy(sandbox: Synthesized) -> None:
    sandbox.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]
            },
            "ManagedPolicyArns": Match.absent(),
        },
    )


def test_execution_role_pulls_only_the_tgi_repository(sandbox: Synthesized) -> None:
    pull = _role_statements(sandbox)["PullTgiImage"]
    assert pull["Action"] == ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    parts = pull["Resource"]["Fn::Join"][1]
    assert parts[-1] == ":repository/huggingface-pytorch-tgi-inference"
    assert parts[5]["Fn::FindInMap"][1:] == [{"Ref": "AWS::Region"}, "account"]


def test_execution_role_wildcards_only_where_iam_has_no_resource(sandbox: Synthesized) -> None:
    statements = _role_statements(sandbox)
    star = {sid for sid, s in statements.items() if s["Resource"] == "*"}
    assert star == {"EcrLogin", "PublishEndpointMetrics"}
    assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"
    assert statements["PublishEndpointMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}
    }


def test_execution_role_logs_only_to_its_endpoint_log_group(sandbox: Synthesized) -> None:
    logs = _role_statements(sandbox)["WriteEndpointLogs"]
    assert logs["Resource"]["Fn::Join"][1][-1] == ":log-group:/aws/sagemaker/Endpoints/llm-async-sandbox-g5-2xlarge:*"


def test_execution_role_payload_grants_are_one_prefix_each(sandbox: Synthesized) -> None:
    bucket_id, _ = next(
        (k, v) for k, v in sandbox.resources("AWS::S3::Bucket").items() if "LoggingConfiguration" in v["Properties"]
    )
    statements = _role_statements(sandbox)

    def objects(prefix: str) -> dict:
        return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}/*"]]}

    assert statements["s3:GetObject"]["Resource"] == objects("input")
    assert statements["s3:PutObject"]["Resource"] == [objects("failure"), objects("output")]
    key_id, _ = sandbox.only("AWS::KMS::Key", "PayloadKey")
    assert statements["kms:Decrypt,kms:GenerateDataKey"]["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    topics = sorted(k for k in sandbox.resources("AWS::SNS::Topic") if k.startswith("Notifications"))
    assert sorted(r["Ref"] for r in statements["sns:Publish"]["Resource"]) == topics


def test_model_waits_for_the_role_policy(sandbox: Synthesized) -> None:
    _, model = sandbox.only("AWS::SageMaker::Model")
    policy_id, _ = sandbox.only("AWS::IAM::Policy", "ModelExecutionRole")
    assert policy_id in model["DependsOn"]


def _role_statements(synth: Synthesized) -> dict[str, dict]:
    """Execution-role statements keyed by Sid, or by their actions where CDK grants carry no Sid."""
    _, policy = synth.only("AWS::IAM::Policy", "ModelExecutionRole")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    keyed = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        keyed[statement.get("Sid", ",".join(actions))] = statement
    assert len(keyed) == len(statements)
    return keyed
