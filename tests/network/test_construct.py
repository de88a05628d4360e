"""PrivateNetwork alone: a created VPC (with or without NAT) or an imported one, its security groups and endpoints."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from llm_async.deployment import DeploymentConfig
from llm_async.network.config import ExistingVpc
from llm_async.network.construct import INTERFACE_ENDPOINTS, PrivateNetwork
from tests.compliance.acknowledged import acknowledged
from tests.constructs import Parts, bare_stack, template
from tests.helpers import BuiltStack
from tests.synths import EXISTING_VPC, vpc_existing_config, vpc_nat_config, vpc_new_config

# What the Lambda and the async endpoint call from inside the VPC (llm_async/network/construct.py says why).
EXPECTED_INTERFACE_SERVICES = {"sagemaker.runtime", "sagemaker.api", "monitoring", "xray", "sns"}
PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
FLOW_LOG_ROLE = "Network/Vpc/FlowLog/IAMRole"
HTTPS_OUT = {
    "CidrIp": "0.0.0.0/0",
    "Description": "HTTPS to AWS APIs",
    "FromPort": 443,
    "IpProtocol": "tcp",
    "ToPort": 443,
}
# What a grantee of grant_network_interfaces is given in these tests (the model's and the Lambda's lists are theirs).
MANAGE = ["ec2:DeleteNetworkInterface"]
DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]


@dataclass(frozen=True)
class Built(BuiltStack):
    network: PrivateNetwork
    config: DeploymentConfig
    acknowledged: dict[tuple[str, str], str]

    def group(self, construct: Any) -> dict[str, Any]:
        return self.resources("AWS::EC2::SecurityGroup")[self.logical_id(construct)]

    def group_id(self, construct: Any) -> dict[str, Any]:
        return {"Fn::GetAtt": [self.logical_id(construct), "GroupId"]}

    def subnet_ids(self) -> list[Any]:
        """The network's subnets as the template references them."""
        return self.stack.resolve(self.network.subnet_ids)

    def grantee_statements(self) -> dict[str, dict[str, Any]]:
        (policy,) = self.template.find_resources(
            "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": self.logical_id(self.grantee)}]}}
        ).values()
        return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}

    @property
    def grantee(self) -> iam.Role:
        return self.stack.node.find_child("Grantee")


def _build(config: DeploymentConfig, *, grantee: bool = False) -> Built:
    # The stack's environment as the app gives it: the sandbox's is agnostic, the existing VPC's is in us-east-1.
    stack = bare_stack(region=config.region, account=config.account)
    network = Parts(stack, config).network
    assert network is not None
    if grantee:
        role = iam.Role(stack, "Grantee", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        network.grant_network_interfaces(role, network.model_security_group, manage=MANAGE, describe=DESCRIBE)
    return Built(stack, template(stack), network, config, acknowledged(stack))


@pytest.fixture(scope="module")
def new_vpc() -> Built:
    return _build(vpc_new_config())


@pytest.fixture(scope="module")
def nat_vpc() -> Built:
    return _build(vpc_nat_config(), grantee=True)


@pytest.fixture(scope="module")
def existing() -> Built:
    return _build(vpc_existing_config(), grantee=True)


@pytest.fixture(scope="module")
def existing_without_endpoints() -> Built:
    """A VPC that already has the endpoints (with private DNS): the stack must not create them a second time."""
    return _build(
        dataclasses.replace(vpc_existing_config(), network=dataclasses.replace(EXISTING_VPC, create_endpoints=False))
    )


def _service(endpoint: dict[str, Any]) -> str:
    """`com.amazonaws.<region>.<service>` as the CDK writes it for an environment-agnostic or a fixed region."""
    name = endpoint["Properties"]["ServiceName"]
    if isinstance(name, dict):
        return name["Fn::Join"][1][-1].removeprefix(".")
    return name.split(".", 3)[3]


def _endpoints(built: Built, endpoint_type: str) -> list[dict[str, Any]]:
    return [
        e
        for e in built.resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == endpoint_type
    ]


def _subnets(built: Built, name: str) -> dict[str, dict[str, Any]]:
    """A created VPC's subnets of one configuration ('Private' or 'Public'), by logical id."""
    return {
        k: v
        for k, v in built.resources("AWS::EC2::Subnet").items()
        if {"Key": "aws-cdk:subnet-name", "Value": name} in v["Properties"]["Tags"]
    }


def _route_tables(built: Built, subnets: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    associations = built.resources("AWS::EC2::SubnetRouteTableAssociation").values()
    return [a["Properties"]["RouteTableId"] for a in associations if a["Properties"]["SubnetId"]["Ref"] in subnets]


# A VPC the stack creates, without NAT (S3 weights).


def test_new_vpc_has_two_isolated_subnets_in_two_azs_carved_from_the_cidr(new_vpc: Built) -> None:
    ((_, vpc),) = new_vpc.resources("AWS::EC2::VPC").items()
    assert vpc["Properties"]["CidrBlock"] == "10.40.0.0/16"
    subnets = new_vpc.resources("AWS::EC2::Subnet").values()
    assert sorted((s["Properties"]["CidrBlock"], str(s["Properties"]["AvailabilityZone"])) for s in subnets) == [
        ("10.40.0.0/20", str({"Fn::Select": [0, {"Fn::GetAZs": ""}]})),
        ("10.40.16.0/20", str({"Fn::Select": [1, {"Fn::GetAZs": ""}]})),
    ]
    assert {s["Properties"]["MapPublicIpOnLaunch"] for s in subnets} == {False}
    assert [t["Value"] for s in subnets for t in s["Properties"]["Tags"] if t["Key"] == "aws-cdk:subnet-type"] == [
        "Isolated"
    ] * 2


def test_without_nat_nothing_routes_to_the_internet(new_vpc: Built) -> None:
    for resource_type in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::Route", "AWS::EC2::EIP"):
        new_vpc.template.resource_count_is(resource_type, 0)


def test_the_model_and_the_lambda_go_into_both_isolated_subnets(new_vpc: Built) -> None:
    assert new_vpc.subnet_ids() == [{"Ref": k} for k in sorted(new_vpc.resources("AWS::EC2::Subnet"))]


def test_the_default_security_group_is_stripped_of_its_rules(new_vpc: Built) -> None:
    ((_, restrict),) = new_vpc.resources("Custom::VpcRestrictDefaultSG").items()
    assert restrict["Properties"]["DefaultSecurityGroupId"] == {
        "Fn::GetAtt": [new_vpc.logical_id(new_vpc.network.vpc), "DefaultSecurityGroup"]
    }


def test_cdks_default_group_provider_skips_three_lambda_checks_with_evidence(new_vpc: Built) -> None:
    (handler,) = [
        f
        for f in new_vpc.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Role"]["Fn::GetAtt"][0].startswith("CustomVpcRestrictDefaultSG")
    ]
    skips = handler["Metadata"]["checkov"]["skip"]
    assert [s["id"] for s in skips] == ["CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_115"]
    assert all(s["comment"].startswith("CDK's provider for restrict_default_security_group") for s in skips)
    assert len({s["comment"] for s in skips}) == 3  # each says why its own check does not apply


def test_the_only_managed_policy_is_on_cdks_default_group_provider(new_vpc: Built) -> None:
    managed = {
        k: r["Properties"]["ManagedPolicyArns"]
        for k, r in new_vpc.resources("AWS::IAM::Role").items()
        if "ManagedPolicyArns" in r["Properties"]
    }
    assert [k.split("Role")[0] for k in managed] == ["CustomVpcRestrictDefaultSGCustomResourceProvider"]
    new_vpc.template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


@pytest.mark.parametrize("client", ["model_security_group", "function_security_group"])
def test_model_and_lambda_groups_send_https_only_and_accept_nothing(new_vpc: Built, client: str) -> None:
    group = new_vpc.group(getattr(new_vpc.network, client))["Properties"]
    assert group["SecurityGroupEgress"] == [HTTPS_OUT]
    assert "SecurityGroupIngress" not in group
    assert group["VpcId"] == {"Ref": new_vpc.logical_id(new_vpc.network.vpc)}


def test_endpoint_group_sends_nothing(new_vpc: Built) -> None:
    assert new_vpc.network.endpoint_security_group is not None
    # CDK's stand-in rule for "no egress" (a security group without rules would allow all).
    assert new_vpc.group(new_vpc.network.endpoint_security_group)["Properties"]["SecurityGroupEgress"] == [
        {
            "CidrIp": "255.255.255.255/32",
            "Description": "Disallow all traffic",
            "FromPort": 252,
            "IpProtocol": "icmp",
            "ToPort": 86,
        }
    ]


def test_endpoints_accept_https_from_the_model_and_the_lambda_only(new_vpc: Built) -> None:
    network = new_vpc.network
    ingress = sorted(
        (r["Properties"] for r in new_vpc.resources("AWS::EC2::SecurityGroupIngress").values()),
        key=lambda r: r["Description"],
    )
    assert {(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress} == {("tcp", 443, 443)}
    endpoints = new_vpc.group_id(network.endpoint_security_group)
    assert [(r["GroupId"], r["SourceSecurityGroupId"], r["Description"]) for r in ingress] == [
        (endpoints, new_vpc.group_id(network.function_security_group), "HTTPS from FunctionSecurityGroup"),
        (endpoints, new_vpc.group_id(network.model_security_group), "HTTPS from ModelSecurityGroup"),
    ]
    # No inline ingress anywhere (not even the VPC's CIDR, the interface endpoints' default).
    assert [
        k
        for k, g in new_vpc.resources("AWS::EC2::SecurityGroup").items()
        if g["Properties"].get("SecurityGroupIngress")
    ] == []


def test_interface_endpoints_are_exactly_the_services_called_with_private_dns(new_vpc: Built) -> None:
    interface = _endpoints(new_vpc, "Interface")
    assert sorted(_service(e) for e in interface) == sorted(EXPECTED_INTERFACE_SERVICES)
    assert sorted(new_vpc.network.interface_endpoints) == sorted(INTERFACE_ENDPOINTS)
    for endpoint in interface:
        props = endpoint["Properties"]
        assert props["PrivateDnsEnabled"] is True
        assert props["SecurityGroupIds"] == [new_vpc.group_id(new_vpc.network.endpoint_security_group)]
        assert props["SubnetIds"] == new_vpc.subnet_ids()


def test_s3_is_a_gateway_endpoint_on_the_private_route_tables(new_vpc: Built) -> None:
    (gateway,) = _endpoints(new_vpc, "Gateway")
    assert _service(gateway) == "s3"
    assert gateway["Properties"]["RouteTableIds"] == [
        {"Ref": k} for k in sorted(new_vpc.resources("AWS::EC2::RouteTable"))
    ]


def test_flow_logs_record_all_traffic_in_a_group_with_the_log_key_and_the_configured_retention(new_vpc: Built) -> None:
    ((_, flow_log),) = new_vpc.resources("AWS::EC2::FlowLog").items()
    assert (flow_log["Properties"]["TrafficType"], flow_log["Properties"]["ResourceId"]) == (
        "ALL",
        {"Ref": new_vpc.logical_id(new_vpc.network.vpc)},
    )
    ((group_id, group),) = new_vpc.resources("AWS::Logs::LogGroup").items()
    assert flow_log["Properties"]["LogGroupName"] == {"Ref": group_id}
    assert group["Properties"]["RetentionInDays"] == new_vpc.config.monitoring.log_retention_days
    ((key_id, key),) = new_vpc.resources("AWS::KMS::Key").items()
    assert key["Properties"]["Description"] == "llm-async: the stack's CloudWatch log groups"
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_new_vpc_acknowledges_only_the_flow_log_roles_inline_policy(new_vpc: Built) -> None:
    assert sorted(new_vpc.acknowledged) == sorted((FLOW_LOG_ROLE, f"{pack}-IAMNoInlinePolicy") for pack in PACKS)


# A VPC the stack creates, with NAT (Hub weights).


def test_nat_mode_adds_public_subnets_that_give_no_public_ip(nat_vpc: Built) -> None:
    public, private = _subnets(nat_vpc, "Public"), _subnets(nat_vpc, "Private")
    assert (len(public), len(private)) == (2, 2)
    assert sorted(s["Properties"]["CidrBlock"] for s in public.values()) == ["10.40.0.0/24", "10.40.1.0/24"]
    # Public subnets hold the NAT gateway (its own Elastic IP): no public IP for anything else.
    assert {s["Properties"]["MapPublicIpOnLaunch"] for s in nat_vpc.resources("AWS::EC2::Subnet").values()} == {False}


def test_nat_mode_has_one_nat_gateway_in_a_public_subnet(nat_vpc: Built) -> None:
    ((_, nat),) = nat_vpc.resources("AWS::EC2::NatGateway").items()
    assert nat["Properties"]["SubnetId"]["Ref"] in _subnets(nat_vpc, "Public")


def test_nat_mode_routes_the_private_subnets_through_the_nat_and_only_the_public_ones_to_the_internet_gateway(
    nat_vpc: Built,
) -> None:
    (nat_id,) = nat_vpc.resources("AWS::EC2::NatGateway")
    (igw_id,) = nat_vpc.resources("AWS::EC2::InternetGateway")
    routes = [r["Properties"] for r in nat_vpc.resources("AWS::EC2::Route").values()]
    assert sorted(
        (str(r["RouteTableId"]), r["DestinationCidrBlock"], str(r.get("NatGatewayId") or r.get("GatewayId")))
        for r in routes
    ) == sorted(
        [(str(t), "0.0.0.0/0", str({"Ref": nat_id})) for t in _route_tables(nat_vpc, _subnets(nat_vpc, "Private"))]
        + [(str(t), "0.0.0.0/0", str({"Ref": igw_id})) for t in _route_tables(nat_vpc, _subnets(nat_vpc, "Public"))]
    )


def test_nat_mode_puts_the_model_and_the_lambda_in_the_private_subnets_only(nat_vpc: Built) -> None:
    assert nat_vpc.subnet_ids() == [{"Ref": k} for k in sorted(_subnets(nat_vpc, "Private"))]


def test_nat_mode_endpoints_are_in_the_private_subnets(nat_vpc: Built) -> None:
    assert {str(e["Properties"]["SubnetIds"]) for e in _endpoints(nat_vpc, "Interface")} == {str(nat_vpc.subnet_ids())}
    (gateway,) = _endpoints(nat_vpc, "Gateway")
    assert sorted(map(str, gateway["Properties"]["RouteTableIds"])) == sorted(
        map(str, _route_tables(nat_vpc, _subnets(nat_vpc, "Private")))
    )


def test_nat_mode_acknowledges_the_public_routes_at_the_public_subnets_only(nat_vpc: Built) -> None:
    at_subnets = {key for key in nat_vpc.acknowledged if key[0].startswith("Network/Vpc/") and key[0] != FLOW_LOG_ROLE}
    assert sorted(at_subnets) == sorted(
        (f"Network/Vpc/PublicSubnet{n}", f"{pack}-VPCNoUnrestrictedRouteToIGW") for n in (1, 2) for pack in PACKS
    )
    assert (
        "NAT gateway" in nat_vpc.acknowledged[("Network/Vpc/PublicSubnet1", "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW")]
    )


# A VPC that exists, imported from its ids.


def test_existing_vpc_is_imported_from_its_ids_without_creating_a_network(existing: Built) -> None:
    for resource_type in (
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::RouteTable",
        "AWS::EC2::FlowLog",
        "AWS::Logs::LogGroup",
        "Custom::VpcRestrictDefaultSG",
    ):
        existing.template.resource_count_is(resource_type, 0)
    assert existing.network.subnet_ids == list(EXISTING_VPC.subnet_ids)


def test_existing_vpc_gets_its_three_groups_in_that_vpc(existing: Built) -> None:
    groups = existing.resources("AWS::EC2::SecurityGroup").values()
    assert [g["Properties"]["VpcId"] for g in groups] == [EXISTING_VPC.vpc_id] * 3


def test_existing_vpc_gets_the_same_endpoints_in_its_subnets_and_route_tables(existing: Built) -> None:
    (gateway,) = _endpoints(existing, "Gateway")
    assert gateway["Properties"]["RouteTableIds"] == list(EXISTING_VPC.route_table_ids)
    interface = _endpoints(existing, "Interface")
    assert sorted(_service(e) for e in interface) == sorted(EXPECTED_INTERFACE_SERVICES)
    assert {tuple(e["Properties"]["SubnetIds"]) for e in interface} == {EXISTING_VPC.subnet_ids}
    # The stack is pinned to us-east-1: the service names are literal.
    assert {e["Properties"]["ServiceName"] for e in interface} == {
        f"com.amazonaws.us-east-1.{s}" for s in EXPECTED_INTERFACE_SERVICES
    }


def test_existing_vpc_without_endpoints_creates_no_endpoint_and_no_endpoint_group(
    existing_without_endpoints: Built,
) -> None:
    built = existing_without_endpoints
    built.template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    built.template.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)
    assert (built.network.endpoint_security_group, built.network.s3_endpoint, built.network.interface_endpoints) == (
        None,
        None,
        {},
    )
    # The model's and the Lambda's groups remain: they reach the VPC's own endpoints over HTTPS.
    groups = built.resources("AWS::EC2::SecurityGroup").values()
    assert [(g["Properties"]["VpcId"], g["Properties"]["SecurityGroupEgress"]) for g in groups] == [
        (EXISTING_VPC.vpc_id, [HTTPS_OUT])
    ] * 2


def test_existing_vpc_without_route_tables_or_endpoints_places_the_model_and_lambda_in_its_subnets() -> None:
    # What ExistingVpc accepts without endpoints (tests/network/test_config.py): zones, but no route tables.
    network = ExistingVpc(
        vpc_id=EXISTING_VPC.vpc_id,
        subnet_ids=EXISTING_VPC.subnet_ids,
        availability_zones=EXISTING_VPC.availability_zones,
        create_endpoints=False,
        internet_egress=True,
    )
    built = _build(dataclasses.replace(vpc_existing_config(), network=network))
    built.template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    assert built.network.subnet_ids == list(EXISTING_VPC.subnet_ids)


# grant_network_interfaces, on a role of a test's own.


def _ec2_arn(rest: str | list[Any]) -> dict[str, Any]:
    """An ec2 ARN in the existing-VPC stack: region pinned, account agnostic."""
    return {
        "Fn::Join": [
            "",
            ["arn:aws:ec2:us-east-1:", {"Ref": "AWS::AccountId"}, *([rest] if isinstance(rest, str) else rest)],
        ]
    }


def test_grant_creates_interfaces_only_in_our_subnets_with_the_given_group(existing: Built) -> None:
    statement = existing.grantee_statements()["CreateInterfacesInOurSubnets"]
    assert statement["Action"] == "ec2:CreateNetworkInterface"
    assert sorted(map(str, statement["Resource"])) == sorted(
        map(
            str,
            [
                _ec2_arn(":network-interface/*"),
                *(_ec2_arn(f":subnet/{subnet}") for subnet in EXISTING_VPC.subnet_ids),
                _ec2_arn([":security-group/", existing.group_id(existing.network.model_security_group)]),
            ],
        )
    )


def test_grant_manages_the_interfaces_of_this_account_and_region_with_the_given_actions(existing: Built) -> None:
    statement = existing.grantee_statements()["ManageOwnInterfaces"]
    assert (statement["Action"], statement["Resource"]) == (MANAGE[0], _ec2_arn(":network-interface/*"))


def test_grant_describes_with_the_given_actions_on_any_resource(existing: Built) -> None:
    # EC2's Describe* actions support no resource-level permission.
    statement = existing.grantee_statements()["DescribeNetwork"]
    assert (statement["Action"], statement["Resource"]) == (DESCRIBE, "*")


def test_grant_names_only_the_subnets_the_network_places_compute_in(nat_vpc: Built) -> None:
    resources = nat_vpc.grantee_statements()["CreateInterfacesInOurSubnets"]["Resource"]
    refs = {part["Ref"] for arn in resources for part in arn["Fn::Join"][1] if isinstance(part, dict) and "Ref" in part}
    assert refs & set(nat_vpc.resources("AWS::EC2::Subnet")) == set(_subnets(nat_vpc, "Private"))


@pytest.mark.parametrize(
    ("which", "interfaces"),
    [
        ("existing", "arn:aws:ec2:us-east-1:<AWS::AccountId>:network-interface/*"),
        ("nat_vpc", "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*"),
    ],
)
def test_grant_acknowledges_the_interface_wildcard_at_the_role(
    request: pytest.FixtureRequest, which: str, interfaces: str
) -> None:
    built: Built = request.getfixturevalue(which)
    at_role = {finding: reason for (path, finding), reason in built.acknowledged.items() if path == "Grantee"}
    assert list(at_role) == [f"AwsSolutions-IAM5[Resource::{interfaces}]"]
    assert "their ids cannot be known before" in at_role[f"AwsSolutions-IAM5[Resource::{interfaces}]"]
