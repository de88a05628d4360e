"""The SageMaker model: the engine's container, its environment, and the execution role it runs as."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from llm_async.compliance import findings
from llm_async.endpoint.config import endpoint_log_group_name
from llm_async.model.capacity import CAPACITY_METADATA, capacity_metadata
from llm_async.model.config import HubWeights, ModelConfig, S3Weights, StagedWeights
from llm_async.model.environment import container_environment
from llm_async.model.image import EngineImage
from llm_async.model.instance_types import GPU_INSTANCE_TYPES
from llm_async.model.staged import WEIGHTS_METADATA
from llm_async.network.construct import PrivateNetwork
from llm_async.weights.construct import WeightsStore


class ServingModel(Construct):
    """`CfnModel` for the engine's image in the stack's region, with a role scoped to one endpoint's needs."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        model: ModelConfig,
        endpoint_name: str,
        instance_type: str,
        default_new_tokens: int,
        network: PrivateNetwork | None = None,
        weights_store: WeightsStore | None = None,
    ) -> None:
        """`instance_type`: the endpoint's, whose GPUs hold the model; `default_new_tokens`: the API's default budget
        (both for the capacity metadata).
        `network`: VPC mode, the model's instances get network interfaces in its private subnets.
        `weights_store`: the deployment's own weights bucket, which StagedWeights without a bucket name read from."""
        super().__init__(scope, id_)
        if isinstance(model.weights, StagedWeights) and model.weights.own_bucket and weights_store is None:
            raise ValueError("StagedWeights without a bucket_name read from the deployment's WeightsStore: pass weights_store")
        stack = cdk.Stack.of(self)
        self.engine = model.serving_engine
        self.image = EngineImage(self, "Image", engine=self.engine, version=model.image_version)
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker execution role of the {endpoint_name} async endpoint",
        )
        findings.acknowledge_rule(self.role, "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=f"Pull{self.engine.name.capitalize()}Image",
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[self.image.repository_arn],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        evidence = (
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level"
            " permissions (IAM service authorization reference); PutMetricData is limited to the"
            " /aws/sagemaker/Endpoints namespace by a condition."
        )
        if network is not None:
            # What SageMaker documents for a model with a VpcConfig, scoped by the network.
            network.grant_network_interfaces(
                self.role,
                network.model_security_group,
                manage=["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
                describe=[
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                ],
            )
            evidence += " VPC mode: the ec2 Describe* actions SageMaker needs support no resource-level permissions."
        findings.acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]", evidence)
        self.endpoint_log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{endpoint_log_group_name(endpoint_name)}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteEndpointLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                resources=[self.endpoint_log_group_arn],
            )
        )
        findings.acknowledge_wildcard(
            self.role,
            self.endpoint_log_group_arn,
            "The ':*' suffix names the log streams of this endpoint's own log group"
            " (/aws/sagemaker/Endpoints/<endpoint name>), not other log groups.",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PublishEndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
            )
        )
        from_s3 = not isinstance(model.weights, HubWeights)
        model_data_source = self._grant_weights(model.weights, weights_store) if from_s3 else None
        self.cfn_model = sagemaker.CfnModel(
            self,
            "Resource",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image.image_uri,
                mode="SingleModel",
                environment=container_environment(model),
                model_data_source=model_data_source,
            ),
            # Hub weights are downloaded by the container at start, which needs the network.
            enable_network_isolation=from_s3,
            vpc_config=None
            if network is None
            else sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=[network.model_security_group.security_group_id], subnets=network.subnet_ids
            ),
        )
        # For tools that read only the template (the simulator): where the weights come from, how large, and what the
        # engine's KV cache holds on the instance (its batching).
        self.manifest_uri = self._manifest_uri(model.weights, weights_store)
        self.cfn_model.add_metadata(
            WEIGHTS_METADATA, {"Source": "s3" if from_s3 else "hub", "Bytes": model.weights_bytes, "Manifest": self.manifest_uri}
        )
        self.cfn_model.add_metadata(CAPACITY_METADATA, capacity_metadata(model, GPU_INSTANCE_TYPES[instance_type], default_new_tokens))
        if not from_s3:
            findings.skip_checkov(
                self.cfn_model,
                "CKV_AWS_370",
                f"Hub weights: {self.engine.label} downloads the model from the Hugging Face Hub at start, which network"
                " isolation forbids. Staged or S3 weights (`StagedWeights`, `S3Weights`) turn isolation on, and this skip is"
                " not written.",
            )
        # CreateModel checks that the role can pull the image.
        self.cfn_model.node.add_dependency(self.role)

    def _grant_weights(
        self, weights: S3Weights | StagedWeights, store: WeightsStore | None
    ) -> sagemaker.CfnModel.ModelDataSourceProperty:
        """Read access to the one prefix SageMaker copies to /opt/ml/model, and its source."""
        if isinstance(weights, StagedWeights) and weights.own_bucket:
            assert store is not None  # checked in __init__
            store.grant_read(self.role, weights.model_prefix)
            return self._s3_source(store.s3_uri(weights.model_prefix))
        if isinstance(weights, StagedWeights):
            bucket_name, prefix = weights.bucket_name, weights.model_prefix
        else:
            bucket_name, prefix = weights.bucket_name, weights.key_prefix
        objects_arn = f"arn:{cdk.Aws.PARTITION}:s3:::{bucket_name}/{prefix}*"
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadModelWeights", actions=["s3:GetObject"], resources=[objects_arn])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListModelWeights",
                actions=["s3:ListBucket"],
                resources=[f"arn:{cdk.Aws.PARTITION}:s3:::{bucket_name}"],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        if weights.kms_key_arn is not None:
            # The bucket's customer-managed key: SageMaker decrypts the objects it copies as this role.
            self.role.add_to_principal_policy(
                iam.PolicyStatement(sid="DecryptModelWeights", actions=["kms:Decrypt"], resources=[weights.kms_key_arn])
            )
        findings.acknowledge_wildcard(
            self.role,
            objects_arn,
            "SageMaker copies every object under the configured weights prefix; the grant is"
            " that one prefix, read-only.",
        )
        return self._s3_source(f"s3://{bucket_name}/{prefix}")

    @staticmethod
    def _manifest_uri(weights: object, store: WeightsStore | None) -> str | None:
        """Where the staging command writes the manifest the deploy expects (staged weights only)."""
        if not isinstance(weights, StagedWeights):
            return None
        if weights.own_bucket:
            assert store is not None
            return store.s3_uri(weights.manifest_key)
        return f"s3://{weights.bucket_name}/{weights.manifest_key}"

    @staticmethod
    def _s3_source(s3_uri: str) -> sagemaker.CfnModel.ModelDataSourceProperty:
        # Uncompressed: SageMaker copies the files as they are (no model.tar.gz to unpack at every wake).
        return sagemaker.CfnModel.ModelDataSourceProperty(
            s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(s3_uri=s3_uri, s3_data_type="S3Prefix", compression_type="None")
        )
