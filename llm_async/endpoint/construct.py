"""The SageMaker endpoint config with async inference, and the endpoint itself."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from llm_async.compliance.findings import HIPAA_NIST_PCI, acknowledge_rule
from llm_async.endpoint import metrics
from llm_async.endpoint.config import EndpointConfig, endpoint_log_group_name
from llm_async.model.construct import ServingModel
from llm_async.notifications.topics import NotificationTopics
from llm_async.storage.bucket import FAILURE_PREFIX, OUTPUT_PREFIX, PayloadBucket
from llm_async.storage.log_groups import LogGroups

VARIANT_NAME = "AllTraffic"
# Every alarm and chart reads one-minute datapoints unless it says otherwise.
PERIOD = cdk.Duration.minutes(1)


class AsyncEndpoint(Construct):
    """One-variant async endpoint: results to S3 (KMS), outcomes to the success/error topics."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        model: ServingModel,
        config: EndpointConfig,
        bucket: PayloadBucket,
        topics: NotificationTopics,
        key: kms.IKey,
        logs: LogGroups,
        max_concurrent_invocations: int,
    ) -> None:
        """`max_concurrent_invocations`: requests SageMaker sends one instance at once (DeploymentConfig's, derived from
        the engine's KV cache unless configured)."""
        super().__init__(scope, id_)
        self.endpoint_name = config.endpoint_name
        self.max_concurrent_invocations = max_concurrent_invocations
        self.variant_name = VARIANT_NAME
        # What the API sends with each InvokeEndpointAsync.
        self.request_ttl_s = config.request_ttl_s
        self.invocation_timeout_s = config.invocation_timeout_s
        bucket.grant_read_inputs(model.role)
        bucket.grant_write_results(model.role)
        topics.grant_publish(model.role)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=model.cfn_model.attr_model_name,
                    instance_type=config.instance_type,
                    # SageMaker requires ≥ 1 at creation; the scaling policies take it to zero when idle.
                    initial_instance_count=1,
                    initial_variant_weight=1,
                    container_startup_health_check_timeout_in_seconds=config.container_startup_health_check_timeout_s,
                    model_data_download_timeout_in_seconds=config.model_data_download_timeout_s,
                    volume_size_in_gb=config.volume_size_gb,
                    # The host AMI with the GPU driver the engine's image needs (engines.py); None: SageMaker's default.
                    inference_ami_version=model.engine.inference_ami_version,
                )
            ],
            async_inference_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=bucket.s3_uri(OUTPUT_PREFIX),
                    s3_failure_path=bucket.s3_uri(FAILURE_PREFIX),
                    kms_key_id=key.key_arn,
                    notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                        success_topic=topics.success_topic.topic_arn,
                        error_topic=topics.error_topic.topic_arn,
                    ),
                ),
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=max_concurrent_invocations,
                ),
            ),
        )
        if config.instance.local_nvme:
            acknowledge_rule(
                self.endpoint_config,
                "SageMakerEndpointConfigurationKMSKeyConfigured",
                HIPAA_NIST_PCI,
                f"{config.instance_type} has local NVMe instance storage, which AWS encrypts with a hardware"
                " key, and SageMaker rejects an endpoint-config KmsKeyId for such instances; the async"
                " output is encrypted with the payload key (AsyncInferenceConfig.OutputConfig.KmsKeyId).",
            )
        # CreateEndpointConfig checks that the role may already publish to the topics
        # (amazon-sagemaker-examples #4461): the role and its policy must exist first.
        self.endpoint_config.node.add_dependency(model.role)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=config.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            # A model change replaces the endpoint config and updates this endpoint in place; without
            # this, SageMaker would reset the autoscaled instance count to InitialInstanceCount (1).
            retain_all_variant_properties=True,
        )
        # SageMaker creates this group on first write, with no retention, unless it already exists: the
        # stack creates it first. The model role's log grant names the same group.
        self.log_group = logs.create(self, "Logs", name=endpoint_log_group_name(config.endpoint_name))
        self.endpoint.node.add_dependency(self.log_group)
        # The group is named after the endpoint, so a new instance type (a new endpoint) replaces it: the
        # old endpoint's logs are kept and expire with their retention rather than being deleted.
        self.log_group.node.default_child.cfn_options.update_replace_policy = cdk.CfnDeletionPolicy.RETAIN  # type: ignore[union-attr]
        self.endpoint_arn: str = self.endpoint.ref  # Ref of AWS::SageMaker::Endpoint is its ARN
        # The name as a reference, not a string: whoever reads it is updated only after this endpoint
        # exists, so on a replacement (new instance type) callers switch once the new endpoint is InService.
        self.endpoint_name_ref: str = self.endpoint.attr_endpoint_name

    def grant_invoke_async(self, grantee: iam.IGrantable) -> iam.Grant:
        """InvokeEndpointAsync on this endpoint only."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:InvokeEndpointAsync"], resource_arns=[self.endpoint_arn]
        )

    def grant_describe(self, grantee: iam.IGrantable) -> iam.Grant:
        """DescribeEndpoint on this endpoint only (its instance counts, for wake on request)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:DescribeEndpoint"], resource_arns=[self.endpoint_arn]
        )

    def metric(
        self, metric_name: str, *, statistic: str, period: cdk.Duration = PERIOD, label: str | None = None
    ) -> cloudwatch.Metric:
        """One of SageMaker's async metrics (`endpoint.metrics`), with the dimensions it is published with."""
        return cloudwatch.Metric(
            namespace=metrics.NAMESPACE,
            metric_name=metric_name,
            dimensions_map=metrics.dimensions(metric_name, endpoint_name=self.endpoint_name, variant_name=self.variant_name),
            statistic=statistic,
            period=period,
            label=label,
        )

    def metric_backlog_size(self, *, statistic: str = "Maximum", label: str | None = None) -> cloudwatch.Metric:
        """Requests queued or being processed."""
        return self.metric(metrics.BACKLOG_SIZE, statistic=statistic, label=label)

    def metric_backlog_size_per_instance(self, *, statistic: str = "Average", label: str | None = None) -> cloudwatch.Metric:
        return self.metric(metrics.BACKLOG_SIZE_PER_INSTANCE, statistic=statistic, label=label)

    def metric_has_backlog_without_capacity(self, *, statistic: str = "Maximum", label: str | None = None) -> cloudwatch.Metric:
        """1 while requests wait and no instance serves: the wake signal."""
        return self.metric(metrics.HAS_BACKLOG_WITHOUT_CAPACITY, statistic=statistic, label=label)

    def metric_age_of_oldest_request(self, *, statistic: str = "Maximum", label: str | None = None) -> cloudwatch.Metric:
        return self.metric(metrics.AGE_OF_OLDEST_REQUEST, statistic=statistic, label=label)

    def metric_instances_running(self, *, label: str | None = None) -> cloudwatch.Metric:
        """SageMaker publishes no instance count; AWS's documented way to count an endpoint's running instances
        is the per-minute SampleCount of the host metric CPUUtilization (one sample per instance)."""
        return cloudwatch.Metric(
            namespace=metrics.INSTANCE_NAMESPACE,
            metric_name="CPUUtilization",
            dimensions_map={metrics.ENDPOINT_DIMENSION: self.endpoint_name, metrics.VARIANT_DIMENSION: self.variant_name},
            statistic="SampleCount",
            period=PERIOD,
            label=label,
        )
