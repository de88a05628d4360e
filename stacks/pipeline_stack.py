"""`LlmAsyncPipelineStack`: CDK Pipelines promoting the same `LlmAsyncStack` through dev → staging → prod.

Each push to the branch runs the README's test command and synth, updates the pipeline itself, then
deploys dev and staging; prod waits for a manual approval. A stage whose model reads staged weights deploys
its weights stack first, then a staging step copies the pinned Hub revision into that stage's bucket (a second
run verifies and skips), then the endpoint's stack. After each stage deploys, a smoke test submits a prompt
through that stage's API and fails the stage unless a well-formed result arrives.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from llm_async.compliance import findings
from llm_async.deployment import DeploymentConfig
from llm_async.environments import ENVIRONMENTS
from llm_async.model.config import StagedWeights
from llm_async.pipeline.config import PIPELINE_STACK_ID, STAGES, PipelineConfig
from llm_async.pipeline.findings import acknowledge_pipeline_findings
from llm_async.pipeline.smoke_test_access import SMOKE_TEST_ROLES
from llm_async.pipeline.stage_access import codebuild_step_role
from llm_async.weights.staging_access import WEIGHTS_STAGING_ROLES
from stacks.llm_async_app import ROOT
from stacks.llm_async_stage import LlmAsyncStage

# How long a smoke test may wait beyond the stage's wake-from-zero budget for the generation itself.
SMOKE_TEST_GENERATION_S = 600
# A staging run: a 16 GB model at a few tens of MB/s from the Hub, plus the upload; CodeBuild allows up to 36 hours.
STAGING_TIMEOUT = cdk.Duration.hours(3)


def pinned_version(package: str) -> str:
    """The version of an npm package that package.json pins: what the pipeline's CodeBuild steps install.

    Never npm's `latest`: the `aws-cdk` CLI's was an incompatible 3.0.0, and `cdk-assets`' (4.7.3, the
    newest the registry serves) reads cloud assembly schema 54 at most. So the app stays on aws-cdk-lib
    2.273.0, the newest whose assemblies are schema 54 (its package metadata requires
    aws-cdk.cloud-assembly-schema <55; 2.274.0 requires >=55). tests/pipeline/test_asset_publishing.py runs
    the pinned cdk-assets on every asset manifest the app writes and fails when a combination breaks.
    """
    return json.loads((ROOT / "package.json").read_text())["devDependencies"][package]


# CodeBuild's standard:7.0 image offers Python 3.11, which scripts/setup.sh requires.
_PYTHON_3_11 = codebuild.BuildSpec.from_object({"phases": {"install": {"runtime-versions": {"python": "3.11"}}}})
_BUILD_ENVIRONMENT = codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0)


class LlmAsyncPipelineStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        pipeline_config: PipelineConfig,
        stage_configs: Sequence[DeploymentConfig],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        source = pipelines.CodePipelineSource.connection(
            pipeline_config.repository, pipeline_config.branch, connection_arn=pipeline_config.connection_arn
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=pipelines.CodeBuildStep(
                "Synth",
                input=source,
                # The README's two commands: the tests, then the synth (of every stack, this one included).
                commands=["bash scripts/test.sh -q", "bash scripts/synth.sh"],
                primary_output_directory="cdk.out",
            ),
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=_BUILD_ENVIRONMENT, partial_build_spec=_PYTHON_3_11
            ),
            cli_version=pinned_version("aws-cdk"),
            cdk_assets_cli_version=pinned_version("cdk-assets"),
            cross_account_keys=True,
            enable_key_rotation=True,
        )
        self.smoke_test_role = codebuild_step_role(
            self,
            "SmokeTestRole",
            names=SMOKE_TEST_ROLES,
            description="llm-async pipeline: smoke tests assume each stage's smoke-test role to call its API",
        )
        self.weights_staging_role = codebuild_step_role(
            self,
            "WeightsStagingRole",
            names=WEIGHTS_STAGING_ROLES,
            description="llm-async pipeline: staging steps assume each stage's weights-staging role to write its weights",
        )
        if pipeline_config.hub_token_secret_arn is not None:
            # CodeBuild's Secrets Manager variable: CDK grants GetSecretValue on the configured ARN followed by "*"
            # (a secret's versions), on the one role that runs the staging steps.
            findings.acknowledge_wildcard(
                self.weights_staging_role,
                f"{pipeline_config.hub_token_secret_arn}*",
                "secretsmanager:GetSecretValue on the one Hub-token secret configured (hubTokenSecretArn), which"
                " CodeBuild resolves into the staging step's HF_TOKEN; the * follows its full ARN, suffix included.",
            )
        self.stages: list[LlmAsyncStage] = []
        self.smoke_tests: list[pipelines.CodeBuildStep] = []
        self.weights_stagings: list[pipelines.CodeBuildStep] = []
        for config in stage_configs:
            stage = LlmAsyncStage(self, config=config, pipeline_account=pipeline_config.account)
            self.stages.append(stage)
            self.smoke_tests.append(self._smoke_test(stage, source))
            pre = [pipelines.ManualApprovalStep("PromoteToProd")] if config.env_name == "prod" else []
            stack_steps = []
            if stage.weights_stack is not None:
                # After the weights stack, before the endpoint's stack: CDK Pipelines makes a stack's deploy wait
                # for the whole graph (post steps included) of each stack it depends on (pipelines/lib/
                # helpers-internal/pipeline-graph.ts, addStage: stackNode.dependOn(depNode), aws-cdk-lib 2.273.0).
                self.weights_stagings.append(self._stage_weights(stage, source, pipeline_config.hub_token_secret_arn))
                stack_steps.append(pipelines.StackSteps(stack=stage.weights_stack, post=[self.weights_stagings[-1]]))
            self.pipeline.add_stage(stage, pre=pre, post=[self.smoke_tests[-1]], stack_steps=stack_steps)
        # Build now (not lazily at synth) so the generated roles exist to carry their acknowledgments.
        self.pipeline.build_pipeline()
        acknowledge_pipeline_findings(
            self.pipeline,
            {
                self.smoke_test_role: [step.project for step in self.smoke_tests],
                self.weights_staging_role: [step.project for step in self.weights_stagings],
            },
        )

    def _smoke_test(self, stage: LlmAsyncStage, source: pipelines.IFileSetProducer) -> pipelines.CodeBuildStep:
        """Submit a prompt through the stage's API and wait for the result, as long as a wake from zero takes."""
        config = stage.config
        stage_role_arn = SMOKE_TEST_ROLES.stage_arn(config.account, config.env_name)
        self.smoke_test_role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[stage_role_arn]))
        wait_s = config.endpoint.startup_budget_s + SMOKE_TEST_GENERATION_S
        role_output = stage.stack.smoke_test_role_output
        if role_output is None:  # a stage always grants its pipeline's account; this guards refactors
            raise ValueError(f"stage {stage.stage_name}: its stack has no smoke-test role to assume")
        return pipelines.CodeBuildStep(
            "SmokeTest",
            input=source,
            env_from_cfn_outputs={
                "API_URL": stage.stack.api_url_output,
                "SMOKE_TEST_ROLE_ARN": role_output,
            },
            commands=[
                "python3 -m venv /tmp/smoke",
                "/tmp/smoke/bin/pip install --quiet --disable-pip-version-check -c constraints.txt boto3",
                "/tmp/smoke/bin/python -m llm_async_tools.smoke_test"
                f' --api-url "$API_URL" --role-arn "$SMOKE_TEST_ROLE_ARN" --timeout {wait_s}',
            ],
            role=self.smoke_test_role,
            timeout=cdk.Duration.seconds(wait_s + 600),
        )


    def _stage_weights(
        self, stage: LlmAsyncStage, source: pipelines.IFileSetProducer, token_secret_arn: str | None
    ) -> pipelines.CodeBuildStep:
        """Stage the model's pinned revision into the stage's weights bucket (docs/weights.md), as the stage's staging role.

        CodeBuild (no VPC) has the internet egress the Hub needs; the endpoints it stages for have none. The token, if
        configured, is a Secrets Manager environment variable: CodeBuild reads it with this step's own role and masks
        it in the build log; the tool reads HF_TOKEN and never prints it.
        """
        config, weights_stack = stage.config, stage.weights_stack
        weights = config.model.weights
        assert isinstance(weights, StagedWeights) and weights_stack is not None  # the stage has a weights stack
        stage_role_arn = WEIGHTS_STAGING_ROLES.stage_arn(config.account, config.env_name)
        self.weights_staging_role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[stage_role_arn]))
        if weights_stack.staging_role_output is None:  # a stage always grants its pipeline's account; this guards refactors
            raise ValueError(f"stage {stage.stage_name}: its weights stack has no staging role to assume")
        variables = {}
        if token_secret_arn is not None:
            variables["HF_TOKEN"] = codebuild.BuildEnvironmentVariable(
                type=codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER, value=token_secret_arn
            )
        return pipelines.CodeBuildStep(
            "StageWeights",
            input=source,
            env_from_cfn_outputs={
                "WEIGHTS_BUCKET": weights_stack.bucket_name_output,
                "STAGING_ROLE_ARN": weights_stack.staging_role_output,
            },
            build_environment=codebuild.BuildEnvironment(
                # 128 GB of disk (general1.medium): the download is kept until each file is verified and uploaded.
                compute_type=codebuild.ComputeType.MEDIUM,
                environment_variables=variables,
            ),
            commands=[
                "python3 -m venv /tmp/weights",
                "/tmp/weights/bin/pip install --quiet --disable-pip-version-check -c constraints.txt boto3 huggingface_hub",
                # The SDK assumes the stage's role from the build's own credentials, and refreshes it in a long run.
                'mkdir -p ~/.aws && printf "[profile stage]\\nrole_arn = %s\\ncredential_source = EcsContainer\\n"'
                ' "$STAGING_ROLE_ARN" > ~/.aws/config',
                "AWS_PROFILE=stage /tmp/weights/bin/python -m llm_async_tools.weights stage"
                f" --model-id {weights.model_id} --revision {weights.revision}"
                f' --bucket "$WEIGHTS_BUCKET" --region {config.region}',
            ],
            role=self.weights_staging_role,
            timeout=STAGING_TIMEOUT,
        )


def add_pipeline_stack(app: cdk.App, pipeline_config: PipelineConfig) -> LlmAsyncPipelineStack:
    """The pipeline in its tooling account, with each stage's configuration from `environments.py`."""
    stage_configs = [
        dataclasses.replace(ENVIRONMENTS[name](), account=pipeline_config.stage_accounts[name]) for name in STAGES
    ]
    return LlmAsyncPipelineStack(
        app,
        PIPELINE_STACK_ID,
        pipeline_config=pipeline_config,
        stage_configs=stage_configs,
        env=cdk.Environment(account=pipeline_config.account, region=pipeline_config.region),
        description="llm-async: promotes LlmAsyncStack through dev, staging and prod",
    )
