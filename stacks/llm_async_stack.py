"""`LlmAsyncStack`: an LLM on a SageMaker async endpoint that scales to zero. Composes and wires only."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from llm_async.api.construct import InferenceApi
from llm_async.batch.construct import BatchJobs
from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.construct import AsyncEndpoint
from llm_async.endpoint.scaling import ScaleToZero
from llm_async.model.construct import ServingModel
from llm_async.monitoring.construct import Monitoring
from llm_async.monitoring.sections import Section, api_section, batch_section, endpoint_section
from llm_async.network.construct import PrivateNetwork
from llm_async.notifications.subscriptions import ResultSubscriptions
from llm_async.notifications.topics import NotificationTopics
from llm_async.pipeline.smoke_test_access import SmokeTestAccess
from llm_async.storage.bucket import PayloadBucket
from llm_async.storage.keys import LogKey, RotatingKey
from llm_async.storage.log_groups import LogGroups
from llm_async.weights.construct import WeightsStore


class LlmAsyncStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: DeploymentConfig,
        smoke_test_from_account: str | None = None,
        weights_store: WeightsStore | None = None,
        **kwargs: Any,
    ) -> None:
        """`smoke_test_from_account`: the pipeline account whose smoke test may call this stack's API.
        `weights_store`: the deployment's own bucket of staged weights (LlmAsyncWeightsStack), when the model reads it."""
        super().__init__(scope, id_, **kwargs)
        removal = cdk.RemovalPolicy.RETAIN if config.storage.retain_on_delete else cdk.RemovalPolicy.DESTROY
        # One key for the bucket, the async output and both topics.
        self.key = RotatingKey(
            self,
            "PayloadKey",
            description="llm-async: async inference payloads, results and notifications",
            removal_policy=removal,
        ).key
        self.log_key = LogKey(self, "LogKey", removal_policy=removal).key
        logs = LogGroups(
            retention_days=config.monitoring.log_retention_days, encryption_key=self.log_key, removal_policy=removal
        )
        self.payloads = PayloadBucket(
            self,
            "Payloads",
            key=self.key,
            payload_expiry_days=config.storage.payload_expiry_days,
            access_log_expiry_days=config.storage.access_log_expiry_days,
            removal_policy=removal,
        )
        self.topics = NotificationTopics(self, "Notifications", key=self.key)
        self.result_subscriptions = ResultSubscriptions(
            self,
            "ResultSubscriptions",
            topics=self.topics,
            destinations=config.api.result_subscriptions,
            removal_policy=removal,
        )
        # VPC mode (off by default): the model and the API's Lambda in private subnets.
        self.network = (
            None
            if config.network is None
            else PrivateNetwork(
                self,
                "Network",
                config=config.network,
                logs=logs,
            )
        )
        self.weights_store = weights_store
        self.model = ServingModel(
            self,
            "Model",
            model=config.model,
            endpoint_name=config.endpoint.endpoint_name,
            instance_type=config.endpoint.instance_type,
            default_new_tokens=config.token_budget.default,
            network=self.network,
            weights_store=weights_store,
        )
        self.endpoint = AsyncEndpoint(
            self,
            "Endpoint",
            model=self.model,
            config=config.endpoint,
            bucket=self.payloads,
            topics=self.topics,
            key=self.key,
            logs=logs,
            max_concurrent_invocations=config.max_concurrent_invocations,
        )
        self.scaling = ScaleToZero(
            self,
            "Scaling",
            endpoint=self.endpoint,
            config=config.scaling,
            wake_cooldown_s=config.wake_cooldown_s,
            backlog_per_instance=config.scale_out_backlog_per_instance,
        )
        self.api = InferenceApi(
            self,
            "Api",
            name=config.endpoint.name_prefix,
            config=config.api,
            # What the Lambda checks requests against: the engine's rules and the model's token limits.
            engine=config.model.engine,
            max_input_tokens=config.model.max_input_tokens,
            max_total_tokens=config.model.max_total_tokens,
            token_budget=config.token_budget,
            endpoint=self.endpoint, scaling=self.scaling, payloads=self.payloads, logs=logs, network=self.network,
        )
        # Batch jobs (the OpenAI Batch API): routes on the same API, a state machine, a tracker of the topics.
        self.batch = (
            BatchJobs(
                self,
                "Batch",
                name=config.endpoint.name_prefix,
                config=config.batch,
                max_concurrency=config.batch_max_concurrency,
                api=self.api,
                endpoint=self.endpoint,
                scaling=self.scaling,
                payloads=self.payloads,
                topics=self.topics,
                logs=logs,
                removal_policy=removal,
                network=self.network,
            )
            if config.batch.enabled
            else None
        )
        sections: list[Section] = [
            endpoint_section(
                self.endpoint,
                self.scaling,
                expected_wake_s=config.expected_wake_s,
                min_capacity=config.scaling.min_capacity,
                max_capacity=config.scaling.max_capacity,
            ),
            api_section(self.api, api_5xx_threshold=config.monitoring.api_5xx_threshold),
        ]
        if self.batch is not None:
            sections.append(batch_section(self.batch))

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            name=config.endpoint.name_prefix,
            config=config.monitoring,
            sections=sections,
            removal_policy=removal,
        )

        self.api_url_output = cdk.CfnOutput(self, "ApiUrl", value=self.api.url)
        self.smoke_test_role_output: cdk.CfnOutput | None = None
        if smoke_test_from_account is not None:
            access = SmokeTestAccess(
                self, "SmokeTest", api=self.api, env_name=config.env_name, pipeline_account=smoke_test_from_account
            )
            self.smoke_test_role_output = cdk.CfnOutput(self, "SmokeTestRoleArn", value=access.role.role_arn)
        cdk.CfnOutput(self, "EndpointName", value=config.endpoint.endpoint_name)
        cdk.CfnOutput(self, "PayloadBucketName", value=self.payloads.bucket.bucket_name)
        cdk.CfnOutput(self, "SuccessTopicArn", value=self.topics.success_topic.topic_arn)
        cdk.CfnOutput(self, "ErrorTopicArn", value=self.topics.error_topic.topic_arn)
        cdk.CfnOutput(self, "OpsTopicArn", value=self.monitoring.ops_topic.topic_arn)
        cdk.CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        if self.batch is not None:
            cdk.CfnOutput(self, "BatchStateMachineArn", value=self.batch.state_machine.state_machine_arn)
        for index, queue in enumerate(self.result_subscriptions.queues, start=1):
            cdk.CfnOutput(self, f"ResultQueue{index}Url", value=queue.queue_url)
