"""`AsyncEndpoint` alone with its collaborators: endpoint config, endpoint, log group, grants and `metric*` methods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match

from llm_async.endpoint import metrics
from llm_async.endpoint.construct import AsyncEndpoint
from llm_async.environments import ENVIRONMENTS
from tests.compliance.acknowledged import acknowledged, under
from tests.constructs import Parts, bare_stack, template
from tests.helpers import BuiltStack

ENDPOINT_NAME = "llm-async-sandbox-g5-2xlarge"


@dataclass(frozen=True)
class Built(BuiltStack):
    parts: Parts
    grantee: iam.Role
    acknowledged: dict[tuple[str, str], str]

    @property
    def endpoint(self) -> AsyncEndpoint:
        return self.parts.endpoint

    def logical_id(self, construct: Any) -> str:
        """Of a construct, or of a CloudFormation element itself."""
        return self.stack.get_logical_id(
            construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
        )

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        (item,) = self.template.find_resources(resource_type).items()
        return item

    def role_statements(self, role: iam.IRole) -> list[dict[str, Any]]:
        """The statements of the default policy CDK attaches to `role`."""
        (policy,) = [
            p
            for p in self.template.find_resources("AWS::IAM::Policy").values()
            if p["Properties"]["Roles"] == [self.ref(role.role_name)]
        ]
        return policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.fixture(scope="module")
def sandbox() -> Built:
    stack = bare_stack()
    parts = Parts(stack, ENVIRONMENTS["sandbox"]())
    # A caller of the endpoint's grant methods, as the API's function role is.
    grantee = iam.Role(stack, "Grantee", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    parts.endpoint.grant_invoke_async(grantee)
    parts.endpoint.grant_describe(grantee)
    return Built(stack, template(stack), parts, grantee, acknowledged(stack))


# The endpoint config.


def test_one_variant_starting_with_one_instance(sandbox: Built) -> None:
    _, config = sandbox.only("AWS::SageMaker::EndpointConfig")
    assert config["Properties"]["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": {"Fn::GetAtt": [sandbox.logical_id(sandbox.parts.model.cfn_model), "ModelName"]},
            "InstanceType": "ml.g5.2xlarge",
            # SageMaker requires at least one at creation; the scaling policies take it to zero.
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 1,
            "ContainerStartupHealthCheckTimeoutInSeconds": 600,
            "ModelDataDownloadTimeoutInSeconds": 600,
        }
    ]


def test_async_output_to_the_payload_bucket_with_kms_and_topics(sandbox: Built) -> None:
    bucket_id = sandbox.logical_id(sandbox.parts.payloads.bucket)
    _, config = sandbox.only("AWS::SageMaker::EndpointConfig")
    assert config["Properties"]["AsyncInferenceConfig"] == {
        # The requests of a typical prompt and the default budget TGI's KV cache holds on the A10G (model/capacity.py).
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 84},
        "OutputConfig": {
            "S3OutputPath": {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/output/"]]},
            "S3FailurePath": {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/failure/"]]},
            "KmsKeyId": sandbox.ref(sandbox.parts.key.key_arn),
            "NotificationConfig": {
                "SuccessTopic": sandbox.ref(sandbox.parts.topics.success_topic.topic_arn),
                "ErrorTopic": sandbox.ref(sandbox.parts.topics.error_topic.topic_arn),
            },
        },
    }


def test_endpoint_config_has_no_kms_key_of_its_own_on_an_nvme_instance_and_says_why(sandbox: Built) -> None:
    # SageMaker rejects an endpoint-config KmsKeyId for instances with local NVMe storage.
    sandbox.template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"KmsKeyId": Match.absent(), "ProductionVariants": [Match.object_like({"VolumeSizeInGB": Match.absent()})]},
    )
    # Nothing else of the endpoint is acknowledged.
    assert {(path, finding) for path, finding in under(sandbox.acknowledged, "Endpoint")} == {
        ("Endpoint/Config", f"{pack}-SageMakerEndpointConfigurationKMSKeyConfigured")
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
    }
    assert (
        "ml.g5.2xlarge has local NVMe"
        in sandbox.acknowledged[("Endpoint/Config", "HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured")]
    )


def test_endpoint_config_waits_for_the_role_policy(sandbox: Built) -> None:
    # SageMaker checks at CreateEndpointConfig that the role may publish to the topics.
    role = sandbox.parts.model.role
    policy_id = sandbox.logical_id(role.node.find_child("DefaultPolicy"))
    _, config = sandbox.only("AWS::SageMaker::EndpointConfig")
    assert {policy_id, sandbox.logical_id(role)} <= set(config["DependsOn"])


# The endpoint.


def test_endpoint_name_and_config(sandbox: Built) -> None:
    config_id, _ = sandbox.only("AWS::SageMaker::EndpointConfig")
    sandbox.template.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "EndpointName": ENDPOINT_NAME,
            "EndpointConfigName": {"Fn::GetAtt": [config_id, "EndpointConfigName"]},
            # Keeps the autoscaled instance count when a model change updates the endpoint in place.
            "RetainAllVariantProperties": True,
        },
    )


def test_endpoint_name_is_read_as_a_reference_so_callers_switch_after_a_replacement(sandbox: Built) -> None:
    endpoint_id, _ = sandbox.only("AWS::SageMaker::Endpoint")
    assert sandbox.ref(sandbox.endpoint.endpoint_name_ref) == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}
    assert sandbox.ref(sandbox.endpoint.endpoint_arn) == {"Ref": endpoint_id}
    assert (sandbox.endpoint.endpoint_name, sandbox.endpoint.variant_name) == (ENDPOINT_NAME, "AllTraffic")


def test_endpoint_log_group_exists_before_the_endpoint_with_retention_and_the_log_key(sandbox: Built) -> None:
    log_group_id, log_group = sandbox.only("AWS::Logs::LogGroup")
    assert log_group["Properties"] == {
        "LogGroupName": f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}",
        "RetentionInDays": 7,
        "KmsKeyId": sandbox.ref(sandbox.parts.logs.encryption_key.key_arn),
    }
    _, endpoint = sandbox.only("AWS::SageMaker::Endpoint")
    # Else SageMaker creates the group on first write, with no retention and no key.
    assert log_group_id in endpoint["DependsOn"]


def test_endpoint_log_group_is_kept_when_a_new_instance_type_replaces_it(sandbox: Built) -> None:
    _, log_group = sandbox.only("AWS::Logs::LogGroup")
    assert log_group["UpdateReplacePolicy"] == "Retain"


def test_model_role_may_write_the_log_group_the_endpoint_creates(sandbox: Built) -> None:
    _, log_group = sandbox.only("AWS::Logs::LogGroup")
    assert sandbox.parts.model.endpoint_log_group_arn == (
        f"arn:aws:logs:us-east-1:123456789012:log-group:{log_group['Properties']['LogGroupName']}:*"
    )


# Grants.


def test_execution_role_payload_grants_are_one_prefix_each(sandbox: Built) -> None:
    bucket_arn = sandbox.ref(sandbox.parts.payloads.bucket.bucket_arn)
    statements = {
        ",".join(s["Action"]) if isinstance(s["Action"], list) else s["Action"]: s
        for s in sandbox.role_statements(sandbox.parts.model.role)
        if "Sid" not in s  # the model's own statements carry a Sid; these are the endpoint's grants
    }

    def objects(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [bucket_arn, f"/{prefix}/*"]]}

    assert statements["s3:GetObject"]["Resource"] == objects("input")
    assert statements["s3:PutObject"]["Resource"] == [objects("failure"), objects("output")]
    assert statements["kms:Decrypt,kms:GenerateDataKey"]["Resource"] == sandbox.ref(sandbox.parts.key.key_arn)
    topics = sandbox.parts.topics
    assert sorted(statements["sns:Publish"]["Resource"], key=str) == sorted(
        [sandbox.ref(topics.success_topic.topic_arn), sandbox.ref(topics.error_topic.topic_arn)], key=str
    )
    assert set(statements) == {"s3:GetObject", "s3:PutObject", "kms:Decrypt,kms:GenerateDataKey", "sns:Publish"}


def test_invoke_and_describe_are_granted_on_this_endpoint_only(sandbox: Built) -> None:
    endpoint_id, _ = sandbox.only("AWS::SageMaker::Endpoint")
    statements = sandbox.role_statements(sandbox.grantee)
    assert statements == [
        {
            "Action": ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpointAsync"],
            "Effect": "Allow",
            "Resource": {"Ref": endpoint_id},
        }
    ]


# The metric* methods: SageMaker's async metrics with the dimensions they are published with.


def _shape(metric: cloudwatch.Metric) -> tuple[str, str, dict[str, str], str, float]:
    return (
        metric.namespace,
        metric.metric_name,
        dict(metric.dimensions or {}),
        metric.statistic,
        metric.period.to_seconds(),
    )


def test_queue_metrics_have_the_endpoint_name_dimension_only(sandbox: Built) -> None:
    endpoint = sandbox.endpoint
    only_endpoint = {"EndpointName": ENDPOINT_NAME}
    assert _shape(endpoint.metric_backlog_size()) == (
        "AWS/SageMaker",
        "ApproximateBacklogSize",
        only_endpoint,
        "Maximum",
        60,
    )
    assert _shape(endpoint.metric_backlog_size_per_instance()) == (
        "AWS/SageMaker",
        "ApproximateBacklogSizePerInstance",
        only_endpoint,
        "Average",
        60,
    )
    assert _shape(endpoint.metric_has_backlog_without_capacity()) == (
        "AWS/SageMaker",
        "HasBacklogWithoutCapacity",
        only_endpoint,
        "Maximum",
        60,
    )
    assert _shape(endpoint.metric_age_of_oldest_request()) == (
        "AWS/SageMaker",
        "ApproximateAgeOfOldestRequest",
        only_endpoint,
        "Maximum",
        60,
    )


def test_metric_takes_a_statistic_and_a_label(sandbox: Built) -> None:
    metric = sandbox.endpoint.metric_backlog_size(statistic="Average", label="Backlog")
    assert (metric.statistic, metric.label) == ("Average", "Backlog")


def test_per_request_metrics_have_the_endpoint_and_variant_dimensions(sandbox: Built) -> None:
    metric = sandbox.endpoint.metric(metrics.INVOCATION_FAILURES, statistic="Sum", period=cdk.Duration.minutes(5))
    assert _shape(metric) == (
        "AWS/SageMaker",
        "InvocationFailures",
        {"EndpointName": ENDPOINT_NAME, "VariantName": "AllTraffic"},
        "Sum",
        300,
    )


def test_metric_refuses_a_metric_async_endpoints_do_not_publish(sandbox: Built) -> None:
    with pytest.raises(ValueError, match="^Invocations is not an async endpoint metric of AWS/SageMaker$"):
        sandbox.endpoint.metric("Invocations", statistic="Sum")


def test_running_instances_are_counted_by_cpu_samples_per_variant(sandbox: Built) -> None:
    # SageMaker publishes no instance count: one CPUUtilization sample per instance and minute.
    assert _shape(sandbox.endpoint.metric_instances_running(label="Instances")) == (
        "/aws/sagemaker/Endpoints",
        "CPUUtilization",
        {"EndpointName": ENDPOINT_NAME, "VariantName": "AllTraffic"},
        "SampleCount",
        60,
    )
