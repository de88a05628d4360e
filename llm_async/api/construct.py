"""The inference API: API Gateway (REST, IAM auth) in front of the Lambda whose code is in runtime/."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_async.api.config import ApiConfig, TokenBudget
from llm_async.api.rest_api import inference_rest_api
from llm_async.api.runtime.inference_api import contract
from llm_async.api.runtime.inference_api.contract import ApiEnvironment
from llm_async.compliance import findings
from llm_async.endpoint.construct import AsyncEndpoint
from llm_async.endpoint.scaling import ScaleToZero
from llm_async.network.construct import PrivateNetwork
from llm_async.storage.bucket import PayloadBucket
from llm_async.storage.log_groups import LogGroups

# The Lambda asset: the `inference_api` package, as Lambda imports it from the asset's root.
LAMBDA_SOURCE = Path(__file__).resolve().parent / "runtime"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# The Powertools version the handler is tested with (requirements-dev.txt). Its managed layer is
# resolved from Powertools' public SSM parameter at deploy time: no Docker bundling is available
# here, and the layer keeps the deployment package to our own ~20 kB of code.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/x86_64/{RUNTIME.name}/{POWERTOOLS_VERSION}"


_NO_DLQ = (
    "API Gateway invokes this function synchronously; a dead-letter queue only receives failed"
    " asynchronous invocations, and every failure here is answered to the caller as an HTTP error."
)
_SHARED_POOL = (
    "api.reserved_concurrency is unset for this environment: reserving needs 100 unreserved"
    " executions left in the account, more than a new account's quota; the stage throttle"
    " (api.throttle_rate_per_s, api.throttle_burst) still bounds the load."
)
_NO_VPC = (
    "VPC mode is off for this environment: the function reaches S3, SageMaker and CloudWatch"
    " over their public endpoints with TLS and SigV4, and reaches nothing else."
)


XRAY_EVIDENCE = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords, added by active tracing, have no resource-level permissions."
)


_PLAIN_ENVIRONMENT = (
    "The environment holds resource names and numeric limits, no secret; Lambda encrypts it at rest"
    " with its AWS managed key, and a customer key would guard nothing the template does not show."
)


def secure_function(
    function: lambda_.Function,
    role: iam.Role,
    network: PrivateNetwork | None,
    *,
    no_dlq: str,
    shared_pool: str | None,
    no_vpc: str,
) -> None:
    """What each of our traced Lambda functions gets beside its own grants: the findings both scanners report on it
    waived where they apply, each with its evidence (no dead-letter queue: `no_dlq`; no reserved concurrency:
    `shared_pool`, None when it has some; outside a VPC: `no_vpc`), its environment's key skip, its role's inline
    policy acknowledged, and the role's network and X-Ray grants (grant_network_and_tracing)."""
    for rule, packs, check, evidence in (
        ("LambdaDLQ", (findings.HIPAA, findings.NIST, findings.SERVERLESS), "CKV_AWS_116", no_dlq),
        ("LambdaConcurrency", (findings.HIPAA, findings.NIST), "CKV_AWS_115", shared_pool),
        ("LambdaInsideVPC", findings.HIPAA_NIST_PCI, "CKV_AWS_117", no_vpc if network is None else None),
    ):
        if evidence is not None:
            findings.waive(function, nag=findings.rule_ids(rule, packs), checkov=check, evidence=evidence)
    findings.skip_checkov(function, "CKV_AWS_173", _PLAIN_ENVIRONMENT)
    findings.acknowledge_rule(role, "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
    grant_network_and_tracing(role, network)


def grant_network_and_tracing(role: iam.Role, network: PrivateNetwork | None) -> None:
    """What a traced Lambda function's role needs beside its own grants, with the wildcard findings of both acknowledged
    at the role: in VPC mode, its network interfaces (what AWSLambdaVPCAccessExecutionRole grants, scoped by the
    network and without its logs:*); always, X-Ray's two actions."""
    evidence = XRAY_EVIDENCE
    if network is not None:
        network.grant_network_interfaces(
            role,
            network.function_security_group,
            manage=["ec2:AssignPrivateIpAddresses", "ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"],
            describe=["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
        )
        evidence += " VPC mode: ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets support no resource-level permissions."
    findings.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", evidence)


def custom_metric(namespace: str, service: str, metric_name: str, *, period: cdk.Duration, label: str | None) -> cloudwatch.Metric:
    """A Powertools metric of a function, summed over `period`; Powertools adds the service as its one default dimension."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=period,
        label=label or metric_name,
    )


class InferenceApi(Construct):
    """POST /invocations and GET /invocations/{inferenceId}, SigV4-authorized, throttled, access-logged."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        engine: str,
        config: ApiConfig,
        max_input_tokens: int,
        max_total_tokens: int,
        token_budget: TokenBudget,
        endpoint: AsyncEndpoint,
        scaling: ScaleToZero,
        payloads: PayloadBucket,
        logs: LogGroups,
        network: PrivateNetwork | None = None,
    ) -> None:
        """`name`: the deployment's name (`endpoint.name_prefix`); the API is `<name>-api`, which is the ApiName
        dimension of its metrics, and the custom metrics' namespace is `name`: one per deployment.
        `engine`: the model's engine (`tgi`, `vllm`), whose request rules the Lambda applies.
        `max_input_tokens`, `max_total_tokens`: the container's token limits, which requests are checked against;
        `token_budget`: the new tokens a request is given when it names none, and the most it may ask for.
        `network`: VPC mode, the Lambda runs in its private subnets and reaches AWS through its endpoints."""
        super().__init__(scope, id_)
        self.function_logs = logs.create(self, "FunctionLogs")
        self.access_logs = logs.create(self, "AccessLogs")
        self.environment = ApiEnvironment(
            engine=engine,
            bucket_name=payloads.bucket.bucket_name,
            endpoint_name=endpoint.endpoint_name_ref,
            wake_alarm_name=scaling.wake_alarm.alarm_name,
            request_ttl_s=endpoint.request_ttl_s,
            invocation_timeout_s=endpoint.invocation_timeout_s,
            max_body_bytes=config.max_body_bytes,
            max_inputs_bytes=config.max_inputs_bytes,
            max_input_tokens=max_input_tokens,
            max_total_tokens=max_total_tokens,
            default_max_new_tokens=token_budget.default,
            max_new_tokens=token_budget.maximum,
            metrics_namespace=name,
        )
        self.function = self._function(config.reserved_concurrency, network)
        endpoint.grant_invoke_async(self.function)
        endpoint.grant_describe(self.function)
        scaling.grant_wake(self.function)
        payloads.grant_submit_requests(self.function)
        payloads.grant_read_results(self.function)
        self.rest_api = inference_rest_api(
            self, name=f"{name}-api", config=config, function=self.function, access_logs=self.access_logs
        )

    def _function(self, reserved_concurrency: int | None, network: PrivateNetwork | None) -> lambda_.Function:
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
            handler=contract.HANDLER,
            code=lambda_.Code.from_asset(str(LAMBDA_SOURCE), exclude=["**/__pycache__", "**/*.pyc"]),
            layers=[layer],
            role=role,
            log_group=self.function_logs,
            memory_size=256,
            # Submit waits up to 5 s for a concurrent submit of the same Idempotency-Key.
            timeout=cdk.Duration.seconds(15),
            tracing=lambda_.Tracing.ACTIVE,
            environment=self.environment.render(),
            reserved_concurrent_executions=reserved_concurrency,
            vpc=network.vpc if network else None,
            vpc_subnets=network.subnet_selection if network else None,
            security_groups=[network.function_security_group] if network else None,
        )
        secure_function(function, role, network, no_dlq=_NO_DLQ,
                        shared_pool=_SHARED_POOL if reserved_concurrency is None else None, no_vpc=_NO_VPC)
        return function

    @property
    def url(self) -> str:
        return self.rest_api.url

    @property
    def status_method_arn(self) -> str:
        """GET /invocations/{inferenceId} of the deployed stage; the * stands for the inference id."""
        return self.rest_api.arn_for_execute_api("GET", "/invocations/*", self.rest_api.deployment_stage.stage_name)

    def method_arn(self, method: str, path: str) -> str:
        """The execute-api ARN of one method of the deployed stage; each `{parameter}` of `path` becomes a *."""
        pattern = "/".join("*" if part.startswith("{") else part for part in path.split("/"))
        return self.rest_api.arn_for_execute_api(method, pattern, self.rest_api.deployment_stage.stage_name)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """execute-api:Invoke on the two methods of the deployed stage: submit and status, nothing else."""
        submit_arn = self.rest_api.arn_for_execute_api("POST", "/invocations", self.rest_api.deployment_stage.stage_name)
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["execute-api:Invoke"], resource_arns=[submit_arn, self.status_method_arn]
        )

    def metric_outcome(self, metric_name: str, *, period: cdk.Duration, label: str | None = None) -> cloudwatch.Metric:
        """One of the handler's custom metrics (`contract.CUSTOM_METRICS`), summed over `period`."""
        if metric_name not in contract.CUSTOM_METRICS:
            raise ValueError(f"{metric_name} is not one of the handler's metrics: {', '.join(contract.CUSTOM_METRICS)}")
        return custom_metric(self.environment.metrics_namespace, self.environment.service_name, metric_name, period=period, label=label)
