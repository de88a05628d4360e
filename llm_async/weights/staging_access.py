"""The role a pipeline's staging step assumes to stage one model revision into one stage's weights bucket, and nothing else.

Like the smoke test (llm_async/pipeline/smoke_test_access.py): the pipeline usually runs in a tooling account, and
both role names are fixed so that each side can name the other without a cross-stack reference.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_async.compliance import findings
from llm_async.weights.construct import WeightsStore

PIPELINE_WEIGHTS_STAGING_ROLE_NAME = "llm-async-pipeline-weights-staging"


def stage_weights_staging_role_name(env_name: str) -> str:
    return f"llm-async-{env_name}-weights-staging"


def pipeline_weights_staging_role_arn(pipeline_account: str) -> str:
    return f"arn:{cdk.Aws.PARTITION}:iam::{pipeline_account}:role/{PIPELINE_WEIGHTS_STAGING_ROLE_NAME}"


class WeightsStagingAccess(Construct):
    def __init__(
        self, scope: Construct, id_: str, *, store: WeightsStore, prefix: str, env_name: str, pipeline_account: str
    ) -> None:
        """`prefix`: the revision's prefix (llm_async.model.staged.revision_prefix): its model files and its manifest."""
        super().__init__(scope, id_)
        # Trust one role of the pipeline account, by condition rather than as principal: IAM would reject a principal
        # ARN of a role it cannot see yet (first deploy, or a recreated role).
        principal = iam.AccountPrincipal(pipeline_account).with_conditions(
            {"ArnEquals": {"aws:PrincipalArn": pipeline_weights_staging_role_arn(pipeline_account)}}
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=stage_weights_staging_role_name(env_name),
            assumed_by=principal,
            description=f"llm-async {env_name}: the pipeline stages the model's weights into this stage's weights bucket",
            # A 16 GB model at the Hub's rate takes minutes; the role's credentials are refreshed by the SDK's profile.
            max_session_duration=cdk.Duration.hours(1),
        )
        store.grant_stage(self.role, prefix)
        findings.acknowledge_rule(self.role, "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
