"""VPC mode: private subnets for the model and the API's Lambda, and the VPC endpoints they call AWS through."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_async.compliance import findings
from llm_async.network.config import ExistingVpc, NewVpc
from llm_async.storage.log_groups import LogGroups

HTTPS = ec2.Port.tcp(443)

# Interface endpoints, only for the AWS APIs something in the VPC calls itself. Not here, on purpose:
# CloudWatch Logs (the Lambda service delivers the function's logs, Powertools metrics included, and
# SageMaker ships the endpoint's logs and metrics from its own hosts); KMS (S3 and SNS call KMS for
# their SSE-KMS objects and topics, the callers never do); STS (both services hand their roles'
# credentials to the code); ECR (SageMaker pulls the image outside the model's network interfaces).
INTERFACE_ENDPOINTS: dict[str, tuple[ec2.InterfaceVpcEndpointAwsService, str]] = {
    "SageMakerRuntime": (
        ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
        "the Lambda submits requests with InvokeEndpointAsync",
    ),
    "SageMakerApi": (
        ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
        "the Lambda reads the instance count with DescribeEndpoint before it wakes the endpoint",
    ),
    "CloudWatch": (
        ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
        "the Lambda wakes the endpoint with SetAlarmState on the wake alarm",
    ),
    "XRay": (
        ec2.InterfaceVpcEndpointAwsService.XRAY,
        "active tracing: the X-Ray daemon inside the function's sandbox sends its segments from the function's network",
    ),
    "Sns": (
        ec2.InterfaceVpcEndpointAwsService.SNS,
        "the async inference agent on the endpoint's instances publishes success/error notifications",
    ),
}


class PrivateNetwork(Construct):
    """The VPC (created or imported), one security group each for the model, the Lambda and the endpoints."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: NewVpc | ExistingVpc,
        logs: LogGroups,
    ) -> None:
        """`logs`: for the flow logs of a created VPC (an imported VPC's are its owner's)."""
        super().__init__(scope, id_)
        if isinstance(config, NewVpc):
            self.vpc = self._new_vpc(config, logs)
            subnet_type = ec2.SubnetType.PRIVATE_WITH_EGRESS if config.nat_gateways else ec2.SubnetType.PRIVATE_ISOLATED
            self.subnets = self.vpc.select_subnets(subnet_type=subnet_type).subnets
            create_endpoints = True
        else:
            self.vpc, self.subnets = self._existing_vpc(config)
            create_endpoints = config.create_endpoints
        self.model_security_group = self._client_security_group(
            "ModelSecurityGroup", "llm-async SageMaker model: HTTPS out only (VPC endpoints, S3, NAT if any)"
        )
        self.function_security_group = self._client_security_group(
            "FunctionSecurityGroup", "llm-async API Lambda: HTTPS out only (VPC endpoints and S3)"
        )
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        self.endpoint_security_group: ec2.SecurityGroup | None = None
        self.s3_endpoint: ec2.GatewayVpcEndpoint | None = None
        if create_endpoints:
            self._endpoints()

    @property
    def subnet_selection(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnets=self.subnets)

    @property
    def subnet_ids(self) -> list[str]:
        return [subnet.subnet_id for subnet in self.subnets]

    def grant_network_interfaces(
        self, role: iam.Role, security_group: ec2.ISecurityGroup, *, manage: list[str], describe: list[str]
    ) -> None:
        """What a service needs to put `role`'s compute into the private subnets, scoped as far as EC2 allows.

        CreateNetworkInterface names its subnet and security group, so it is limited to ours; the
        interfaces themselves are created at run time, so the actions on them name any interface of this
        account and region. Describe* actions support no resource-level permission at all.
        """
        stack = cdk.Stack.of(self)
        interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="CreateInterfacesInOurSubnets",
                actions=["ec2:CreateNetworkInterface"],
                resources=[
                    interfaces,
                    *(stack.format_arn(service="ec2", resource="subnet", resource_name=s) for s in self.subnet_ids),
                    stack.format_arn(service="ec2", resource="security-group", resource_name=security_group.security_group_id),
                ],
            )
        )
        role.add_to_principal_policy(iam.PolicyStatement(sid="ManageOwnInterfaces", actions=manage, resources=[interfaces]))
        role.add_to_principal_policy(iam.PolicyStatement(sid="DescribeNetwork", actions=describe, resources=["*"]))
        findings.acknowledge_wildcard(
            role,
            interfaces,
            "The network interfaces the service creates for this role at run time: their ids cannot be"
            " known before; creating one is limited to this stack's subnets and security group.",
        )

    def _new_vpc(self, config: NewVpc, logs: LogGroups) -> ec2.Vpc:
        private = ec2.SubnetConfiguration(
            name="Private",
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS if config.nat_gateways else ec2.SubnetType.PRIVATE_ISOLATED,
            cidr_mask=20,
        )
        # Only for the NAT gateways, which carry their own Elastic IPs: nothing there gets a public IP by default.
        public = ec2.SubnetConfiguration(
            name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24, map_public_ip_on_launch=False
        )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.cidr),
            # SageMaker requires subnets in two AZs, even for one instance.
            max_azs=2,
            # CDK strips the default group's rules (a custom resource): nothing may use it unnoticed.
            restrict_default_security_group=True,
            nat_gateways=config.nat_gateways,
            subnet_configuration=[public, private] if config.nat_gateways else [private],
        )
        _skip_restrict_default_sg_provider(self)
        for subnet in vpc.public_subnets:
            findings.acknowledge_rule(
                subnet,
                "VPCNoUnrestrictedRouteToIGW",
                findings.HIPAA_NIST_PCI,
                "network.nat_gateways ≥ 1 (Hub weights): a NAT gateway needs a public subnet routed to the"
                " internet gateway. Only the NAT gateways live here; the model and the Lambda are in the"
                " private subnets, whose security groups allow outbound HTTPS only and no inbound traffic.",
            )
        # Flow logs name every peer of the model and the Lambda: encrypted like the stack's other groups.
        flow_log_group = logs.create(self, "FlowLogs")
        flow_log = vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        if flow_log.iam_role is not None:
            findings.acknowledge_rule(flow_log.iam_role, "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
        return vpc

    def _existing_vpc(self, config: ExistingVpc) -> tuple[ec2.IVpc, list[ec2.ISubnet]]:
        """From the configured ids alone (`from_vpc_attributes`, not `from_lookup`): no AWS call at synth."""
        zones = config.availability_zones or (None,) * len(config.subnet_ids)
        tables = config.route_table_ids or (None,) * len(config.subnet_ids)
        subnets = [
            ec2.Subnet.from_subnet_attributes(
                self, f"Subnet{index}", subnet_id=subnet_id, availability_zone=zone, route_table_id=table
            )
            for index, (subnet_id, zone, table) in enumerate(zip(config.subnet_ids, zones, tables, strict=True), start=1)
        ]
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=config.vpc_id,
            availability_zones=list(config.availability_zones) or [],
        )
        return vpc, subnets

    def _client_security_group(self, id_: str, description: str) -> ec2.SecurityGroup:
        """No ingress; egress HTTPS only. Without a NAT gateway the only HTTPS peers are the endpoints and S3."""
        group = ec2.SecurityGroup(self, id_, vpc=self.vpc, description=description, allow_all_outbound=False)
        group.add_egress_rule(ec2.Peer.any_ipv4(), HTTPS, "HTTPS to AWS APIs")
        return group

    def _endpoints(self) -> None:
        # The gateway endpoint: S3 without an interface's hourly cost. The Lambda writes requests and reads
        # results; SageMaker reads S3 weights, async inputs and writes outputs through the model's interfaces.
        self.s3_endpoint = ec2.GatewayVpcEndpoint(
            self,
            "S3",
            vpc=self.vpc,
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[self.subnet_selection],
        )
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="llm-async VPC interface endpoints: HTTPS from the model and the API Lambda only",
            allow_all_outbound=False,
        )
        for client in (self.model_security_group, self.function_security_group):
            self.endpoint_security_group.add_ingress_rule(client, HTTPS, f"HTTPS from {client.node.id}")
        for id_, (service, _why) in INTERFACE_ENDPOINTS.items():
            self.interface_endpoints[id_] = ec2.InterfaceVpcEndpoint(
                self,
                id_,
                vpc=self.vpc,
                service=service,
                subnets=self.subnet_selection,
                security_groups=[self.endpoint_security_group],
                # Not the default "open to the VPC's CIDR": the ingress rules above name the two clients.
                open=False,
                private_dns_enabled=True,
            )


def _skip_restrict_default_sg_provider(scope: Construct) -> None:
    """checkov on the stack-wide Lambda of CDK's `restrict_default_security_group` custom resource."""
    provider = cdk.Stack.of(scope).node.find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    handler = provider.node.find_child("Handler")
    what = (
        "CDK's provider for restrict_default_security_group: CloudFormation invokes it only while deploying,"
        " to revoke the default security group's rules, and waits for its answer."
    )
    findings.skip_checkov(handler, "CKV_AWS_116", what + " A failure fails that stack operation; no event is left for a dead-letter queue.")
    findings.skip_checkov(handler, "CKV_AWS_117", what + " It calls the EC2 API only, and from inside the VPC it would need the VPC's own endpoints or NAT.")
    findings.skip_checkov(handler, "CKV_AWS_115", what + " One invocation per VPC change: nothing to bound with reserved concurrency.")
