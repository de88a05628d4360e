"""The two ends of a pipeline step's access to one stage: a CodeBuild role in the pipeline account, and the role of
the stage's account it may assume. Both have fixed names, so each side names the other without a cross-stack
(and usually cross-account) reference. The smoke test (smoke_test_access.py) and the weights staging
(llm_async/weights/staging_access.py) are built from these."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_async.compliance import findings


def pipeline_role_arn(pipeline_account: str, role_name: str) -> str:
    return f"arn:{cdk.Aws.PARTITION}:iam::{pipeline_account}:role/{role_name}"


def codebuild_step_role(scope: Construct, id_: str, *, role_name: str, description: str) -> iam.Role:
    """The pipeline account's role of one kind of CodeBuild step, which assumes each stage's role of that kind."""
    return iam.Role(
        scope, id_, role_name=role_name, assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"), description=description
    )


def role_for_pipeline_step(
    scope: Construct, id_: str, *, role_name: str, pipeline_account: str, pipeline_role_name: str, description: str
) -> iam.Role:
    """A stage's role that one role of the pipeline account may assume, for an hour at most."""
    # Trust one role of the pipeline account, by condition rather than as principal: IAM would reject a principal
    # ARN of a role it cannot see yet (first deploy, or a recreated role).
    principal = iam.AccountPrincipal(pipeline_account).with_conditions(
        {"ArnEquals": {"aws:PrincipalArn": pipeline_role_arn(pipeline_account, pipeline_role_name)}}
    )
    role = iam.Role(
        scope,
        id_,
        role_name=role_name,
        assumed_by=principal,
        description=description,
        max_session_duration=cdk.Duration.hours(1),
    )
    findings.acknowledge_rule(role, "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
    return role
