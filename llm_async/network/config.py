"""VPC mode's settings: a VPC the stack creates, or an existing one given by its ids (no lookup at synth)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_async.validators import fail, int_in_range, matches

_VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
_SUBNET_ID = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
_ROUTE_TABLE_ID = re.compile(r"^rtb-([0-9a-f]{8}|[0-9a-f]{17})$")
_AVAILABILITY_ZONE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
_IPV4_CIDR = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")


@dataclass(frozen=True)
class NewVpc:
    """VPC mode with a VPC the stack creates: private subnets in two AZs, no internet route unless NAT is asked for."""

    nat_gateways: int = 0
    """0: isolated subnets, AWS services through VPC endpoints only. ≥ 1: public subnets and NAT gateways
    too, for Hub weights (the container downloads them from huggingface.co)."""
    cidr: str = "10.40.0.0/16"

    def __post_init__(self) -> None:
        int_in_range("network.nat_gateways", self.nat_gateways, 0, 2)
        match = _IPV4_CIDR.match(self.cidr) if isinstance(self.cidr, str) else None
        if not match or any(int(octet) > 255 for octet in match.groups()[:4]) or not 16 <= int(match.group(5)) <= 24:
            fail("network.cidr", "an IPv4 CIDR block /16–/24 like '10.40.0.0/16'", self.cidr)


@dataclass(frozen=True)
class ExistingVpc:
    """VPC mode in a VPC that exists: imported from these ids, so synth makes no AWS lookup call."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    """Private subnets in at least two AZs (SageMaker requires two, even for one instance)."""
    availability_zones: tuple[str, ...] = ()
    """One per subnet, in the same order: the imported subnets' zones (CDK needs them to import the VPC), and
    where each interface endpoint puts its network interface."""
    route_table_ids: tuple[str, ...] = ()
    """The subnets' route tables, one per subnet: the S3 gateway endpoint adds its route to them."""
    create_endpoints: bool = True
    """False when the VPC already has the S3 gateway and the interface endpoints (with private DNS):
    a second endpoint with private DNS for the same service fails to create."""
    internet_egress: bool = False
    """The subnets route to the internet (a NAT gateway): needed for Hub weights."""

    def __post_init__(self) -> None:
        if not matches(_VPC_ID, self.vpc_id):
            fail("network.vpc_id", "a VPC id 'vpc-' + 8 or 17 hex digits", self.vpc_id)
        if not isinstance(self.subnet_ids, tuple) or len(self.subnet_ids) < 2:
            fail("network.subnet_ids", "a tuple of at least two private subnet ids in different AZs", self.subnet_ids)
        for subnet_id in self.subnet_ids:
            if not matches(_SUBNET_ID, subnet_id):
                fail("network.subnet_ids", "subnet ids 'subnet-' + 8 or 17 hex digits", subnet_id)
        if len(set(self.subnet_ids)) != len(self.subnet_ids):
            fail("network.subnet_ids", "distinct subnet ids", self.subnet_ids)
        # Always: importing the VPC without its zones fails at synth (ec2.Vpc.from_vpc_attributes needs them).
        self._one_per_subnet(
            "availability_zones",
            "AZs, one per subnet (needed to import the subnets and to place the endpoints' interfaces)",
            _AVAILABILITY_ZONE,
            "AZ names like 'us-east-1a'",
        )
        if len(set(self.availability_zones)) < 2:
            fail("network.availability_zones", "at least two different AZs (SageMaker requires two)", self.availability_zones)
        if self.route_table_ids or self.create_endpoints:
            self._one_per_subnet(
                "route_table_ids",
                "route table ids, one per subnet (the S3 gateway endpoint's routes)",
                _ROUTE_TABLE_ID,
                "route table ids 'rtb-' + 8 or 17 hex digits",
            )

    def _one_per_subnet(self, name: str, what: str, pattern: re.Pattern[str], each: str) -> None:
        values = getattr(self, name)
        count = len(self.subnet_ids)
        if not isinstance(values, tuple) or len(values) != count:
            fail(f"network.{name}", f"a tuple of {count} {what}", values)
        for value in values:
            if not matches(pattern, value):
                fail(f"network.{name}", each, value)
