"""What several test modules need alike: a bare stack's template to read, the ARNs CDK joins, an existing VPC."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from llm_async.network.config import ExistingVpc
from tests.synths import EXISTING_VPC


@dataclass(frozen=True)
class BuiltStack:
    """A bare stack (tests/constructs.py) and its template; a test module's `Built` adds what it built in it."""

    stack: cdk.Stack
    template: Template

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return self.template.find_resources(resource_type)

    def ref(self, value: Any) -> Any:
        """A token as the template writes it."""
        return self.stack.resolve(value)


def agnostic_arn(service: str, resource: str) -> dict[str, Any]:
    """`arn:<partition>:<service>:<region>:<account>:<resource>` as CDK joins it in an environment-agnostic stack."""
    parts = ["arn:", {"Ref": "AWS::Partition"}, f":{service}:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]
    return {"Fn::Join": ["", [*parts, f":{resource}"]]}


def deny_plain_http_to_queue(queue_id: str) -> dict[str, Any]:
    """The statement `enforce_ssl=True` puts in a queue's policy: any request to it not over TLS is refused."""
    return {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    }


def queue_policy_statements(template: Template, queue_id: str) -> list[dict[str, Any]]:
    """The statements of the one QueuePolicy that names the queue `queue_id`."""
    (policy,) = [
        p for p in template.find_resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]  # fmt: skip
    return policy["Properties"]["PolicyDocument"]["Statement"]


def existing_vpc(**changes: Any) -> ExistingVpc:
    """The synths' existing VPC, but without internet egress (ExistingVpc's default), with `changes`."""
    return dataclasses.replace(EXISTING_VPC, **{"internet_egress": False, **changes})
