"""CloudWatch log groups: the stack creates every group it writes to, all with one retention, key and removal policy."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


@dataclass(frozen=True)
class LogGroups:
    """How the stack's log groups are made; passed to each construct that writes logs."""

    retention_days: int
    """One of CloudWatch's periods (`monitoring.config.LOG_RETENTION_DAYS`, validated there)."""
    encryption_key: kms.IKey
    removal_policy: cdk.RemovalPolicy

    def create(self, scope: Construct, id_: str, *, name: str | None = None) -> logs.LogGroup:
        group = logs.LogGroup(
            scope, id_, log_group_name=name, encryption_key=self.encryption_key, removal_policy=self.removal_policy
        )
        # RetentionDays' members are named, not numbered: set the validated day count on the L1.
        group.node.default_child.retention_in_days = self.retention_days  # type: ignore[union-attr]
        return group
