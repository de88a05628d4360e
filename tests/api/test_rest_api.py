"""The REST API alone (`inference_rest_api` over a stand-in function): SigV4 on every method, the throttled and
access-logged stage, gateway errors in the API's error shape, the request envelope checked before the Lambda."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from constructs import Construct

from llm_async.api.config import ApiConfig
from llm_async.api.rest_api import inference_rest_api
from llm_async_tools.security_report import acknowledgments
from tests.constructs import bare_stack, template

# Not the defaults (10 and 20): the stage must carry the configured values.
CONFIG = ApiConfig(throttle_rate_per_s=7, throttle_burst=13)


@dataclasses.dataclass(frozen=True)
class Built:
    stack: cdk.Stack
    api: apigateway.RestApi
    function: lambda_.Function
    access_logs: logs.LogGroup
    template: Template

    def ref(self, construct: Any) -> dict[str, str]:
        return {"Ref": self.stack.get_logical_id(construct.node.default_child)}

    def only(self, resource_type: str) -> dict[str, Any]:
        (resource,) = self.template.find_resources(resource_type).values()
        return resource

    def methods(self) -> dict[str, dict[str, Any]]:
        """Each method's properties by HTTP method."""
        found = self.template.find_resources("AWS::ApiGateway::Method").values()
        return {m["Properties"]["HttpMethod"]: m["Properties"] for m in found}


@pytest.fixture(scope="module")
def built() -> Built:
    stack = bare_stack()
    function = lambda_.Function(
        stack,
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): ..."),
    )
    access_logs = logs.LogGroup(stack, "AccessLogs")
    api = inference_rest_api(
        Construct(stack, "Api"), name="llm-async-test-api", config=CONFIG, function=function, access_logs=access_logs
    )
    return Built(stack, api, function, access_logs, template(stack))


def _acknowledged(construct: Any) -> set[str]:
    metadata = {construct.node.path: [{"type": entry.type, "data": entry.data} for entry in construct.node.metadata]}
    return {finding for _, finding in acknowledgments(metadata)}


def test_exactly_submit_and_status_each_require_sigv4(built: Built) -> None:
    methods = built.methods()
    assert sorted(methods) == ["GET", "POST"]
    assert {m["AuthorizationType"] for m in methods.values()} == {"AWS_IAM"}


def test_submit_is_post_invocations_and_status_is_get_of_an_inference_id(built: Built) -> None:
    resources = {
        r["Properties"]["PathPart"]: r for r in built.template.find_resources("AWS::ApiGateway::Resource").values()
    }
    assert sorted(resources) == ["invocations", "{inferenceId}"]
    (invocations_id,) = [
        k
        for k, r in built.template.find_resources("AWS::ApiGateway::Resource").items()
        if r["Properties"]["PathPart"] == "invocations"
    ]
    assert resources["{inferenceId}"]["Properties"]["ParentId"] == {"Ref": invocations_id}
    methods = built.methods()
    assert methods["POST"]["ResourceId"] == {"Ref": invocations_id}
    assert methods["GET"]["RequestParameters"] == {"method.request.path.inferenceId": True}


def test_both_methods_proxy_to_the_function(built: Built) -> None:
    function_arn = {"Fn::GetAtt": [built.stack.get_logical_id(built.function.node.default_child), "Arn"]}
    for method in built.methods().values():
        integration = method["Integration"]
        assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS_PROXY", "POST")
        assert function_arn in integration["Uri"]["Fn::Join"][1]


def test_the_function_may_be_invoked_by_these_two_methods_only(built: Built) -> None:
    api, stage = built.ref(built.api), built.ref(built.api.deployment_stage)
    source_arns = sorted(
        (
            json.dumps(p["Properties"]["SourceArn"]["Fn::Join"][1][1:])
            for p in built.template.find_resources("AWS::Lambda::Permission").values()
        ),
    )
    # The deployed stage, and the console's test-invoke stage.
    assert source_arns == sorted(
        json.dumps(parts)
        for parts in (
            [api, "/", stage, "/POST/invocations"],
            [api, "/", stage, "/GET/invocations/*"],
            [api, "/test-invoke-stage/POST/invocations"],
            [api, "/test-invoke-stage/GET/invocations/*"],
        )
    )


def test_the_stage_is_throttled_as_configured_and_logs_errors(built: Built) -> None:
    stage = built.only("AWS::ApiGateway::Stage")["Properties"]
    assert (stage["StageName"], stage["TracingEnabled"]) == ("v1", True)
    assert stage["MethodSettings"] == [
        {
            "DataTraceEnabled": False,  # no request or response bodies (prompts, generated text) in the logs
            "HttpMethod": "*",
            "LoggingLevel": "ERROR",
            "MetricsEnabled": True,
            "ResourcePath": "/*",
            "ThrottlingBurstLimit": 13,
            "ThrottlingRateLimit": 7,
        }
    ]


def test_access_logs_go_to_the_given_group_as_json(built: Built) -> None:
    setting = built.only("AWS::ApiGateway::Stage")["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {
        "Fn::Join": ["", ["arn:aws:logs:us-east-1:123456789012:log-group:", built.ref(built.access_logs)]]
    }
    assert json.loads(setting["Format"]) == {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "user": "$context.identity.user",
        "caller": "$context.identity.caller",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
    }


def test_the_account_logging_role_is_kept_on_delete(built: Built) -> None:
    # Account-wide: another API of the account may log through it after this stack is gone.
    (role,) = [
        r
        for r in built.template.find_resources("AWS::IAM::Role").values()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "apigateway.amazonaws.com"}
    ]
    account = built.only("AWS::ApiGateway::Account")
    for resource in (role, account):
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


def _render(template_text: str, response_type: str, message: str, validation_error: str) -> Any:
    """The response body as API Gateway renders it: messageString arrives quoted, the validation string escaped."""
    return json.loads(
        template_text.replace("$context.error.messageString", json.dumps(message))
        .replace("$context.error.responseType", response_type)
        .replace("$util.escapeJavaScript($context.error.validationErrorString)", validation_error.replace('"', '\\"'))
    )


def test_gateway_errors_have_the_api_error_shape(built: Built) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]["ResponseTemplates"]["application/json"]
        for r in built.template.find_resources("AWS::ApiGateway::GatewayResponse").values()
    }
    assert sorted(responses) == ["BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX"]
    missing_inputs = '[object has missing required properties (["inputs"])]'
    assert _render(responses["BAD_REQUEST_BODY"], "BAD_REQUEST_BODY", "Invalid request body", missing_inputs) == {
        "error": {"code": "InvalidRequest", "message": missing_inputs}
    }
    for kind, code, message in (
        ("DEFAULT_4XX", "MISSING_AUTHENTICATION_TOKEN", 'Missing "Authentication" Token'),
        ("DEFAULT_5XX", "INTEGRATION_FAILURE", "Internal server error"),
    ):
        assert _render(responses[kind], code, message, "") == {"error": {"code": code, "message": message}}


def test_both_methods_are_validated_before_the_lambda_runs(built: Built) -> None:
    ((validator_id, validator),) = built.template.find_resources("AWS::ApiGateway::RequestValidator").items()
    assert (validator["Properties"]["ValidateRequestBody"], validator["Properties"]["ValidateRequestParameters"]) == (
        True,
        True,
    )
    assert {m["RequestValidatorId"]["Ref"] for m in built.methods().values()} == {validator_id}


def test_submit_bodies_must_be_an_object_of_exactly_one_request_shape(built: Built) -> None:
    ((model_id, model),) = built.template.find_resources("AWS::ApiGateway::Model").items()
    assert built.methods()["POST"]["RequestModels"] == {"application/json": {"Ref": model_id}}
    assert model["Properties"]["ContentType"] == "application/json"
    # The Lambda checks every field against the engine's rules; the gateway only the envelope: chat `messages`,
    # completions `prompt` or TGI generate `inputs`, exactly one of them.
    assert model["Properties"]["Schema"] == {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "oneOf": [{"required": ["messages"]}, {"required": ["prompt"]}, {"required": ["inputs"]}],
    }
    assert "RequestModels" not in built.methods()["GET"]


def test_a_regional_api_with_the_given_name(built: Built) -> None:
    props = built.only("AWS::ApiGateway::RestApi")["Properties"]
    assert (props["Name"], props["EndpointConfiguration"]) == ("llm-async-test-api", {"Types": ["REGIONAL"]})


def test_no_hashed_endpoint_output(built: Built) -> None:
    # The stack outputs the URL under a stable name (ApiUrl); the L2's own `Endpoint` output is removed.
    assert built.template.find_outputs("*") == {}
    assert built.api.node.try_find_child("Endpoint") is None


def test_waf_and_cognito_findings_are_acknowledged_on_the_api(built: Built) -> None:
    assert _acknowledged(built.api) == {"AwsSolutions-APIG3", "AwsSolutions-COG4"}


def test_the_stage_acknowledges_waf_cache_and_client_certificate(built: Built) -> None:
    stage = built.api.deployment_stage
    assert _acknowledged(stage) == {
        "NIST.800.53.R5-APIGWAssociatedWithWAF",
        "PCI.DSS.321-APIGWAssociatedWithWAF",
        *(
            f"{pack}-{rule}"
            for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
            for rule in ("APIGWCacheEnabledAndEncrypted", "APIGWSSLEnabled")
        ),
    }
    assert [skip["id"] for skip in built.only("AWS::ApiGateway::Stage")["Metadata"]["checkov"]["skip"]] == [
        "CKV_AWS_120"
    ]
    assert "CacheClusterEnabled" not in built.only("AWS::ApiGateway::Stage")["Properties"]
