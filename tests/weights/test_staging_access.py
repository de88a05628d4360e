"""WeightsStagingAccess alone beside a WeightsStore: the role the pipeline's staging step assumes, trusted by one
pipeline role, allowed to stage one model revision into that store and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest

from llm_async.weights.construct import STAGE_ACTIONS, STAGE_KMS_ACTIONS, WeightsStore
from llm_async.weights.staging_access import WEIGHTS_STAGING_ROLES, WeightsStagingAccess
from tests.compliance.acknowledged import acknowledged
from tests.constructs import bare_stack, template
from tests.helpers import BuiltStack
from tests.weights.grants import prefix_statements
from tests.weights.rendered import rendered

PIPELINE_ACCOUNT = "111111111111"
REVISION_PREFIX = "hub/Qwen/Qwen2.5-7B-Instruct/a09a35458c702b33eeacc393d103063234e8bc28/"
BUCKET_ARN = "arn:${AWS::Partition}:s3:::llm-async-dev-weights-${AWS::AccountId}-${AWS::Region}"
ROLE_PATH = "Staging/Role"


@dataclass(frozen=True)
class Built(BuiltStack):
    store: WeightsStore
    access: WeightsStagingAccess
    acknowledged: dict[tuple[str, str], str]

    def role(self) -> dict[str, Any]:
        return self.resources("AWS::IAM::Role")[self.logical_id(self.access.role)]["Properties"]

    def statements(self) -> list[dict[str, Any]]:
        (policy,) = [
            p["Properties"]
            for p in self.resources("AWS::IAM::Policy").values()
            if {"Ref": self.logical_id(self.access.role)} in p["Properties"]["Roles"]
        ]
        return policy["PolicyDocument"]["Statement"]


@pytest.fixture(scope="module")
def built() -> Built:
    stack = bare_stack()
    store = WeightsStore(stack, "Weights", name_prefix="llm-async-dev", access_log_expiry_days=30, removal_policy=cdk.RemovalPolicy.DESTROY)
    access = WeightsStagingAccess(
        stack, "Staging", store=store, prefix=REVISION_PREFIX, env_name="dev", pipeline_account=PIPELINE_ACCOUNT
    )
    return Built(stack, template(stack), store, access, acknowledged(stack))


def test_role_names_are_fixed_so_each_side_can_name_the_other() -> None:
    assert WEIGHTS_STAGING_ROLES.pipeline == "llm-async-pipeline-weights-staging"
    assert WEIGHTS_STAGING_ROLES.stage("staging") == "llm-async-staging-weights-staging"


def test_the_stage_role_is_named_after_its_environment(built: Built) -> None:
    assert built.role()["RoleName"] == "llm-async-dev-weights-staging"


def test_the_role_session_lasts_an_hour_at_most(built: Built) -> None:
    # The SDK's profile refreshes the credentials in a longer staging run.
    assert built.role()["MaxSessionDuration"] == 3600


def test_the_role_has_no_managed_policy(built: Built) -> None:
    assert "ManagedPolicyArns" not in built.role()


def test_the_role_trusts_only_the_pipelines_weights_staging_role(built: Built) -> None:
    (trust,) = built.role()["AssumeRolePolicyDocument"]["Statement"]
    # The account as principal, the role by condition: IAM rejects a principal ARN of a role it cannot see yet.
    assert {**trust, "Condition": {"ArnEquals": {"aws:PrincipalArn": rendered(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"])}}} == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{PIPELINE_ACCOUNT}:root"},
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": f"arn:${{AWS::Partition}}:iam::{PIPELINE_ACCOUNT}:role/llm-async-pipeline-weights-staging"}
        },
    }


def test_the_trust_condition_is_the_arn_the_pipeline_side_names(built: Built) -> None:
    (trust,) = built.role()["AssumeRolePolicyDocument"]["Statement"]
    assert built.ref(WEIGHTS_STAGING_ROLES.pipeline_arn(PIPELINE_ACCOUNT)) == trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]


def test_the_role_may_stage_the_revision_prefix_of_the_store_only(built: Built) -> None:
    statements = [{**s, "Resource": rendered(s["Resource"])} for s in built.statements()]
    key_id = built.logical_id(built.store.key)
    assert statements == prefix_statements(BUCKET_ARN, REVISION_PREFIX, STAGE_ACTIONS, STAGE_KMS_ACTIONS, key_id)


def test_the_roles_findings_are_acknowledged_at_the_role(built: Built) -> None:
    at_role = {finding: reason for (path, finding), reason in built.acknowledged.items() if path == ROLE_PATH}
    prefix_finding = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::llm-async-dev-weights-<AWS::AccountId>-<AWS::Region>"
        f"/{REVISION_PREFIX}*]"
    )
    assert sorted(at_role) == sorted(
        [prefix_finding, "HIPAA.Security-IAMNoInlinePolicy", "NIST.800.53.R5-IAMNoInlinePolicy", "PCI.DSS.321-IAMNoInlinePolicy"]
    )
    assert "(stage)" in at_role[prefix_finding]
