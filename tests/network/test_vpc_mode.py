"""VPC mode through the model and the API's Lambda: where they run, what their roles may do, and what it acknowledges.

Each configuration is built in a bare stack with `Parts`: the network, the model and the API (with what the API
takes), wired as `LlmAsyncStack` wires them; these are the only constructs the network configuration reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest

from llm_async.deployment import DeploymentConfig
from tests.compliance.acknowledged import acknowledged
from tests.constructs import Parts, bare_stack, template
from tests.helpers import BuiltStack
from tests.synths import EXISTING_VPC, s3_weights_config, vpc_existing_config, vpc_nat_config, vpc_new_config

PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
MODEL_ROLE, FUNCTION_ROLE, FUNCTION = "Model/ExecutionRole", "Api/FunctionRole", "Api/Function"
VPC_STATEMENTS = {"CreateInterfacesInOurSubnets", "ManageOwnInterfaces", "DescribeNetwork"}
# The interfaces each service creates at run time (their ids cannot be known): one finding per role.
INTERFACE_FINDING = (
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]"
)


@dataclass(frozen=True)
class Built(BuiltStack):
    parts: Parts
    acknowledged: dict[tuple[str, str], str]

    def resource(self, construct: Any) -> dict[str, Any]:
        cfn = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
        return self.template.to_json()["Resources"][self.stack.get_logical_id(cfn)]

    @property
    def model(self) -> dict[str, Any]:
        return self.resource(self.parts.model.cfn_model)["Properties"]

    @property
    def function(self) -> dict[str, Any]:
        return self.resource(self.parts.api.function)["Properties"]

    def group_id(self, group: Any) -> dict[str, Any]:
        return {"Fn::GetAtt": [self.logical_id(group), "GroupId"]}

    def statements(self, role: Any) -> dict[str, dict[str, Any]]:
        """The role's policy statements that have a Sid, by Sid."""
        attached = {"Properties": {"Roles": [{"Ref": self.logical_id(role)}]}}
        policies = self.template.find_resources("AWS::IAM::Policy", attached)
        return {
            s["Sid"]: s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"] if "Sid" in s
        }


def _build(config: DeploymentConfig) -> Built:
    stack = bare_stack(region=config.region, account=config.account)
    parts = Parts(stack, config)
    parts.model, parts.api  # noqa: B018 (built on first access, the network with them)
    return Built(stack, template(stack), parts, acknowledged(stack))


@pytest.fixture(scope="module")
def no_vpc() -> Built:
    return _build(s3_weights_config())


@pytest.fixture(scope="module")
def new_vpc() -> Built:
    return _build(vpc_new_config())


@pytest.fixture(scope="module")
def nat_vpc() -> Built:
    return _build(vpc_nat_config())


def _private_subnets(built: Built) -> list[dict[str, str]]:
    network = built.parts.network
    assert network is not None
    return built.stack.resolve(network.subnet_ids)


def test_without_vpc_mode_nothing_runs_in_a_vpc(no_vpc: Built) -> None:
    assert [
        r["Type"] for r in no_vpc.template.to_json()["Resources"].values() if r["Type"].startswith("AWS::EC2::")
    ] == []
    assert ("VpcConfig" in no_vpc.model, "VpcConfig" in no_vpc.function) == (False, False)


def test_without_vpc_mode_no_role_may_touch_network_interfaces(no_vpc: Built) -> None:
    for role in (no_vpc.parts.model.role, no_vpc.parts.api.function.role):
        assert VPC_STATEMENTS.isdisjoint(no_vpc.statements(role))
    actions = [
        action
        for policy in no_vpc.template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    ]
    assert [a for a in actions if a.startswith("ec2:")] == []


def test_model_runs_in_the_isolated_subnets_with_its_own_group_and_network_isolation(new_vpc: Built) -> None:
    network = new_vpc.parts.network
    assert new_vpc.model["VpcConfig"] == {
        "SecurityGroupIds": [new_vpc.group_id(network.model_security_group)],
        "Subnets": [{"Ref": k} for k in sorted(new_vpc.template.find_resources("AWS::EC2::Subnet"))],
    }
    # S3 weights: the container needs no network of its own.
    assert new_vpc.model["EnableNetworkIsolation"] is True


def test_lambda_runs_in_the_isolated_subnets_with_its_own_group(new_vpc: Built) -> None:
    assert new_vpc.function["VpcConfig"] == {
        "SecurityGroupIds": [new_vpc.group_id(new_vpc.parts.network.function_security_group)],
        "SubnetIds": [{"Ref": k} for k in sorted(new_vpc.template.find_resources("AWS::EC2::Subnet"))],
    }


def test_with_hub_weights_the_model_runs_in_the_nat_routed_private_subnets_without_isolation(nat_vpc: Built) -> None:
    private = sorted(
        k for k in nat_vpc.template.find_resources("AWS::EC2::Subnet") if k.startswith("NetworkVpcPrivate")
    )
    assert len(private) == 2
    assert nat_vpc.model["VpcConfig"]["Subnets"] == [{"Ref": k} for k in private] == _private_subnets(nat_vpc)
    assert nat_vpc.function["VpcConfig"]["SubnetIds"] == [{"Ref": k} for k in private]
    # Hub weights: the container downloads them itself, through the NAT gateway.
    assert nat_vpc.model["EnableNetworkIsolation"] is False


def test_in_an_existing_vpc_the_model_and_the_lambda_run_in_its_subnets() -> None:
    existing = _build(vpc_existing_config())  # built here: no other test of this module needs it
    network = existing.parts.network
    assert existing.model["VpcConfig"] == {
        "SecurityGroupIds": [existing.group_id(network.model_security_group)],
        "Subnets": list(EXISTING_VPC.subnet_ids),
    }
    assert existing.function["VpcConfig"] == {
        "SecurityGroupIds": [existing.group_id(network.function_security_group)],
        "SubnetIds": list(EXISTING_VPC.subnet_ids),
    }


def test_model_role_gets_the_network_interface_permissions_sagemaker_documents(new_vpc: Built) -> None:
    statements = new_vpc.statements(new_vpc.parts.model.role)
    assert statements["CreateInterfacesInOurSubnets"]["Action"] == "ec2:CreateNetworkInterface"
    assert statements["ManageOwnInterfaces"]["Action"] == [
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    ]
    assert statements["DescribeNetwork"]["Action"] == [
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
    ]
    assert statements["DescribeNetwork"]["Resource"] == "*"


def test_lambda_role_gets_the_vpc_access_actions_without_logs_and_no_managed_policy(new_vpc: Built) -> None:
    role = new_vpc.parts.api.function.role
    statements = new_vpc.statements(role)
    assert statements["CreateInterfacesInOurSubnets"]["Action"] == "ec2:CreateNetworkInterface"
    # AWSLambdaVPCAccessExecutionRole's EC2 actions, without its logs:* on every log group.
    assert statements["ManageOwnInterfaces"]["Action"] == [
        "ec2:AssignPrivateIpAddresses",
        "ec2:DeleteNetworkInterface",
        "ec2:UnassignPrivateIpAddresses",
    ]
    assert statements["DescribeNetwork"]["Action"] == ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    assert "ManagedPolicyArns" not in new_vpc.resource(role)["Properties"]


@pytest.mark.parametrize(
    ("role", "group"), [("model", "model_security_group"), ("function", "function_security_group")]
)
def test_each_role_may_create_interfaces_with_its_own_security_group_only(
    new_vpc: Built, role: str, group: str
) -> None:
    network = new_vpc.parts.network
    grantee = new_vpc.parts.model.role if role == "model" else new_vpc.parts.api.function.role
    resources = new_vpc.statements(grantee)["CreateInterfacesInOurSubnets"]["Resource"]
    groups = [
        part for arn in resources for part in arn["Fn::Join"][1] if isinstance(part, dict) and "Fn::GetAtt" in part
    ]
    assert groups == [new_vpc.group_id(getattr(network, group))]


def _checkov_skips(built: Built) -> list[str]:
    """The checks skipped on the API's function."""
    metadata = built.resource(built.parts.api.function).get("Metadata", {})
    return [skip["id"] for skip in metadata.get("checkov", {}).get("skip", [])]


def _added_and_removed(with_vpc: Built, without_vpc: Built) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    return set(with_vpc.acknowledged) - set(without_vpc.acknowledged), set(without_vpc.acknowledged) - set(
        with_vpc.acknowledged
    )


def test_vpc_mode_acknowledges_only_the_flow_log_role_and_the_interface_wildcards(
    new_vpc: Built, no_vpc: Built
) -> None:
    added, _ = _added_and_removed(new_vpc, no_vpc)
    # CDK's flow-log role carries its inline policy (as every role of this stack does).
    assert added == {
        *(("Network/Vpc/FlowLog/IAMRole", f"{pack}-IAMNoInlinePolicy") for pack in PACKS),
        (MODEL_ROLE, INTERFACE_FINDING),
        (FUNCTION_ROLE, INTERFACE_FINDING),
    }


def test_in_vpc_mode_the_lambda_inside_vpc_finding_is_gone_not_acknowledged(new_vpc: Built, no_vpc: Built) -> None:
    _, removed = _added_and_removed(new_vpc, no_vpc)
    assert removed == {(FUNCTION, f"{pack}-LambdaInsideVPC") for pack in PACKS}
    # Nor is checkov's twin check skipped: the function is in the VPC.
    assert ("CKV_AWS_117" in _checkov_skips(no_vpc), "CKV_AWS_117" in _checkov_skips(new_vpc)) == (True, False)


@pytest.mark.parametrize("role", [MODEL_ROLE, FUNCTION_ROLE])
def test_vpc_mode_adds_the_ec2_describe_actions_to_the_wildcard_evidence(
    new_vpc: Built, no_vpc: Built, role: str
) -> None:
    finding = (role, "AwsSolutions-IAM5[Resource::*]")
    without_vpc, with_vpc = no_vpc.acknowledged[finding], new_vpc.acknowledged[finding]
    assert with_vpc.startswith(without_vpc)
    assert with_vpc.removeprefix(without_vpc).startswith(" VPC mode: ")


def test_nat_mode_also_acknowledges_the_public_routes_at_the_public_subnets(nat_vpc: Built, no_vpc: Built) -> None:
    added, removed = _added_and_removed(nat_vpc, no_vpc)
    assert sorted(added) == sorted(
        [
            *(("Network/Vpc/FlowLog/IAMRole", f"{pack}-IAMNoInlinePolicy") for pack in PACKS),
            (MODEL_ROLE, INTERFACE_FINDING),
            (FUNCTION_ROLE, INTERFACE_FINDING),
            *(
                (f"Network/Vpc/PublicSubnet{n}", f"{pack}-VPCNoUnrestrictedRouteToIGW")
                for n in (1, 2)
                for pack in PACKS
            ),
        ]
    )
    # (The Hub-weights model also lacks the S3-weights model's grant on its weights: not VPC mode's doing.)
    assert {(FUNCTION, f"{pack}-LambdaInsideVPC") for pack in PACKS} <= removed
