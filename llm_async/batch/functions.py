"""The batch jobs' Lambda functions: one per handler of the `batch_jobs` package, each with its own role and log group.

One function per handler rather than one function dispatching several: a Lambda function has one handler, and a
role of its own per step keeps each grant to what that step does (only SubmitChunk may invoke the endpoint, only
Finalize writes result files, only the API starts executions), each with the timeout and memory its work needs.
The code is the inference API's asset (`LAMBDA_SOURCE`, which holds both packages) and its Powertools layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_async.api.construct import LAMBDA_SOURCE, POWERTOOLS_LAYER_PARAMETER, RUNTIME, secure_function
from llm_async.network.construct import PrivateNetwork
from llm_async.storage.log_groups import LogGroups


@dataclass(frozen=True)
class FunctionSpec:
    """One batch Lambda: its handler in the asset, its size and timeout, and who invokes it (the evidence its
    compliance findings are acknowledged with)."""

    handler: str
    memory_mb: int
    timeout: cdk.Duration
    invoked_by: str
    """Why no dead-letter queue: how failures of this function's invocations are handled instead."""
    concurrency_bound: str
    """What bounds this function's concurrent executions when no reserved concurrency is set."""


_NO_VPC = (
    "VPC mode is off for this environment: the function reaches S3, SageMaker, Step Functions and CloudWatch"
    " over their public endpoints with TLS and SigV4, and reaches nothing else."
)


class BatchFunctions(Construct):
    """Builds the batch Lambdas under one scope, sharing the asset, the layer, the log settings and the network."""

    def __init__(
        self, scope: Construct, id_: str, *, logs: LogGroups, environment: dict[str, str], network: PrivateNetwork | None
    ) -> None:
        super().__init__(scope, id_)
        self._logs, self._environment, self._network = logs, environment, network
        self._code = lambda_.Code.from_asset(str(LAMBDA_SOURCE), exclude=["**/__pycache__", "**/*.pyc"])
        # Same parameter as the inference API's layer: CDK adds it to the stack's parameters once.
        self._layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER)
        )

    def add(self, id_: str, spec: FunctionSpec, *, environment: dict[str, str] | None = None) -> lambda_.Function:
        """`<id_>` (the function), `<id_>Role` and `<id_>Logs`; `environment` adds to the shared one."""
        log_group = self._logs.create(self, f"{id_}Logs")
        # A role of our own: the default one carries the AWS-managed AWSLambdaBasicExecutionRole.
        role = iam.Role(self, f"{id_}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        network = self._network
        function = lambda_.Function(
            self,
            id_,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=spec.handler,
            code=self._code,
            layers=[self._layer],
            role=role,
            log_group=log_group,
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**self._environment, **(environment or {})},
            vpc=network.vpc if network else None,
            vpc_subnets=network.subnet_selection if network else None,
            security_groups=[network.function_security_group] if network else None,
        )
        secure_function(function, role, network, no_dlq=spec.invoked_by, shared_pool=spec.concurrency_bound, no_vpc=_NO_VPC)
        return function
