"""The role a pipeline's smoke test assumes to call one stage's API, and nothing else.

The API uses IAM (SigV4) authorization, and the pipeline usually runs in another (tooling) account:
its smoke-test CodeBuild role assumes this role in the stage's account. Both names are fixed so each
side can name the other without a cross-stack reference.
"""

from __future__ import annotations

from constructs import Construct

from llm_async.api.construct import InferenceApi
from llm_async.compliance import findings
from llm_async.pipeline.stage_access import StepRoleNames, role_for_pipeline_step

SMOKE_TEST_ROLES = StepRoleNames("smoke-test")


class SmokeTestAccess(Construct):
    def __init__(self, scope: Construct, id_: str, *, api: InferenceApi, env_name: str, pipeline_account: str) -> None:
        super().__init__(scope, id_)
        self.role = role_for_pipeline_step(
            self,
            "Role",
            names=SMOKE_TEST_ROLES,
            env_name=env_name,
            pipeline_account=pipeline_account,
            description=f"llm-async {env_name}: the pipeline's smoke test calls this stage's inference API",
        )
        api.grant_invoke(self.role)
        findings.acknowledge_wildcard(
            self.role,
            api.status_method_arn,
            "One method of this stage's API: the * is the {inferenceId} path parameter of the status call.",
        )
