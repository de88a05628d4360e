"""The pipeline's organisation settings from context: validated, each failure one line naming the field."""

from __future__ import annotations

import json
import re

import pytest

from llm_async.pipeline.config import PipelineConfig
from llm_async.validators import ConfigError
from tests.synths import EXAMPLE_PIPELINE
from tests.test_app import cli_error_line


def _with(**changes) -> dict:
    return {**EXAMPLE_PIPELINE, **changes}


def test_the_example_parses_from_an_object_and_from_json_text() -> None:
    parsed = PipelineConfig.from_context(EXAMPLE_PIPELINE)
    assert parsed == PipelineConfig.from_context(json.dumps(EXAMPLE_PIPELINE))
    assert (parsed.repository, parsed.branch, parsed.stage_accounts["prod"]) == ("example-org/llm-async", "main", "444444444444")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"connectionArn": "arn:aws:iam::111111111111:role/x"}, "context llm-async:pipeline.connectionArn: must be a connection ARN"),
        ({"repository": "llm-async"}, "context llm-async:pipeline.repository: must be 'owner/name' of the repository (got 'llm-async')"),
        ({"branch": "a..b"}, "context llm-async:pipeline.branch: must be a git branch name (got 'a..b')"),
        ({"account": 111111111111}, "context llm-async:pipeline.account: must be a 12-digit AWS account id (as a string) (got 111111111111)"),
        ({"region": "useast1"}, "context llm-async:pipeline.region: must be an AWS region like 'us-east-1' (got 'useast1')"),
        ({"stageAccounts": {"dev": "222222222222"}}, "context llm-async:pipeline.stageAccounts: must be an object with exactly the keys dev, staging, prod (got ['dev'])"),
        (
            {"stageAccounts": {"dev": "2222", "staging": "333333333333", "prod": "444444444444"}},
            "context llm-async:pipeline.stageAccounts.dev: must be a 12-digit AWS account id (as a string) (got '2222')",
        ),
    ],
)
def test_invalid_values_are_one_line_naming_the_field(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        PipelineConfig.from_context(_with(**changes))


def test_unknown_or_missing_keys_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^context llm-async:pipeline: must be an object with the keys .* and optionally hubTokenSecretArn .*'brnch'"):
        PipelineConfig.from_context({**{k: v for k, v in EXAMPLE_PIPELINE.items() if k != "branch"}, "brnch": "main"})
    with pytest.raises(ConfigError, match=r"^context llm-async:pipeline: must be a JSON object"):
        PipelineConfig.from_context("{not json")


def test_a_bad_pipeline_context_stops_the_app_with_one_line(capsys, tmp_path) -> None:
    line = cli_error_line(capsys, tmp_path, {"llm-async:pipeline": _with(region="mars-1")})
    assert line == "llm-async configuration error: context llm-async:pipeline.region: must be an AWS region like 'us-east-1' (got 'mars-1')"


# hubTokenSecretArn (issue 14): the Secrets Manager secret the staging steps read a gated model's token from.

HUB_TOKEN_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:hf-token-AbCdEf"
SECRET_RULE = (
    "context llm-async:pipeline.hubTokenSecretArn: must be absent, or a secret's full ARN"
    " arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX"
)


def test_the_hub_token_secret_is_optional() -> None:
    assert PipelineConfig.from_context(EXAMPLE_PIPELINE).hub_token_secret_arn is None


def test_a_hub_token_secret_arn_is_accepted() -> None:
    parsed = PipelineConfig.from_context(_with(hubTokenSecretArn=HUB_TOKEN_SECRET_ARN))
    assert parsed.hub_token_secret_arn == HUB_TOKEN_SECRET_ARN


def test_a_hub_token_secret_arn_in_another_partition_and_a_path_is_accepted() -> None:
    arn = "arn:aws-us-gov:secretsmanager:us-gov-west-1:111111111111:secret:teams/ml/hf-token-AbCdEf"
    assert PipelineConfig.from_context(_with(hubTokenSecretArn=arn)).hub_token_secret_arn == arn


@pytest.mark.parametrize(
    "value",
    [
        "hf-token",  # a name, not an ARN
        "arn:aws:ssm:us-east-1:111111111111:parameter/hf-token",
        "arn:aws:secretsmanager:us-east-1:1111:secret:hf-token-AbCdEf",
        "arn:aws:secretsmanager:us-east-1:111111111111:secret:",
        "arn:aws:secretsmanager:us-east-1:111111111111:secret:hf token",
        42,
    ],
)
def test_a_bad_hub_token_secret_is_one_line_naming_the_field(value: object) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(f'{SECRET_RULE} (got {value!r})')}$"):
        PipelineConfig.from_context(_with(hubTokenSecretArn=value))
