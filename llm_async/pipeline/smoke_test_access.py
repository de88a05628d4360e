"""The role a pipeline's smoke test assumes to call one stage's API, and nothing else.

The API uses IAM (SigV4) authorization, and the pipeline usually runs in another (tooling) account:
its smoke-test CodeBuild role assumes this role in the stage's account. Both names are fixed so each
side can name the other without a cross-stack reference.
"""

from __future__ import annotations

from constructs import Construct

from llm_async.api.construct import InferenceApi
from llm_async.compliance import findings
from llm_async.pipeline.stage_access import pipeline_role_arn, role_for_pipeline_step

PIPELINE_SMOKE_TEST_ROLE_NAME = "llm-async-pipeline-smoke-test"


def stage_smoke_test_role_name(env_name: str) -> str:
    return f"llm-async-{env_name}-smoke-test"


def pipeline_smoke_test_role_arn(pipeline_account: str) -> str:
    return pipeline_role_arn(pipeline_account, PIPELINE_SMOKE_TEST_ROLE_NAME)


class SmokeTestAccess(Construct):
    def __init__(self, scope: Construct, id_: str, *, api: InferenceApi, env_name: str, pipeline_account: str) -> None:
        super().__init__(scope, id_)
        self.role = role_for_pipeline_step(
            self,
            "Role",
            role_name=stage_smoke_test_role_name(env_name),
            pipeline_account=pipeline_account,
            pipeline_role_name=PIPELINE_SMOKE_TEST_ROLE_NAME,
            description=f"llm-async {env_name}: the pipeline's smoke test calls this stage's inference API",
        )
        api.grant_invoke(self.role)
        findings.acknowledge(
            self.role,
            findings.wildcard_resource_finding(self.role, api.status_method_arn),
            "One method of this stage's API: the * is the {inferenceId} path parameter of the status call.",
        )
