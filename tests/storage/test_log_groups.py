"""LogGroups alone: every group it creates has the one retention, key and removal policy it was given."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from llm_async.storage.keys import LogKey
from llm_async.storage.log_groups import LogGroups
from tests.constructs import bare_stack, template


@pytest.fixture(scope="module")
def built() -> tuple[Template, str]:
    stack = bare_stack()
    key = LogKey(stack, "LogKey", removal_policy=cdk.RemovalPolicy.DESTROY).key
    # A CloudWatch period (RetentionDays calls it THIRTEEN_MONTHS): the validated day count reaches the L1 as is.
    kept = LogGroups(retention_days=400, encryption_key=key, removal_policy=cdk.RemovalPolicy.RETAIN)
    kept.create(stack, "Named", name="/llm-async/test")
    kept.create(stack, "Unnamed")
    LogGroups(retention_days=7, encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY).create(stack, "Short")
    return template(stack), stack.get_logical_id(key.node.default_child)


def _group(built: tuple[Template, str], id_prefix: str) -> dict[str, Any]:
    (group,) = [
        g
        for logical_id, g in built[0].find_resources("AWS::Logs::LogGroup").items()
        if logical_id.startswith(id_prefix)
    ]
    return group


def test_retention_is_the_configured_day_count(built: tuple[Template, str]) -> None:
    assert [_group(built, name)["Properties"]["RetentionInDays"] for name in ("Named", "Unnamed", "Short")] == [
        400,
        400,
        7,
    ]


def test_every_group_is_encrypted_with_the_given_key(built: tuple[Template, str]) -> None:
    template_, key_id = built
    groups = template_.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 3
    assert [g["Properties"]["KmsKeyId"] for g in groups.values()] == [{"Fn::GetAtt": [key_id, "Arn"]}] * 3


def test_removal_policy_is_the_one_given(built: tuple[Template, str]) -> None:
    assert [_group(built, name)["DeletionPolicy"] for name in ("Named", "Unnamed", "Short")] == [
        "Retain",
        "Retain",
        "Delete",
    ]


def test_a_group_is_named_only_when_asked(built: tuple[Template, str]) -> None:
    assert _group(built, "Named")["Properties"]["LogGroupName"] == "/llm-async/test"
    assert "LogGroupName" not in _group(built, "Unnamed")["Properties"]
