"""The role a pipeline's staging step assumes to stage one model revision into one stage's weights bucket, and nothing else.

Like the smoke test (llm_async/pipeline/smoke_test_access.py): the pipeline usually runs in a tooling account, and
both role names are fixed so that each side can name the other without a cross-stack reference.
"""

from __future__ import annotations

from constructs import Construct

from llm_async.pipeline.stage_access import StepRoleNames, role_for_pipeline_step
from llm_async.weights.construct import WeightsStore

WEIGHTS_STAGING_ROLES = StepRoleNames("weights-staging")


class WeightsStagingAccess(Construct):
    def __init__(
        self, scope: Construct, id_: str, *, store: WeightsStore, prefix: str, env_name: str, pipeline_account: str
    ) -> None:
        """`prefix`: the revision's prefix (llm_async.model.staged.revision_prefix): its model files and its manifest."""
        super().__init__(scope, id_)
        # A 16 GB model at the Hub's rate takes minutes: the SDK's profile refreshes the hour-long credentials.
        self.role = role_for_pipeline_step(
            self,
            "Role",
            names=WEIGHTS_STAGING_ROLES,
            env_name=env_name,
            pipeline_account=pipeline_account,
            description=f"llm-async {env_name}: the pipeline stages the model's weights into this stage's weights bucket",
        )
        store.grant_stage(self.role, prefix)
