"""Where the promotion pipeline lives and what it deploys to: the values that belong to one organisation.

Everything else a stage needs (model, instance, capacity, throttling, retention) is typed code in
`environments.py`. The repository connection and the account ids differ for every user of this
project, so they come from the CDK context key `llm-async:pipeline` (a JSON object in `cdk.json`,
which the pipeline's own synth step reads too), validated here like the rest of the configuration.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from llm_async.validators import ACCOUNT, REGION, fail, matches

CONTEXT_KEY = "llm-async:pipeline"
PIPELINE_STACK_ID = "LlmAsyncPipelineStack"
STAGES = ("dev", "staging", "prod")
"""Promotion order. dev and staging deploy on every push; prod waits for a manual approval."""

_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z]{2}(-[a-z]+)+-\d:\d{12}:connection/[0-9a-f-]{36}$"
)
_REPOSITORY = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)[\w./-]{1,255}(?<![/.])$")
_FIELDS = ("connectionArn", "repository", "branch", "account", "region", "stageAccounts")
_OPTIONAL_FIELDS = ("hubTokenSecretArn",)
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z]{2,4}(-[a-z]+)+-\d:\d{12}:secret:[\w/+=.@-]+$")


@dataclass(frozen=True)
class PipelineConfig:
    connection_arn: str
    """A CodeConnections (or CodeStar Connections) connection to GitHub, GitLab or Bitbucket."""
    repository: str
    """owner/name on that provider."""
    branch: str
    account: str
    """The tooling account that hosts the pipeline."""
    region: str
    stage_accounts: dict[str, str]
    """Account id of each stage in STAGES; stages may share an account with each other or the pipeline."""
    hub_token_secret_arn: str | None = None
    """A Secrets Manager secret of the pipeline account holding a Hugging Face token (the secret string is the token):
    the staging steps read it to stage a gated model. None: only ungated models can be staged."""

    def __post_init__(self) -> None:
        where = f"context {CONTEXT_KEY}"
        if not isinstance(self.connection_arn, str) or not _CONNECTION_ARN.match(self.connection_arn):
            fail(f"{where}.connectionArn", "a connection ARN like arn:aws:codeconnections:REGION:ACCOUNT:connection/UUID", self.connection_arn)
        if not isinstance(self.repository, str) or not _REPOSITORY.match(self.repository):
            fail(f"{where}.repository", "'owner/name' of the repository", self.repository)
        if not isinstance(self.branch, str) or not _BRANCH.match(self.branch):
            fail(f"{where}.branch", "a git branch name", self.branch)
        if not matches(ACCOUNT, self.account):
            fail(f"{where}.account", "a 12-digit AWS account id (as a string)", self.account)
        if not matches(REGION, self.region):
            fail(f"{where}.region", "an AWS region like 'us-east-1'", self.region)
        if not isinstance(self.stage_accounts, dict) or sorted(self.stage_accounts) != sorted(STAGES):
            given = sorted(self.stage_accounts) if isinstance(self.stage_accounts, dict) else self.stage_accounts
            fail(f"{where}.stageAccounts", f"an object with exactly the keys {', '.join(STAGES)}", given)
        for stage, account in self.stage_accounts.items():
            if not matches(ACCOUNT, account):
                fail(f"{where}.stageAccounts.{stage}", "a 12-digit AWS account id (as a string)", account)
        if self.hub_token_secret_arn is not None and not matches(_SECRET_ARN, self.hub_token_secret_arn):
            allowed = "absent, or a secret's full ARN arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX"
            fail(f"{where}.hubTokenSecretArn", allowed, self.hub_token_secret_arn)

    @classmethod
    def from_context(cls, value: Any) -> PipelineConfig:
        """From the context value: an object in cdk.json, or its JSON text when given with `-c`."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                fail(f"context {CONTEXT_KEY}", "a JSON object", value[:80])
        if not isinstance(value, dict):
            fail(f"context {CONTEXT_KEY}", f"an object with the keys {', '.join(_FIELDS)}", value)
        if not set(_FIELDS) <= set(value) <= set(_FIELDS + _OPTIONAL_FIELDS):
            allowed = f"an object with the keys {', '.join(_FIELDS)} and optionally {', '.join(_OPTIONAL_FIELDS)}"
            fail(f"context {CONTEXT_KEY}", allowed, sorted(value))
        return cls(
            connection_arn=value["connectionArn"],
            repository=value["repository"],
            branch=value["branch"],
            account=value["account"],
            region=value["region"],
            stage_accounts=value["stageAccounts"],
            hub_token_secret_arn=value.get("hubTokenSecretArn"),
        )
