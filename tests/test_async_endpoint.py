"""The endpoint config (async inference) and the endpoint."""

from __future__ import annotations

from tests.synths import Synthesized


def _config(synth: Synthesized) -> tuple[str, dict]:
    return synth.only("AWS::SageMaker::EndpointConfig")


def test_one_variant_starting_with_one_instance(sandbox: Synthesized) -> None:
    _, config = _config(sandbox)
    model_id, _ = sandbox.only("AWS::SageMaker::Model")
    assert config["Properties"]["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": {"Fn::GetAtt": [model_id, "ModelName"]},
            "InstanceType": "ml.g5.2xlarge",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 1,
            "ContainerStartupHealthCheckTimeoutInSeconds": 600,
            "ModelDataDownloadTimeoutInSeconds": 600,
        }
    ]


def test_async_output_to_the_payload_bucket_with_kms_and_topics(sandbox: Synthesized) -> None:
    bucket_id = next(k for k, v in sandbox.resources("AWS::S3::Bucket").items() if "LoggingConfiguration" in v["Properties"])
    key_id, _ = sandbox.only("AWS::KMS::Key", "PayloadKey")
    success_id = next(k for k in sandbox.resources("AWS::SNS::Topic") if "Success" in k)
    error_id = next(k for k in sandbox.resources("AWS::SNS::Topic") if "Error" in k)
    assert _config(sandbox)[1]["Properties"]["AsyncInferenceConfig"] == {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
        "OutputConfig": {
            "S3OutputPath": {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/output/"]]},
            "S3FailurePath": {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/failure/"]]},
            "KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
            "NotificationConfig": {"SuccessTopic": {"Ref": success_id}, "ErrorTopic": {"Ref": error_id}},
        },
    }


def test_endpoint_config_waits_for_the_role_policy(sandbox: Synthesized) -> None:
    # SageMaker checks at CreateEndpointConfig that the role may publish to the topics.
    policy_id, _ = sandbox.only("AWS::IAM::Policy", "ModelExecutionRole")
    role_id = next(k for k in sandbox.resources("AWS::IAM::Role") if k.startswith("ModelExecutionRole"))
    assert {policy_id, role_id} <= set(_config(sandbox)[1]["DependsOn"])


def test_endpoint_name_and_config(sandbox: Synthesized, prod: Synthesized) -> None:
    config_id, _ = _config(sandbox)
    sandbox.template.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "EndpointName": "llm-async-sandbox-g5-2xlarge",
            "EndpointConfigName": {"Fn::GetAtt": [config_id, "EndpointConfigName"]},
            # Keeps the autoscaled instance count when a model change updates the endpoint in place.
            "RetainAllVariantProperties": True,
        },
    )
    prod.template.has_resource_properties("AWS::SageMaker::Endpoint", {"EndpointName": "llm-async-prod-g5-2xlarge"})


def test_outputs(sandbox: Synthesized) -> None:
    outputs = sandbox.template_json["Outputs"]
    assert outputs["EndpointName"]["Value"] == "llm-async-sandbox-g5-2xlarge"
    assert set(outputs) == {
        "ApiUrl",
        "EndpointName",
        "PayloadBucketName",
        "SuccessTopicArn",
        "ErrorTopicArn",
        "OpsTopicArn",
        "DashboardName",
    }
