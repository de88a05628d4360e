"""InferenceApi alone in a bare stack: its Lambda, the environment it writes, its grants, and what it offers others."""

from __future__ import annotations

import dataclasses
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from llm_async.api.construct import POWERTOOLS_VERSION, InferenceApi
from llm_async.api.runtime.inference_api import contract
from llm_async.api.runtime.inference_api.contract import ApiEnvironment
from llm_async.environments import ENVIRONMENTS
from llm_async_tools.security_report import acknowledgments
from tests.conftest import ROOT
from tests.constructs import Parts, bare_stack, template
from tests.helpers import BuiltStack


@dataclasses.dataclass(frozen=True)
class Built(BuiltStack):
    parts: Parts
    api: InferenceApi
    caller: iam.Role
    """A role granted `grant_invoke`."""

    def only(self, resource_type: str) -> dict[str, Any]:
        """The one resource of a type in this bare stack (its properties)."""
        (resource,) = self.template.find_resources(resource_type).values()
        return resource.get("Properties", {})

    def policy_statements(self, role: iam.IRole) -> list[dict[str, Any]]:
        role_ref = {"Ref": self.logical_id(role)}
        (policy,) = [
            p["Properties"]
            for p in self.template.find_resources("AWS::IAM::Policy").values()
            if role_ref in p["Properties"]["Roles"]
        ]
        return policy["PolicyDocument"]["Statement"]


def _build(config_name: str) -> Built:
    stack = bare_stack()
    parts = Parts(stack, ENVIRONMENTS[config_name]())
    api = parts.api
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountPrincipal("123456789012"))
    api.grant_invoke(caller)
    return Built(stack, template(stack), parts, api, caller)


@pytest.fixture(scope="module")
def sandbox() -> Built:
    return _build("sandbox")


@pytest.fixture(scope="module")
def dev() -> Built:
    """api.reserved_concurrency = 10."""
    return _build("dev")


def _acknowledged(construct: Any) -> set[str]:
    metadata = {construct.node.path: [{"type": entry.type, "data": entry.data} for entry in construct.node.metadata]}
    return {finding for _, finding in acknowledgments(metadata)}


def _checkov_skips(built: Built) -> set[str]:
    (function,) = built.template.find_resources("AWS::Lambda::Function").values()
    return {skip["id"] for skip in function["Metadata"]["checkov"]["skip"]}


def test_function_runtime_handler_memory_timeout_and_tracing(sandbox: Built) -> None:
    sandbox.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["x86_64"],
            "Handler": "inference_api.handler.lambda_handler",
            "MemorySize": 256,
            # Submit waits up to 5 s for a concurrent submit of the same Idempotency-Key.
            "Timeout": 15,
            "TracingConfig": {"Mode": "Active"},
        },
    )


def test_function_logs_to_its_own_group(sandbox: Built) -> None:
    function = sandbox.only("AWS::Lambda::Function")
    assert function["LoggingConfig"] == {"LogGroup": sandbox.ref(sandbox.api.function_logs.log_group_name)}
    assert function["LoggingConfig"]["LogGroup"] != sandbox.ref(sandbox.api.access_logs.log_group_name)


def test_the_powertools_layer_is_resolved_from_its_public_parameter(sandbox: Built) -> None:
    (layer,) = sandbox.only("AWS::Lambda::Function")["Layers"]
    parameter = sandbox.template.to_json()["Parameters"][layer["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/aws/service/powertools/python/x86_64/python3.14/{POWERTOOLS_VERSION}",
    }


def test_the_layer_version_is_the_tested_powertools() -> None:
    pins = dict(
        line.split("==", 1) for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if "==" in line
    )
    assert pins["aws-lambda-powertools"] == POWERTOOLS_VERSION


def test_environment_is_the_contract_rendered_from_the_collaborators(sandbox: Built) -> None:
    config, parts = sandbox.parts.config, sandbox.parts
    expected = ApiEnvironment(
        engine=config.model.engine,
        bucket_name=parts.payloads.bucket.bucket_name,
        endpoint_name=parts.endpoint.endpoint_name_ref,
        wake_alarm_name=parts.scaling.wake_alarm.alarm_name,
        request_ttl_s=config.endpoint.request_ttl_s,
        invocation_timeout_s=config.endpoint.invocation_timeout_s,
        max_body_bytes=config.api.max_body_bytes,
        max_inputs_bytes=config.api.max_inputs_bytes,
        max_input_tokens=config.model.max_input_tokens,
        max_total_tokens=config.model.max_total_tokens,
        default_max_new_tokens=config.token_budget.default,
        max_new_tokens=config.token_budget.maximum,
        metrics_namespace=config.endpoint.name_prefix,
    )
    variables = sandbox.only("AWS::Lambda::Function")["Environment"]["Variables"]
    assert variables == sandbox.ref(expected.render())


def test_environment_values_of_the_sandbox(sandbox: Built) -> None:
    variables = sandbox.only("AWS::Lambda::Function")["Environment"]["Variables"]
    endpoint_id = next(iter(sandbox.template.find_resources("AWS::SageMaker::Endpoint")))
    assert variables == {
        # Whose request rules the Lambda applies: the model's engine.
        "ENGINE": "tgi",
        "BUCKET_NAME": {"Ref": sandbox.logical_id(sandbox.parts.payloads.bucket)},
        # A reference, so that on an endpoint replacement the function switches once the new one exists.
        "ENDPOINT_NAME": {"Fn::GetAtt": [endpoint_id, "EndpointName"]},
        "WAKE_ALARM_NAME": {"Ref": sandbox.logical_id(sandbox.parts.scaling.wake_alarm)},
        "REQUEST_TTL_SECONDS": "21600",
        "INVOCATION_TIMEOUT_SECONDS": "900",
        "MAX_BODY_BYTES": "1048576",
        "MAX_INPUTS_BYTES": "262144",
        "MAX_INPUT_TOKENS": "4096",
        "MAX_TOTAL_TOKENS": "8192",
        # The budget forwarded when a request names none, and the most a request may ask for.
        "DEFAULT_MAX_NEW_TOKENS": "512",
        "MAX_NEW_TOKENS": "4096",
        # The deployment's own namespace: two deployments in one account never mix their metrics.
        "POWERTOOLS_METRICS_NAMESPACE": "llm-async-sandbox",
        "POWERTOOLS_SERVICE_NAME": "llm-async-api",
    }


def test_the_role_is_the_functions_own_without_managed_policies(sandbox: Built) -> None:
    role = sandbox.template.find_resources("AWS::IAM::Role")[sandbox.logical_id(sandbox.api.function.role)][
        "Properties"
    ]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role


def test_each_grant_of_the_function_is_scoped_to_one_resource(sandbox: Built) -> None:
    parts = sandbox.parts
    bucket_arn = sandbox.ref(parts.payloads.bucket.bucket_arn)

    def objects(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [bucket_arn, f"/{prefix}/*"]]}

    granted = {
        tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],): s["Resource"]
        for s in sandbox.policy_statements(sandbox.api.function.role)
    }
    assert granted == {
        ("logs:CreateLogStream", "logs:PutLogEvents"): sandbox.ref(sandbox.api.function_logs.log_group_arn),
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"): "*",
        # InvokeEndpointAsync on exactly this endpoint's ARN (Ref of AWS::SageMaker::Endpoint).
        ("sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpointAsync"): sandbox.ref(parts.endpoint.endpoint_arn),
        ("cloudwatch:SetAlarmState",): sandbox.ref(parts.scaling.wake_alarm.alarm_arn),
        ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): objects("input"),
        ("kms:Decrypt", "kms:GenerateDataKey"): sandbox.ref(parts.key.key_arn),
        ("s3:ListBucket",): bucket_arn,
        ("s3:GetObject",): [objects("failure"), objects("output")],
    }


def test_the_only_wildcard_resource_is_acknowledged_as_xray(sandbox: Built) -> None:
    assert "AwsSolutions-IAM5[Resource::*]" in _acknowledged(sandbox.api.function.role)


def test_unreserved_concurrency_is_left_on_the_shared_pool_and_waived(sandbox: Built) -> None:
    assert "ReservedConcurrentExecutions" not in sandbox.only("AWS::Lambda::Function")
    assert {"HIPAA.Security-LambdaConcurrency", "NIST.800.53.R5-LambdaConcurrency"} <= _acknowledged(
        sandbox.api.function
    )
    assert "CKV_AWS_115" in _checkov_skips(sandbox)


def test_reserved_concurrency_is_set_and_needs_no_waiver(dev: Built) -> None:
    assert dev.only("AWS::Lambda::Function")["ReservedConcurrentExecutions"] == 10
    assert not {f for f in _acknowledged(dev.api.function) if f.endswith("-LambdaConcurrency")}
    assert "CKV_AWS_115" not in _checkov_skips(dev)


def test_outside_a_vpc_the_function_waives_the_vpc_rule(sandbox: Built) -> None:
    assert "VpcConfig" not in sandbox.only("AWS::Lambda::Function")
    assert {f"{pack}-LambdaInsideVPC" for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")} <= _acknowledged(
        sandbox.api.function
    )
    assert "CKV_AWS_117" in _checkov_skips(sandbox)


def test_the_api_is_named_after_the_deployment(sandbox: Built, dev: Built) -> None:
    # The name is the ApiName dimension of the API's metrics: a shared default would mix deployments' metrics.
    assert sandbox.only("AWS::ApiGateway::RestApi")["Name"] == "llm-async-sandbox-api"
    assert dev.only("AWS::ApiGateway::RestApi")["Name"] == "llm-async-dev-api"


def test_url_is_the_deployed_stage(sandbox: Built) -> None:
    parts = sandbox.ref(sandbox.api.url)["Fn::Join"][1]
    api_id = sandbox.logical_id(sandbox.api.rest_api)
    stage_id = sandbox.logical_id(sandbox.api.rest_api.deployment_stage)
    assert (parts[0], parts[1], parts[-3:]) == ("https://", {"Ref": api_id}, ["/", {"Ref": stage_id}, "/"])


def _arn_tail(arn: Any) -> list[Any]:
    """The execute-api ARN's last parts: API id, stage, method and path."""
    return arn["Fn::Join"][1][-4:]


def test_grant_invoke_allows_exactly_submit_and_status_on_the_deployed_stage(sandbox: Built) -> None:
    (statement,) = sandbox.policy_statements(sandbox.caller)
    api = {"Ref": sandbox.logical_id(sandbox.api.rest_api)}
    stage = {"Ref": sandbox.logical_id(sandbox.api.rest_api.deployment_stage)}
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    assert sorted((_arn_tail(arn) for arn in statement["Resource"]), key=str) == [
        [api, "/", stage, "/GET/invocations/*"],
        [api, "/", stage, "/POST/invocations"],
    ]


def test_status_method_arn_is_the_get_of_one_inference(sandbox: Built) -> None:
    arn = sandbox.ref(sandbox.api.status_method_arn)
    stage = {"Ref": sandbox.logical_id(sandbox.api.rest_api.deployment_stage)}
    assert _arn_tail(arn)[-2:] == [stage, "/GET/invocations/*"]
    (statement,) = sandbox.policy_statements(sandbox.caller)
    assert arn in statement["Resource"]


@pytest.mark.parametrize("name", contract.CUSTOM_METRICS)
def test_metric_outcome_is_the_handlers_metric_in_the_deployments_namespace(sandbox: Built, name: str) -> None:
    metric = sandbox.api.metric_outcome(name, period=cdk.Duration.minutes(1))
    assert (metric.namespace, metric.metric_name, metric.dimensions) == (
        "llm-async-sandbox",
        name,
        {"service": "llm-async-api"},
    )
    assert (metric.statistic, metric.period.to_seconds(), metric.label) == ("Sum", 60, name)


def test_metric_outcome_takes_a_label_and_a_period(sandbox: Built) -> None:
    metric = sandbox.api.metric_outcome(contract.WAKE_REQUESTED, period=cdk.Duration.minutes(5), label="wakes")
    assert (metric.period.to_seconds(), metric.label) == (300, "wakes")


def test_metric_outcome_refuses_a_metric_the_handler_does_not_publish(sandbox: Built) -> None:
    message = (
        "Invocations is not one of the handler's metrics: InferencesSubmitted, WakeRequested, StatusChecks,"
        " RequestsRejected, ServiceUnavailable"
    )
    with pytest.raises(ValueError, match=f"^{message}$"):
        sandbox.api.metric_outcome("Invocations", period=cdk.Duration.minutes(1))
