"""Acknowledging a cdk-nag finding at the one resource it concerns, with the evidence that makes it safe."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct


def acknowledge(resource: IConstruct, finding_id: str, evidence: str) -> None:
    """`finding_id` is one rule, or one finding of it (`AwsSolutions-IAM5[Resource::…]`)."""
    cdk.Validations.of(resource).acknowledge(cdk.Acknowledgment(id=finding_id, reason=evidence))


# cdk-nag 3 rule-pack prefixes of finding ids, e.g. "HIPAA.Security-LambdaDLQ".
HIPAA, NIST, PCI, SERVERLESS = "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "Serverless"
# The three packs that share most rule names (IAMNoInlinePolicy, S3BucketReplicationEnabled, ...).
HIPAA_NIST_PCI = (HIPAA, NIST, PCI)


INLINE_POLICY_EVIDENCE = (
    "The role's policy is the one CDK grants write: inline, created, changed and deleted with this one role"
    " and scoped per statement to single resources; a managed policy could be attached to other principals."
)


def rule_ids(rule: str, packs: tuple[str, ...]) -> tuple[str, ...]:
    """The finding ids of one rule in several packs, e.g. ("HIPAA.Security-LambdaDLQ", "NIST.800.53.R5-LambdaDLQ")."""
    return tuple(f"{pack}-{rule}" for pack in packs)


def acknowledge_rule(resource: IConstruct, rule: str, packs: tuple[str, ...], evidence: str) -> None:
    """The same rule in several packs (e.g. HIPAA, NIST, PCI): one acknowledgment per pack's finding id."""
    for finding_id in rule_ids(rule, packs):
        acknowledge(resource, finding_id, evidence)


def waive(resource: IConstruct, *, nag: str | tuple[str, ...], checkov: str, evidence: str) -> None:
    """One property of `resource` that both scanners flag: each cdk-nag finding id acknowledged and the
    checkov check skipped, with the same evidence, at that resource."""
    for finding_id in (nag,) if isinstance(nag, str) else nag:
        acknowledge(resource, finding_id, evidence)
    skip_checkov(resource, checkov, evidence)


def wildcard_resource_finding(scope: IConstruct, arn: str) -> str:
    """The id cdk-nag gives an IAM5 wildcard-resource finding on `arn`, with tokens in its `<Ref>` form."""
    resolved = cdk.Stack.of(scope).resolve(arn)
    parts = resolved["Fn::Join"][1] if isinstance(resolved, dict) and "Fn::Join" in resolved else [resolved]
    return "AwsSolutions-IAM5[Resource::" + "".join(_nag_part(part) for part in parts) + "]"


def acknowledge_wildcard(resource: IConstruct, arn: str, evidence: str) -> None:
    """Acknowledges, on `resource`, the IAM5 finding of a grant on `arn` (a wildcard ARN: the `*` and why)."""
    acknowledge(resource, wildcard_resource_finding(resource, arn), evidence)


def acknowledge_prefix_grant(grantee: iam.IGrantable, objects_arn: str, evidence: str) -> None:
    """Acknowledges, on the grantee's role, the IAM5 finding of a grant on every object under one prefix
    (`objects_arn` ends in `*`). A principal that is no construct of this app (imported) carries no finding."""
    principal = grantee.grant_principal
    if isinstance(principal, Construct):
        acknowledge_wildcard(principal, objects_arn, evidence)


def _nag_part(part: str | dict) -> str:
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"<{part['Ref']}>"
    if "Fn::GetAtt" in part:
        return f"<{'.'.join(part['Fn::GetAtt'])}>"
    # Any other function (Fn::Select of a split ARN, Fn::ImportValue, Fn::GetStackOutput) as cdk-nag writes it:
    # compact JSON, as the batch state machine's Distributed Map policy and a cross-stack reference showed.
    return json.dumps(part, separators=(",", ":"))


def skip_checkov(resource: IConstruct, check_id: str, evidence: str) -> None:
    """Records a checkov skip (one check id) in the CloudFormation metadata of `resource`'s own resource.

    `resource` is the L1 resource or an L2 whose `node.default_child` is. checkov reads
    `Metadata.checkov.skip[].id/comment` and reports the check as skipped with that comment.
    """
    cfn = resource if isinstance(resource, cdk.CfnResource) else resource.node.default_child
    if not isinstance(cfn, cdk.CfnResource):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource to carry a checkov skip")
    if not evidence.strip():
        raise ValueError(f"a checkov skip of {check_id} needs its evidence")
    checkov = cfn.get_metadata("checkov") or {"skip": []}
    if any(skip["id"] == check_id for skip in checkov["skip"]):
        raise ValueError(f"{check_id} is already skipped on {resource.node.path}")
    checkov["skip"].append({"id": check_id, "comment": evidence})
    cfn.add_metadata("checkov", checkov)
