"""RotatingKey and LogKey alone: rotation, removal, and the log key's grant to CloudWatch Logs of its region."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from llm_async.storage.keys import LogKey, RotatingKey
from tests.constructs import bare_stack, template
from tests.helpers import agnostic_arn

LOGS_STATEMENT = "CloudWatchLogsOfThisAccountAndRegion"


def _keys(region: str | None, account: str | None) -> Template:
    stack = bare_stack(region=region, account=account)
    RotatingKey(stack, "Payloads", description="test: payloads", removal_policy=cdk.RemovalPolicy.DESTROY)
    RotatingKey(stack, "Kept", description="test: kept", removal_policy=cdk.RemovalPolicy.RETAIN)
    LogKey(stack, "LogKey", removal_policy=cdk.RemovalPolicy.DESTROY)
    return template(stack)


@pytest.fixture(scope="module")
def agnostic() -> Template:
    """Environment-agnostic, as the sandbox is."""
    return _keys(None, None)


@pytest.fixture(scope="module")
def pinned() -> Template:
    return _keys("eu-west-1", "123456789012")


def _key(built: Template, description_start: str) -> dict[str, Any]:
    (key,) = [
        k
        for k in built.find_resources("AWS::KMS::Key").values()
        if k["Properties"]["Description"].startswith(description_start)
    ]
    return key


def _logs_statement(built: Template) -> dict[str, Any]:
    (statement,) = [
        s for s in _key(built, "llm-async")["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == LOGS_STATEMENT
    ]
    return statement


def test_every_key_rotates(agnostic: Template) -> None:
    keys = agnostic.find_resources("AWS::KMS::Key")
    assert len(keys) == 3
    assert {k["Properties"]["EnableKeyRotation"] for k in keys.values()} == {True}


def test_removal_policy_is_the_one_given(agnostic: Template) -> None:
    assert (_key(agnostic, "test: payloads")["DeletionPolicy"], _key(agnostic, "test: kept")["DeletionPolicy"]) == (
        "Delete",
        "Retain",
    )


def test_a_rotating_key_trusts_only_its_account(agnostic: Template) -> None:
    (statement,) = _key(agnostic, "test: payloads")["Properties"]["KeyPolicy"]["Statement"]
    assert statement["Principal"] == {
        "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
    }


def test_log_key_says_what_it_encrypts(agnostic: Template) -> None:
    assert _key(agnostic, "llm-async")["Properties"]["Description"] == "llm-async: the stack's CloudWatch log groups"


def test_log_key_lets_cloudwatch_logs_of_the_stacks_region_use_it(agnostic: Template, pinned: Template) -> None:
    assert _logs_statement(agnostic)["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    }
    assert _logs_statement(pinned)["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}


def test_log_key_is_usable_for_log_groups_of_this_account_and_region_only(agnostic: Template, pinned: Template) -> None:
    assert _logs_statement(pinned)["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:123456789012:log-group:*"}
    }
    log_groups = _logs_statement(agnostic)["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert log_groups == agnostic_arn("logs", "log-group:*")


def test_log_key_grants_cloudwatch_logs_the_documented_actions_on_itself(pinned: Template) -> None:
    statement = _logs_statement(pinned)
    assert (statement["Effect"], statement["Resource"]) == ("Allow", "*")  # in a key policy, "*" is this key
    assert statement["Action"] == [
        "kms:Decrypt*",
        "kms:Describe*",
        "kms:Encrypt*",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    ]


def test_log_key_policy_has_no_other_principal(pinned: Template) -> None:
    statements = _key(pinned, "llm-async")["Properties"]["KeyPolicy"]["Statement"]
    assert [s["Principal"] for s in statements] == [
        {"AWS": "arn:aws:iam::123456789012:root"},
        {"Service": "logs.eu-west-1.amazonaws.com"},
    ]
