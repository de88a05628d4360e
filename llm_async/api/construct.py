"""The inference API: API Gateway (REST, IAM auth) in front of the Lambda whose code is in runtime/."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_async.api.config import ApiConfig
from llm_async.compliance.findings import (
    HIPAA,
    INLINE_POLICY_EVIDENCE,
    NIST,
    PCI,
    SERVERLESS,
    acknowledge,
    acknowledge_rule,
    skip_checkov,
)
from llm_async.endpoint.config import EndpointConfig
from llm_async.endpoint.construct import AsyncEndpoint
from llm_async.endpoint.scaling import ScaleToZero
from llm_async.model.config import ModelConfig
from llm_async.network.construct import PrivateNetwork
from llm_async.storage.bucket import PayloadBucket
from llm_async.storage.log_groups import log_group

# The Lambda asset: the `inference_api` package, as Lambda imports it from the asset's root.
LAMBDA_SOURCE = Path(__file__).resolve().parent / "runtime"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# The Powertools version the handler is tested with (requirements-dev.txt). Its managed layer is
# resolved from Powertools' public SSM parameter at deploy time: no Docker bundling is available
# here, and the layer keeps the deployment package to our own ~20 kB of code.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/x86_64/{RUNTIME.name}/{POWERTOOLS_VERSION}"

# API Gateway's own rejections (auth, body schema, throttling) get the same shape as the Lambda's.
# $context.error.messageString arrives already quoted; validationErrorString must be escaped.
_ERROR_TEMPLATE = '{"error": {"code": "$context.error.responseType", "message": $context.error.messageString}}'
_BODY_ERROR_TEMPLATE = (
    '{"error": {"code": "InvalidRequest",'
    ' "message": "$util.escapeJavaScript($context.error.validationErrorString)"}}'
)
# The envelope API Gateway can check before the Lambda runs; the Lambda checks every field's range.
_GENERATE_REQUEST_SCHEMA = apigateway.JsonSchema(
    schema=apigateway.JsonSchemaVersion.DRAFT4,
    type=apigateway.JsonSchemaType.OBJECT,
    required=["inputs"],
    additional_properties=False,
    properties={
        "inputs": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, min_length=1),
        "parameters": apigateway.JsonSchema(type=apigateway.JsonSchemaType.OBJECT),
    },
)


class InferenceApi(Construct):
    """POST /invocations and GET /invocations/{inferenceId}, SigV4-authorized, throttled, access-logged."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ApiConfig,
        model: ModelConfig,
        endpoint_config: EndpointConfig,
        endpoint: AsyncEndpoint,
        scaling: ScaleToZero,
        payloads: PayloadBucket,
        log_retention_days: int,
        log_key: kms.IKey,
        removal_policy: cdk.RemovalPolicy,
        network: PrivateNetwork | None = None,
    ) -> None:
        """`network`: VPC mode, the Lambda runs in its private subnets and reaches AWS through its endpoints."""
        super().__init__(scope, id_)
        self.function_logs, self.access_logs = (
            log_group(self, name, retention_days=log_retention_days, encryption_key=log_key, removal_policy=removal_policy)
            for name in ("FunctionLogs", "AccessLogs")
        )
        environment = {
            "BUCKET_NAME": payloads.bucket.bucket_name,
            "ENDPOINT_NAME": endpoint.endpoint_name_ref,
            "WAKE_ALARM_NAME": scaling.wake_alarm.alarm_name,
            "REQUEST_TTL_SECONDS": str(endpoint_config.request_ttl_s),
            "INVOCATION_TIMEOUT_SECONDS": str(endpoint_config.invocation_timeout_s),
            "MAX_BODY_BYTES": str(config.max_body_bytes),
            "MAX_INPUTS_BYTES": str(config.max_inputs_bytes),
            "MAX_TOTAL_TOKENS": str(model.max_total_tokens),
            "POWERTOOLS_SERVICE_NAME": "llm-async-api",
            "POWERTOOLS_METRICS_NAMESPACE": "LlmAsync",
        }
        self.function = self._function(environment, config.reserved_concurrency, network)
        endpoint.grant_invoke_async(self.function)
        endpoint.grant_describe(self.function)
        scaling.grant_wake(self.function)
        payloads.grant_submit_requests(self.function)
        payloads.grant_read_results(self.function)
        # The name is the ApiName dimension of its metrics: one per deployment, not a shared default.
        self.rest_api = self._rest_api(config, name=f"{endpoint_config.name_prefix}-api")

    def _function(
        self, environment: dict[str, str], reserved_concurrency: int | None, network: PrivateNetwork | None
    ) -> lambda_.Function:
        # A role of our own: the default one carries the AWS-managed AWSLambdaBasicExecutionRole.
        role = iam.Role(self, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.function_logs.log_group_arn],
            )
        )
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER),
        )
        function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler="inference_api.handler.lambda_handler",
            code=lambda_.Code.from_asset(str(LAMBDA_SOURCE), exclude=["**/__pycache__", "**/*.pyc"]),
            layers=[layer],
            role=role,
            log_group=self.function_logs,
            memory_size=256,
            # Submit waits up to 5 s for a concurrent submit of the same Idempotency-Key.
            timeout=cdk.Duration.seconds(15),
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
            reserved_concurrent_executions=reserved_concurrency,
            vpc=network.vpc if network else None,
            vpc_subnets=network.subnet_selection if network else None,
            security_groups=[network.function_security_group] if network else None,
        )
        no_dlq = (
            "API Gateway invokes this function synchronously; a dead-letter queue only receives failed"
            " asynchronous invocations, and every failure here is answered to the caller as an HTTP error."
        )
        acknowledge_rule(function, "LambdaDLQ", (HIPAA, NIST, SERVERLESS), no_dlq)
        skip_checkov(function, "CKV_AWS_116", no_dlq)
        if reserved_concurrency is None:
            shared_pool = (
                "api.reserved_concurrency is unset for this environment: reserving needs 100 unreserved"
                " executions left in the account, more than a new account's quota; the stage throttle"
                " (api.throttle_rate_per_s, api.throttle_burst) still bounds the load."
            )
            acknowledge_rule(function, "LambdaConcurrency", (HIPAA, NIST), shared_pool)
            skip_checkov(function, "CKV_AWS_115", shared_pool)
        if not function.is_bound_to_vpc:
            no_vpc = (
                "VPC mode is off for this environment: the function reaches S3, SageMaker and CloudWatch"
                " over their public endpoints with TLS and SigV4, and reaches nothing else."
            )
            acknowledge_rule(function, "LambdaInsideVPC", (HIPAA, NIST, PCI), no_vpc)
            skip_checkov(function, "CKV_AWS_117", no_vpc)
        acknowledge_rule(role, "IAMNoInlinePolicy", (HIPAA, NIST, PCI), INLINE_POLICY_EVIDENCE)
        evidence = (
            "X-Ray's PutTraceSegments and PutTelemetryRecords, added by active tracing, have no"
            " resource-level permissions."
        )
        if network is not None:
            # What AWSLambdaVPCAccessExecutionRole grants, scoped by the network and without its logs:*.
            network.grant_network_interfaces(
                role,
                network.function_security_group,
                manage=["ec2:AssignPrivateIpAddresses", "ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"],
                describe=["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            )
            evidence += " VPC mode: ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets support no resource-level permissions."
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", evidence)
        skip_checkov(
            function,
            "CKV_AWS_173",
            "The environment holds resource names and numeric limits, no secret; Lambda encrypts it at rest"
            " with its AWS managed key, and a customer key would guard nothing the template does not show.",
        )
        return function

    def _rest_api(self, config: ApiConfig, *, name: str) -> apigateway.RestApi:
        api = apigateway.RestApi(
            self,
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
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
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
        integration = apigateway.LambdaIntegration(self.function)
        validator = api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        model = api.add_model("GenerateRequest", content_type="application/json", schema=_GENERATE_REQUEST_SCHEMA)
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
        acknowledge_rule(stage, "APIGWCacheEnabledAndEncrypted", (HIPAA, NIST, PCI), no_cache)
        skip_checkov(stage, "CKV_AWS_120", no_cache)
        acknowledge_rule(
            stage,
            "APIGWSSLEnabled",
            (HIPAA, NIST, PCI),
            "A client certificate authenticates API Gateway to an HTTP backend; this stage's only"
            " integration is a Lambda function, invoked through the Lambda API with IAM.",
        )
        return api

    @property
    def url(self) -> str:
        return self.rest_api.url

    @property
    def status_method_arn(self) -> str:
        """GET /invocations/{inferenceId} of the deployed stage; the * stands for the inference id."""
        return self.rest_api.arn_for_execute_api("GET", "/invocations/*", self.rest_api.deployment_stage.stage_name)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """execute-api:Invoke on the two methods of the deployed stage: submit and status, nothing else."""
        submit_arn = self.rest_api.arn_for_execute_api("POST", "/invocations", self.rest_api.deployment_stage.stage_name)
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["execute-api:Invoke"], resource_arns=[submit_arn, self.status_method_arn]
        )

