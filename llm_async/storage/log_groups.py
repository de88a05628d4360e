"""CloudWatch log groups with the configured retention: the stack creates every group it writes to."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def log_group(
    scope: Construct,
    id_: str,
    *,
    retention_days: int,
    encryption_key: kms.IKey,
    removal_policy: cdk.RemovalPolicy,
    name: str | None = None,
) -> logs.LogGroup:
    """`retention_days` is one of CloudWatch's periods (`config.LOG_RETENTION_DAYS`, validated there)."""
    group = logs.LogGroup(scope, id_, log_group_name=name, encryption_key=encryption_key, removal_policy=removal_policy)
    # RetentionDays' members are named, not numbered: set the validated day count on the L1.
    group.node.default_child.retention_in_days = retention_days  # type: ignore[union-attr]
    return group
