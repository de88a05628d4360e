"""One construct alone in a bare `cdk.Stack`, with real collaborators built on demand, for tests of what it creates.

`Parts(stack)` builds each collaborator the first time a test asks for it, wired as `LlmAsyncStack` wires it,
under the same construct ids; a test of one construct asks only for what that construct takes. Synthesis
through jsii costs about a second a stack: build a module's stacks once, in module-scoped fixtures.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from llm_async.api.construct import InferenceApi
from llm_async.batch.construct import BatchJobs
from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.construct import AsyncEndpoint
from llm_async.endpoint.scaling import ScaleToZero
from llm_async.environments import ENVIRONMENTS
from llm_async.model.construct import ServingModel
from llm_async.network.construct import PrivateNetwork
from llm_async.notifications.topics import NotificationTopics
from llm_async.storage.bucket import PayloadBucket
from llm_async.storage.keys import LogKey, RotatingKey
from llm_async.storage.log_groups import LogGroups
from llm_async.weights.construct import WeightsStore
from stacks.llm_async_app import cdk_json_context
from stacks.weights_stack import needs_weights_stack

ACCOUNT, REGION = "123456789012", "us-east-1"


def bare_stack(*, region: str | None = REGION, account: str | None = ACCOUNT, context: dict[str, Any] | None = None) -> cdk.Stack:
    """A stack in an App with cdk.json's feature flags; `region=None` makes it environment-agnostic."""
    app = cdk.App(context={**cdk_json_context(), **(context or {})})
    return cdk.Stack(app, "Test", env=cdk.Environment(account=account, region=region))


def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


class Parts:
    """Collaborators for the construct under test, as `LlmAsyncStack` builds them, from `config` (default: sandbox)."""

    def __init__(self, stack: cdk.Stack, config: DeploymentConfig | None = None) -> None:
        self.stack = stack
        self.config = config or ENVIRONMENTS["sandbox"]()
        self.removal = cdk.RemovalPolicy.DESTROY

    @cached_property
    def key(self) -> Any:
        return RotatingKey(self.stack, "PayloadKey", description="test payload key", removal_policy=self.removal).key

    @cached_property
    def logs(self) -> LogGroups:
        log_key = LogKey(self.stack, "LogKey", removal_policy=self.removal).key
        return LogGroups(retention_days=self.config.monitoring.log_retention_days, encryption_key=log_key, removal_policy=self.removal)

    @cached_property
    def payloads(self) -> PayloadBucket:
        storage = self.config.storage
        return PayloadBucket(
            self.stack, "Payloads", key=self.key, payload_expiry_days=storage.payload_expiry_days,
            access_log_expiry_days=storage.access_log_expiry_days, removal_policy=self.removal,
        )

    @cached_property
    def topics(self) -> NotificationTopics:
        return NotificationTopics(self.stack, "Notifications", key=self.key)

    @cached_property
    def network(self) -> PrivateNetwork | None:
        if self.config.network is None:
            return None
        return PrivateNetwork(self.stack, "Network", config=self.config.network, logs=self.logs)

    @cached_property
    def weights_store(self) -> WeightsStore | None:
        """The deployment's own weights bucket, when its model reads one (in this stack: in its own in LlmAsyncStack)."""
        if not needs_weights_stack(self.config):
            return None
        return WeightsStore(
            self.stack, "Weights", name_prefix=self.config.endpoint.name_prefix,
            access_log_expiry_days=self.config.storage.access_log_expiry_days, removal_policy=self.removal,
        )

    @cached_property
    def model(self) -> ServingModel:
        return ServingModel(
            self.stack, "Model", model=self.config.model, endpoint_name=self.config.endpoint.endpoint_name,
            instance_type=self.config.endpoint.instance_type,
            default_new_tokens=self.config.token_budget.default, network=self.network,
            weights_store=self.weights_store,
        )

    @cached_property
    def endpoint(self) -> AsyncEndpoint:
        return AsyncEndpoint(
            self.stack, "Endpoint", model=self.model, config=self.config.endpoint, bucket=self.payloads, topics=self.topics,
            key=self.key, logs=self.logs, max_concurrent_invocations=self.config.max_concurrent_invocations,
        )

    @cached_property
    def scaling(self) -> ScaleToZero:
        return ScaleToZero(
            self.stack, "Scaling", endpoint=self.endpoint, config=self.config.scaling, wake_cooldown_s=self.config.wake_cooldown_s,
            backlog_per_instance=self.config.scale_out_backlog_per_instance,
        )

    @cached_property
    def api(self) -> InferenceApi:
        config = self.config
        return InferenceApi(
            self.stack, "Api", name=config.endpoint.name_prefix, engine=config.model.engine, config=config.api,
            max_input_tokens=config.model.max_input_tokens, max_total_tokens=config.model.max_total_tokens,
            token_budget=config.token_budget, endpoint=self.endpoint, scaling=self.scaling, payloads=self.payloads,
            logs=self.logs, network=self.network,
        )

    @cached_property
    def batch(self) -> BatchJobs:
        config = self.config
        return BatchJobs(
            self.stack, "Batch", name=config.endpoint.name_prefix, config=config.batch, max_concurrency=config.batch_max_concurrency,
            api=self.api, endpoint=self.endpoint, scaling=self.scaling, payloads=self.payloads, topics=self.topics,
            logs=self.logs, removal_policy=self.removal, network=self.network,
        )
