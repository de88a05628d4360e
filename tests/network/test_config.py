"""NewVpc and ExistingVpc: a VPC the stack creates, or an existing one's ids, checked before anything is synthesized."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from llm_async.network.config import ExistingVpc, NewVpc
from llm_async.validators import ConfigError
from tests.helpers import existing_vpc
from tests.synths import EXISTING_VPC

_SUBNETS = EXISTING_VPC.subnet_ids
_ZONES = EXISTING_VPC.availability_zones
_TABLES = EXISTING_VPC.route_table_ids
# An existing VPC's refusals, each named once: "<refusal> (got <value>)".
_VPC_ID = "network.vpc_id: must be a VPC id 'vpc-' + 8 or 17 hex digits"
_SUBNET_IDS = "network.subnet_ids: must be subnet ids 'subnet-' + 8 or 17 hex digits"
_TWO_SUBNETS = "network.subnet_ids: must be a tuple of at least two private subnet ids in different AZs"
_DISTINCT_SUBNETS = "network.subnet_ids: must be distinct subnet ids"
_ZONES_PER_SUBNET = (
    "network.availability_zones: must be a tuple of 2 AZs, one per subnet (needed to import the subnets and to place"
    " the endpoints' interfaces)"
)
_TWO_ZONES = "network.availability_zones: must be at least two different AZs (SageMaker requires two)"
_ZONE_NAMES = "network.availability_zones: must be AZ names like 'us-east-1a'"
_TABLES_PER_SUBNET = (
    "network.route_table_ids: must be a tuple of 2 route table ids, one per subnet (the S3 gateway endpoint's routes)"
)
_TABLE_IDS = "network.route_table_ids: must be route table ids 'rtb-' + 8 or 17 hex digits"


def _raises(message: str):  # noqa: ANN202
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize(
    ("vpc", "message"),
    [
        (lambda: NewVpc(nat_gateways=3), "network.nat_gateways: must be an integer 0–2 (got 3)"),
        (
            lambda: NewVpc(cidr="10.40.0.0/8"),
            "network.cidr: must be an IPv4 CIDR block /16–/24 like '10.40.0.0/16' (got '10.40.0.0/8')",
        ),
        (
            lambda: NewVpc(cidr="10.400.0.0/16"),
            "network.cidr: must be an IPv4 CIDR block /16–/24 like '10.40.0.0/16' (got '10.400.0.0/16')",
        ),
    ],
)
def test_new_vpc_rules(vpc: Callable[[], NewVpc], message: str) -> None:
    with _raises(message):
        vpc()


@pytest.mark.parametrize("nat_gateways", [-1, True, 1.0])
def test_nat_gateways_is_a_whole_number_from_0_to_2(nat_gateways: Any) -> None:
    with _raises(f"network.nat_gateways: must be an integer 0–2 (got {nat_gateways!r})"):
        NewVpc(nat_gateways=nat_gateways)


@pytest.mark.parametrize("cidr", ["10.40.0.0/25", "10.40.0.0/15", "10.40.0/16", "10.40.0.256/16", "", None])
def test_cidr_is_an_ipv4_block_from_16_to_24_bits(cidr: Any) -> None:
    with _raises(f"network.cidr: must be an IPv4 CIDR block /16–/24 like '10.40.0.0/16' (got {cidr!r})"):
        NewVpc(cidr=cidr)


def test_new_vpc_accepts_its_bounds() -> None:
    NewVpc(nat_gateways=2, cidr="172.16.0.0/24")
    NewVpc(nat_gateways=0, cidr="192.168.0.0/16")


def test_a_new_vpc_has_no_nat_gateway_unless_asked() -> None:
    # No route to the internet by default: the S3-weights case needs none, and a NAT gateway costs by the hour.
    assert NewVpc().nat_gateways == 0


@pytest.mark.parametrize(
    ("changes", "refusal", "got"),
    [
        ({"vpc_id": "vpc-123"}, _VPC_ID, "vpc-123"),
        ({"vpc_id": "subnet-0a1b2c3d"}, _VPC_ID, "subnet-0a1b2c3d"),
        ({"subnet_ids": ("subnet-0a1b2c3d", "sg-0a1b2c3d")}, _SUBNET_IDS, "sg-0a1b2c3d"),
        ({"subnet_ids": ("subnet-0a1b2c3d",)}, _TWO_SUBNETS, ("subnet-0a1b2c3d",)),
        ({"subnet_ids": ("subnet-0a1b2c3d",) * 2}, _DISTINCT_SUBNETS, ("subnet-0a1b2c3d",) * 2),
        ({"availability_zones": ()}, _ZONES_PER_SUBNET, ()),
        ({"availability_zones": ("us-east-1a", "us-east-1a")}, _TWO_ZONES, ("us-east-1a", "us-east-1a")),
        ({"availability_zones": ("us-east-1a", "use1-az2")}, _ZONE_NAMES, "use1-az2"),
        ({"route_table_ids": ("rtb-0123456789abcdef0",)}, _TABLES_PER_SUBNET, ("rtb-0123456789abcdef0",)),
        ({"route_table_ids": ("rtb-0123456789abcdef0", "rt-1")}, _TABLE_IDS, "rt-1"),
    ],
)
def test_existing_vpc_ids(changes: dict[str, Any], refusal: str, got: Any) -> None:
    with _raises(f"{refusal} (got {got!r})"):
        existing_vpc(**changes)


def test_existing_vpc_accepts_ids_of_8_or_17_hex_digits() -> None:
    existing_vpc(
        vpc_id="vpc-0a1b2c3d",
        subnet_ids=("subnet-0a1b2c3d", "subnet-09a8b7c6d5e4f3a21"),
        route_table_ids=("rtb-0a1b2c3d", _TABLES[1]),
    )


def test_subnet_ids_must_be_a_tuple() -> None:
    with _raises(f"{_TWO_SUBNETS} (got {list(_SUBNETS)!r})"):
        existing_vpc(subnet_ids=list(_SUBNETS))


def test_existing_vpc_without_endpoints_needs_no_route_tables_but_its_zones() -> None:
    # Route tables carry the S3 gateway's routes: no endpoints, no need. Zones import the subnets: always needed.
    accepted = existing_vpc(create_endpoints=False, route_table_ids=())
    assert accepted.route_table_ids == () and not accepted.create_endpoints
    with _raises(f"{_TABLES_PER_SUBNET} (got ())"):
        existing_vpc(create_endpoints=True, route_table_ids=())
    with _raises(f"{_ZONES_PER_SUBNET} (got ())"):
        existing_vpc(create_endpoints=False, availability_zones=(), route_table_ids=())


@pytest.mark.parametrize(
    ("changes", "refusal", "got"),
    [
        ({"availability_zones": ("us-east-1a",)}, _ZONES_PER_SUBNET, ("us-east-1a",)),
        ({"availability_zones": ("us-east-1a", "us-east-1a")}, _TWO_ZONES, ("us-east-1a", "us-east-1a")),
        ({"route_table_ids": ("rtb-0123456789abcdef0", "rt-1")}, _TABLE_IDS, "rt-1"),
    ],
)
def test_zones_and_route_tables_given_without_endpoints_are_still_checked(
    changes: dict[str, Any], refusal: str, got: Any
) -> None:
    fields = {"route_table_ids": (), **changes}
    with _raises(f"{refusal} (got {got!r})"):
        existing_vpc(create_endpoints=False, **fields)


def test_an_existing_vpc_gets_endpoints_and_no_internet_unless_told() -> None:
    # Endpoints by default: without them (or a NAT) the model and the Lambda could reach no AWS API.
    vpc = ExistingVpc("vpc-0a1b2c3d", _SUBNETS, _ZONES, _TABLES)
    assert (vpc.create_endpoints, vpc.internet_egress) == (True, False)
