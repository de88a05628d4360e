"""VPC mode: the model and the Lambda in private subnets, reaching AWS through the endpoints they need only."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from llm_async.network.construct import INTERFACE_ENDPOINTS
from tests.synths import EXISTING_VPC, Synthesized

# What the Lambda and the async endpoint call from inside the VPC (llm_async/network.py says why).
EXPECTED_INTERFACE_SERVICES = {"sagemaker.runtime", "sagemaker.api", "monitoring", "xray", "sns"}
VPC_STATEMENTS = {"CreateInterfacesInOurSubnets", "ManageOwnInterfaces", "DescribeNetwork"}


def _service(endpoint: dict[str, Any]) -> str:
    """`com.amazonaws.<region>.<service>` as the CDK writes it for an environment-agnostic or a fixed region."""
    name = endpoint["Properties"]["ServiceName"]
    if isinstance(name, dict):
        return name["Fn::Join"][1][-1].removeprefix(".")
    return name.split(".", 3)[3]


def _endpoints(synth: Synthesized, endpoint_type: str) -> dict[str, dict[str, Any]]:
    return {
        k: v for k, v in synth.resources("AWS::EC2::VPCEndpoint").items() if v["Properties"]["VpcEndpointType"] == endpoint_type
    }


def _group_id(synth: Synthesized, prefix: str) -> dict[str, Any]:
    logical_id, _ = synth.only("AWS::EC2::SecurityGroup", prefix)
    return {"Fn::GetAtt": [logical_id, "GroupId"]}


def _subnet_refs(synth: Synthesized) -> list[Any]:
    return [{"Ref": k} for k in sorted(synth.resources("AWS::EC2::Subnet"))]


@pytest.mark.parametrize("env", ["sandbox", "dev", "prod", "s3-weights", "subscribed"])
def test_vpc_mode_is_off_by_default(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    assert [r["Type"] for r in synth.template_json["Resources"].values() if r["Type"].startswith("AWS::EC2::")] == []
    _, model = synth.only("AWS::SageMaker::Model")
    assert "VpcConfig" not in model["Properties"]
    _, function = synth.only("AWS::Lambda::Function", "ApiFunction")
    assert "VpcConfig" not in function["Properties"]


def test_created_vpc_has_isolated_subnets_in_two_azs_and_no_internet_route(vpc_new: Synthesized) -> None:
    subnets = vpc_new.resources("AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert {s["Properties"]["MapPublicIpOnLaunch"] for s in subnets.values()} == {False}
    zones = [s["Properties"]["AvailabilityZone"] for s in subnets.values()]
    assert len({str(z) for z in zones}) == 2
    for resource_type in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::Route", "AWS::EC2::EIP"):
        assert vpc_new.resources(resource_type) == {}, resource_type


def test_model_runs_in_the_private_subnets_with_its_own_group_and_isolation(vpc_new: Synthesized) -> None:
    vpc_new.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "VpcConfig": {"SecurityGroupIds": [_group_id(vpc_new, "NetworkModelSecurityGroup")], "Subnets": _subnet_refs(vpc_new)},
            # S3 weights: the container needs no network of its own.
            "EnableNetworkIsolation": True,
        },
    )


def test_lambda_runs_in_the_private_subnets_with_its_own_group(vpc_new: Synthesized) -> None:
    _, function = vpc_new.only("AWS::Lambda::Function", "ApiFunction")
    assert function["Properties"]["VpcConfig"] == {
        "SecurityGroupIds": [_group_id(vpc_new, "NetworkFunctionSecurityGroup")],
        "SubnetIds": _subnet_refs(vpc_new),
    }


def test_interface_endpoints_are_exactly_the_services_called_with_private_dns(vpc_new: Synthesized) -> None:
    interface = _endpoints(vpc_new, "Interface")
    assert {_service(e) for e in interface.values()} == EXPECTED_INTERFACE_SERVICES
    assert len(interface) == len(INTERFACE_ENDPOINTS)
    endpoint_group = _group_id(vpc_new, "NetworkEndpointSecurityGroup")
    for endpoint in interface.values():
        props = endpoint["Properties"]
        assert props["PrivateDnsEnabled"] is True
        assert props["SecurityGroupIds"] == [endpoint_group]
        assert props["SubnetIds"] == _subnet_refs(vpc_new)


def test_s3_is_a_gateway_endpoint_on_the_private_route_tables(vpc_new: Synthesized) -> None:
    (gateway,) = _endpoints(vpc_new, "Gateway").values()
    assert _service(gateway) == "s3"
    assert gateway["Properties"]["RouteTableIds"] == [{"Ref": k} for k in sorted(vpc_new.resources("AWS::EC2::RouteTable"))]


def test_endpoints_accept_https_from_the_model_and_the_lambda_only(vpc_new: Synthesized) -> None:
    ingress = [r["Properties"] for r in vpc_new.resources("AWS::EC2::SecurityGroupIngress").values()]
    endpoint_group = _group_id(vpc_new, "NetworkEndpointSecurityGroup")
    assert sorted((r["SourceSecurityGroupId"]["Fn::GetAtt"][0], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress) == sorted(
        (_group_id(vpc_new, prefix)["Fn::GetAtt"][0], "tcp", 443, 443)
        for prefix in ("NetworkModelSecurityGroup", "NetworkFunctionSecurityGroup")
    )
    assert {str(r["GroupId"]) for r in ingress} == {str(endpoint_group)}
    groups = vpc_new.resources("AWS::EC2::SecurityGroup")
    # No inline ingress anywhere (not even the VPC's CIDR, the interface endpoints' default).
    assert [k for k, g in groups.items() if g["Properties"].get("SecurityGroupIngress")] == []


def test_model_and_lambda_groups_send_https_only(vpc_new: Synthesized) -> None:
    for prefix in ("NetworkModelSecurityGroup", "NetworkFunctionSecurityGroup"):
        _, group = vpc_new.only("AWS::EC2::SecurityGroup", prefix)
        assert group["Properties"]["SecurityGroupEgress"] == [
            {"CidrIp": "0.0.0.0/0", "Description": "HTTPS to AWS APIs", "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}
        ]


def test_flow_logs_go_to_the_stack_log_key_with_the_configured_retention(vpc_new: Synthesized) -> None:
    (flow_log,) = vpc_new.resources("AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    group_id, group = vpc_new.only("AWS::Logs::LogGroup", "NetworkFlowLogs")
    assert flow_log["Properties"]["LogGroupName"] == {"Ref": group_id}
    assert group["Properties"]["RetentionInDays"] == vpc_new.config.monitoring.log_retention_days
    key_id, _ = vpc_new.only("AWS::KMS::Key", "LogKey")
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_nat_mode_adds_public_subnets_for_the_nat_only(vpc_nat: Synthesized) -> None:
    assert len(vpc_nat.resources("AWS::EC2::NatGateway")) == 1
    subnets = vpc_nat.resources("AWS::EC2::Subnet").values()
    assert len(subnets) == 4
    # Public subnets hold the NAT gateway (its own Elastic IP): no public IP for anything else.
    assert {s["Properties"]["MapPublicIpOnLaunch"] for s in subnets} == {False}
    _, model = vpc_nat.only("AWS::SageMaker::Model")
    private = sorted(k for k in vpc_nat.resources("AWS::EC2::Subnet") if "Private" in k)
    assert model["Properties"]["VpcConfig"]["Subnets"] == [{"Ref": k} for k in private]
    # Hub weights: the container downloads them itself.
    assert model["Properties"]["EnableNetworkIsolation"] is False


def _statements(synth: Synthesized, role_prefix: str) -> dict[str, dict[str, Any]]:
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
    ]
    return {s["Sid"]: s for statements in policies for s in statements if "Sid" in s}


def test_model_role_gets_the_network_interface_permissions_sagemaker_documents(vpc_new: Synthesized) -> None:
    statements = _statements(vpc_new, "ModelExecutionRole")
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


def test_lambda_role_gets_ec2_interface_actions_inline_and_no_managed_policy(vpc_new: Synthesized) -> None:
    statements = _statements(vpc_new, "ApiFunctionRole")
    assert statements["CreateInterfacesInOurSubnets"]["Action"] == "ec2:CreateNetworkInterface"
    actions = [a for sid in ("ManageOwnInterfaces", "DescribeNetwork") for a in statements[sid]["Action"]]
    assert not any(a.startswith("logs:") for a in actions)
    _, role = vpc_new.only("AWS::IAM::Role", "ApiFunctionRole")
    assert "ManagedPolicyArns" not in role["Properties"]


@pytest.mark.parametrize("env", ["sandbox", "s3-weights"])
def test_no_network_interface_permissions_without_vpc_mode(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    assert VPC_STATEMENTS.isdisjoint(_statements(synth, "ModelExecutionRole") | _statements(synth, "ApiFunctionRole"))


def test_existing_vpc_is_imported_from_its_ids_without_a_lookup(vpc_existing: Synthesized) -> None:
    assert vpc_existing.resources("AWS::EC2::VPC") == {}
    assert vpc_existing.resources("AWS::EC2::Subnet") == {}
    assert vpc_existing.resources("AWS::EC2::FlowLog") == {}
    subnets = list(EXISTING_VPC.subnet_ids)
    vpc_existing.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {"VpcConfig": {"SecurityGroupIds": Match.any_value(), "Subnets": subnets}, "EnableNetworkIsolation": False},
    )
    _, function = vpc_existing.only("AWS::Lambda::Function", "ApiFunction")
    assert function["Properties"]["VpcConfig"]["SubnetIds"] == subnets
    for group in vpc_existing.resources("AWS::EC2::SecurityGroup").values():
        assert group["Properties"]["VpcId"] == EXISTING_VPC.vpc_id


def test_existing_vpc_gets_the_same_endpoints_in_its_subnets(vpc_existing: Synthesized) -> None:
    (gateway,) = _endpoints(vpc_existing, "Gateway").values()
    assert gateway["Properties"]["RouteTableIds"] == list(EXISTING_VPC.route_table_ids)
    interface = _endpoints(vpc_existing, "Interface")
    assert {_service(e) for e in interface.values()} == EXPECTED_INTERFACE_SERVICES
    assert {tuple(e["Properties"]["SubnetIds"]) for e in interface.values()} == {EXISTING_VPC.subnet_ids}


def _acknowledged(synth: Synthesized) -> dict[tuple[str, str], str]:
    return {
        key: reason
        for key, reason in synth.acknowledgments.items()
        # aws-cdk-lib's own, for its template validation of the VPC (literal AZs, FlowLog camelCase).
        if not key[1].startswith("CloudFormation-Validate::")
    }


# The interfaces each service creates at run time (their ids cannot be known): one finding per role.
INTERFACE_ACKNOWLEDGMENTS = [
    (
        f"LlmAsyncStack/{role}",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]",
    )
    for role in ("Model/ExecutionRole", "Api/FunctionRole")
]


def test_nat_mode_acknowledges_the_public_routes_at_the_public_subnets_only(vpc_nat: Synthesized, s3_weights: Synthesized) -> None:
    added = set(_acknowledged(vpc_nat)) - set(_acknowledged(s3_weights))
    flow_log_role = "LlmAsyncStack/Network/Vpc/FlowLog/IAMRole"
    packs = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
    assert sorted(added) == sorted(
        [
            *[(flow_log_role, f"{pack}-IAMNoInlinePolicy") for pack in packs],
            *INTERFACE_ACKNOWLEDGMENTS,
            *[
                (f"LlmAsyncStack/Network/Vpc/PublicSubnet{n}", f"{pack}-VPCNoUnrestrictedRouteToIGW")
                for n in (1, 2)
                for pack in packs
            ],
        ]
    )


def test_vpc_mode_acknowledges_only_the_flow_log_role_and_says_why_ec2_needs_a_wildcard(
    vpc_new: Synthesized, s3_weights: Synthesized
) -> None:
    without_vpc = _acknowledged(s3_weights)
    with_vpc = _acknowledged(vpc_new)
    # CDK's flow-log role carries its inline policy (as every role of this stack does).
    flow_log_role = "LlmAsyncStack/Network/Vpc/FlowLog/IAMRole"
    packs = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
    assert set(with_vpc) - set(without_vpc) == {
        *[(flow_log_role, f"{pack}-IAMNoInlinePolicy") for pack in packs],
        *INTERFACE_ACKNOWLEDGMENTS,
    }
    # In VPC mode the Lambda is in a VPC: the packs' LambdaInsideVPC finding is gone, not acknowledged.
    assert set(without_vpc) - set(with_vpc) == {
        ("LlmAsyncStack/Api/Function", f"{pack}-LambdaInsideVPC") for pack in packs
    }
    for role in ("LlmAsyncStack/Model/ExecutionRole", "LlmAsyncStack/Api/FunctionRole"):
        reason = with_vpc[(role, "AwsSolutions-IAM5[Resource::*]")]
        assert reason.startswith(without_vpc[(role, "AwsSolutions-IAM5[Resource::*]")])
        assert "VPC mode" in reason


@pytest.mark.parametrize("env", ["vpc-new", "vpc-nat"])
def test_only_cdks_default_group_custom_resource_has_a_managed_policy(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    managed = [k for k, r in synth.resources("AWS::IAM::Role").items() if "ManagedPolicyArns" in r["Properties"]]
    # API Gateway's account logging role (acknowledged), and the provider of Custom::VpcRestrictDefaultSG.
    assert sorted(m.split("Role")[0] for m in managed) == ["ApiCloudWatch", "CustomVpcRestrictDefaultSGCustomResourceProvider"]
    assert len(synth.resources("Custom::VpcRestrictDefaultSG")) == 1
