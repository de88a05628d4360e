"""The REST API in front of the inference Lambda: IAM auth on every method, throttled stage, JSON access logs,
gateway errors in the Lambda's error shape, and the request envelope checked before the Lambda runs."""

from __future__ import annotations

import re

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from llm_async.api.config import ApiConfig
from llm_async.compliance.findings import HIPAA_NIST_PCI, NIST, PCI, acknowledge, acknowledge_rule, rule_ids, waive

# API Gateway's own rejections (auth, body schema, throttling) get the same shape as the Lambda's.
# $context.error.messageString arrives already quoted; validationErrorString must be escaped.
_ERROR_TEMPLATE = '{"error": {"code": "$context.error.responseType", "message": $context.error.messageString}}'
_BODY_ERROR_TEMPLATE = (
    '{"error": {"code": "InvalidRequest",'
    ' "message": "$util.escapeJavaScript($context.error.validationErrorString)"}}'
)
# The envelope API Gateway can check before the Lambda runs: a JSON object with exactly one of the three
# request shapes' keys (chat `messages`, completions `prompt`, TGI generate `inputs`). The Lambda checks
# every field against the engine's own rules (inference_api/request.py).
_INFERENCE_REQUEST_SCHEMA = apigateway.JsonSchema(
    schema=apigateway.JsonSchemaVersion.DRAFT4,
    type=apigateway.JsonSchemaType.OBJECT,
    one_of=[apigateway.JsonSchema(required=[key]) for key in ("messages", "prompt", "inputs")],
)


# A body API Gateway checks before the Lambda runs, on routes that take a JSON object (the Lambda checks its fields).
_JSON_OBJECT_SCHEMA = apigateway.JsonSchema(schema=apigateway.JsonSchemaVersion.DRAFT4, type=apigateway.JsonSchemaType.OBJECT)
_VALIDATOR_ID, _JSON_OBJECT_MODEL_ID = "Validator", "JsonObject"
_PATH_PARAMETER = re.compile(r"\{([A-Za-z0-9_]+)\}")


# Every standard field of the JSON access log: who called (caller, user, ip), what, and how it ended.
_ACCESS_LOG_FIELDS = (
    "caller", "http_method", "ip", "protocol", "request_time", "resource_path", "response_length", "status", "user",
)



@jsii.implements(apigateway.IAccessLogDestination)
class _LogGroupDestination:
    """The access-log group's ARN as API Gateway stores it: without the `:*` that `LogGroup.log_group_arn` ends in.

    With the trailing `:*` (what `LogGroupLogDestination` renders in aws-cdk-lib 2.273, pinned for cdk-assets:
    see stacks/pipeline_stack.py), CloudFormation drift detection reports the stage as MODIFIED on every run.
    aws-cdk-lib 2.274 fixes this behind the feature flag @aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard;
    this renders the same ARN with any version.
    """

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    def bind(self, _stage: apigateway.IStage) -> apigateway.AccessLogDestinationConfig:
        arn = cdk.Stack.of(self._log_group).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self._log_group.log_group_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        return apigateway.AccessLogDestinationConfig(destination_arn=arn)


def inference_rest_api(
    scope: Construct, *, name: str, config: ApiConfig, function: lambda_.IFunction, access_logs: logs.ILogGroup
) -> apigateway.RestApi:
    """POST /invocations and GET /invocations/{inferenceId}, both integrated with `function`."""
    api = apigateway.RestApi(
        scope,
        "Resource",
        rest_api_name=name,
        description="llm-async inference API: submit prompts and fetch results of async inferences",
        endpoint_types=[apigateway.EndpointType.REGIONAL],
        # Access logs need the account's API Gateway CloudWatch role; one is created and kept.
        cloud_watch_role=True,
        cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
        deploy_options=apigateway.StageOptions(
            stage_name="v1",
            throttling_rate_limit=config.throttle_rate_per_s,
            throttling_burst_limit=config.throttle_burst,
            access_log_destination=_LogGroupDestination(access_logs),
            access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(**dict.fromkeys(_ACCESS_LOG_FIELDS, True)),
            logging_level=apigateway.MethodLoggingLevel.ERROR,
            tracing_enabled=True,
            metrics_enabled=True,
        ),
        default_method_options=apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM),
    )
    # The stack outputs the URL under a stable name (ApiUrl); drop the L2's hashed duplicate.
    api.node.try_remove_child("Endpoint")
    cloud_watch_role = api.node.find_child("CloudWatchRole")
    acknowledge(
        cloud_watch_role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "API Gateway's account-level logging role: AWS documents this managed policy for it, and it"
        " grants API Gateway (not callers) log delivery only.",
    )
    for response_type, template in (
        (apigateway.ResponseType.BAD_REQUEST_BODY, _BODY_ERROR_TEMPLATE),
        (apigateway.ResponseType.DEFAULT_4_XX, _ERROR_TEMPLATE),
        (apigateway.ResponseType.DEFAULT_5_XX, _ERROR_TEMPLATE),
    ):
        api.add_gateway_response(
            f"{response_type.response_type}Response",
            type=response_type,
            templates={"application/json": template},
        )
    integration = apigateway.LambdaIntegration(function)
    validator = api.add_request_validator(
        _VALIDATOR_ID, validate_request_body=True, validate_request_parameters=True
    )
    model = api.add_model("InferenceRequest", content_type="application/json", schema=_INFERENCE_REQUEST_SCHEMA)
    invocations = api.root.add_resource("invocations")
    invocations.add_method(
        "POST",
        integration,
        request_validator=validator,
        request_models={"application/json": model},
    )
    invocations.add_resource("{inferenceId}").add_method(
        "GET",
        integration,
        request_validator=validator,
        request_parameters={"method.request.path.inferenceId": True},
    )
    for finding, evidence in (
        ("AwsSolutions-APIG3", "A WAF web ACL is the account's edge concern; every method here requires SigV4"
         " (IAM) authorization and the stage is throttled."),
        ("AwsSolutions-COG4", "Callers are IAM principals of internal apps, authorized with SigV4 (IAM"
         " authorization on every method), not Cognito users."),
    ):
        acknowledge(api, finding, evidence)
    stage = api.deployment_stage
    acknowledge_rule(
        stage,
        "APIGWAssociatedWithWAF",
        (NIST, PCI),
        "A WAF web ACL is the account's edge concern; every method requires SigV4 (IAM) authorization,"
        " so an unsigned request never reaches the integration, and the stage is throttled.",
    )
    no_cache = (
        "Caching is off on purpose: a submit must reach the Lambda every time and a status must be"
        " fresh; with no cache there is no cached data to encrypt."
    )
    waive(stage, nag=rule_ids("APIGWCacheEnabledAndEncrypted", HIPAA_NIST_PCI), checkov="CKV_AWS_120", evidence=no_cache)
    acknowledge_rule(
        stage,
        "APIGWSSLEnabled",
        HIPAA_NIST_PCI,
        "A client certificate authenticates API Gateway to an HTTP backend; this stage's only"
        " integration is a Lambda function, invoked through the Lambda API with IAM.",
    )
    return api


def add_lambda_route(
    api: apigateway.RestApi,
    method: str,
    path: str,
    function: lambda_.IFunction,
    *,
    json_object_body: bool = False,
    query_strings: tuple[str, ...] = (),
) -> apigateway.Method:
    """One more method on the API made by `inference_rest_api`, guarded as its own are: SigV4 (the API's default
    authorization), a Lambda proxy integration with `function`, every `{parameter}` of `path` required and, with
    `json_object_body`, the body a JSON object, both checked by the API's validator before the Lambda runs.
    `query_strings` are declared optional; the Lambda checks their values. The inference routes' ids are untouched:
    new resources are added beside them."""
    api_validator = api.node.find_child(_VALIDATOR_ID)
    assert isinstance(api_validator, apigateway.RequestValidator)
    parameters = {f"method.request.path.{name}": True for name in _PATH_PARAMETER.findall(path)}
    parameters |= {f"method.request.querystring.{name}": False for name in query_strings}
    models = None
    if json_object_body:
        model = api.node.try_find_child(_JSON_OBJECT_MODEL_ID) or api.add_model(
            _JSON_OBJECT_MODEL_ID, content_type="application/json", schema=_JSON_OBJECT_SCHEMA
        )
        models = {"application/json": model}
    return api.root.resource_for_path(path).add_method(
        method,
        apigateway.LambdaIntegration(function),
        request_validator=api_validator,
        request_parameters=parameters or None,
        request_models=models,
    )
