"""The two ends of a pipeline step's access to one stage: a CodeBuild role in the pipeline account, and the role of
the stage's account it may assume. Both have fixed names, so each side names the other without a cross-stack
(and usually cross-account) reference. The smoke test (smoke_test_access.py) and the weights staging
(llm_async/weights/staging_access.py) are built from these."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_async.compliance import findings


def _role_arn(account: str, role_name: str) -> str:
    return f"arn:{cdk.Aws.PARTITION}:iam::{account}:role/{role_name}"


@dataclass(frozen=True)
class StepRoleNames:
    """The fixed names of one kind of step's two roles: `llm-async-pipeline-<kind>` and `llm-async-<env>-<kind>`."""

    kind: str

    @property
    def pipeline(self) -> str:
        return f"llm-async-pipeline-{self.kind}"

    def stage(self, env_name: str) -> str:
        return f"llm-async-{env_name}-{self.kind}"

    def pipeline_arn(self, pipeline_account: str) -> str:
        return _role_arn(pipeline_account, self.pipeline)

    def stage_arn(self, stage_account: str, env_name: str) -> str:
        return _role_arn(stage_account, self.stage(env_name))


def codebuild_step_role(scope: Construct, id_: str, *, names: StepRoleNames, description: str) -> iam.Role:
    """The pipeline account's role of one kind of CodeBuild step, which assumes each stage's role of that kind."""
    return iam.Role(
        scope, id_, role_name=names.pipeline, assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"), description=description
    )


def role_for_pipeline_step(
    scope: Construct, id_: str, *, names: StepRoleNames, env_name: str, pipeline_account: str, description: str
) -> iam.Role:
    """The stage's role of one kind of step, which that kind's role of the pipeline account may assume, for an hour."""
    # Trust one role of the pipeline account, by condition rather than as principal: IAM would reject a principal
    # ARN of a role it cannot see yet (first deploy, or a recreated role).
    principal = iam.AccountPrincipal(pipeline_account).with_conditions(
        {"ArnEquals": {"aws:PrincipalArn": names.pipeline_arn(pipeline_account)}}
    )
    role = iam.Role(
        scope,
        id_,
        role_name=names.stage(env_name),
        assumed_by=principal,
        description=description,
        max_session_duration=cdk.Duration.hours(1),
    )
    findings.acknowledge_rule(role, "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
    return role
