"""SmokeTestAccess alone beside the inference API: the role the pipeline's smoke test assumes, trusted by one
pipeline role, allowed to call the two methods of one stage and nothing else."""

from __future__ import annotations

import dataclasses
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from llm_async.compliance.findings import wildcard_resource_finding
from llm_async.pipeline.smoke_test_access import SMOKE_TEST_ROLES, SmokeTestAccess
from llm_async_tools.security_report import acknowledgments
from tests.constructs import Parts, bare_stack, template

PIPELINE_ACCOUNT = "111111111111"


@dataclasses.dataclass(frozen=True)
class Built:
    stack: cdk.Stack
    parts: Parts
    access: SmokeTestAccess
    template: Template

    def ref(self, construct: Any) -> dict[str, str]:
        return {"Ref": self.stack.get_logical_id(construct.node.default_child)}

    def role(self) -> dict[str, Any]:
        return self.template.find_resources("AWS::IAM::Role")[self.ref(self.access.role)["Ref"]]["Properties"]

    def statements(self) -> list[dict[str, Any]]:
        (policy,) = [
            p["Properties"]
            for p in self.template.find_resources("AWS::IAM::Policy").values()
            if self.ref(self.access.role) in p["Properties"]["Roles"]
        ]
        return policy["PolicyDocument"]["Statement"]


@pytest.fixture(scope="module")
def built() -> Built:
    stack = bare_stack()
    parts = Parts(stack)
    access = SmokeTestAccess(stack, "SmokeTest", api=parts.api, env_name="dev", pipeline_account=PIPELINE_ACCOUNT)
    return Built(stack, parts, access, template(stack))


def test_role_names_are_fixed_so_each_side_can_name_the_other() -> None:
    assert SMOKE_TEST_ROLES.pipeline == "llm-async-pipeline-smoke-test"
    assert SMOKE_TEST_ROLES.stage("staging") == "llm-async-staging-smoke-test"


def test_the_stage_role_is_named_after_its_environment(built: Built) -> None:
    role = built.role()
    assert role["RoleName"] == "llm-async-dev-smoke-test"
    assert role["MaxSessionDuration"] == 3600


def test_the_role_trusts_only_the_pipelines_smoke_test_role(built: Built) -> None:
    (trust,) = built.role()["AssumeRolePolicyDocument"]["Statement"]
    # The account as principal, the role by condition: IAM rejects a principal ARN of a role it cannot see yet.
    assert trust == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{PIPELINE_ACCOUNT}:root"},
        "Condition": {
            "ArnEquals": {
                "aws:PrincipalArn": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            f":iam::{PIPELINE_ACCOUNT}:role/llm-async-pipeline-smoke-test",
                        ],
                    ]
                }
            }
        },
    }
    assert (
        built.stack.resolve(SMOKE_TEST_ROLES.pipeline_arn(PIPELINE_ACCOUNT))
        == trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    )


def test_the_role_may_only_submit_and_read_status_on_this_stage(built: Built) -> None:
    (statement,) = built.statements()
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    api, stage = built.ref(built.parts.api.rest_api), built.ref(built.parts.api.rest_api.deployment_stage)
    assert sorted((arn["Fn::Join"][1][-4:] for arn in statement["Resource"]), key=str) == [
        [api, "/", stage, "/GET/invocations/*"],
        [api, "/", stage, "/POST/invocations"],
    ]


def test_the_roles_findings_are_acknowledged_at_the_role(built: Built) -> None:
    role = built.access.role
    metadata = {role.node.path: [{"type": entry.type, "data": entry.data} for entry in role.node.metadata]}
    found = {finding: reason for (_, finding), reason in acknowledgments(metadata).items()}
    # The one wildcard: the {inferenceId} of the status method.
    status_finding = wildcard_resource_finding(role, built.parts.api.status_method_arn)
    assert status_finding.endswith("/GET/invocations/*]")
    assert sorted(found) == sorted(
        [
            status_finding,
            "HIPAA.Security-IAMNoInlinePolicy",
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "PCI.DSS.321-IAMNoInlinePolicy",
        ]
    )
    assert "{inferenceId}" in found[status_finding]
