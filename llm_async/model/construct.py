"""The SageMaker model: the engine's container, its environment, and the execution role it runs as."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from llm_async.compliance import findings
from llm_async.endpoint.config import endpoint_log_group_name
from llm_async.model.config import ModelConfig, S3Weights
from llm_async.model.environment import container_environment
from llm_async.model.image import EngineImage
from llm_async.network.construct import PrivateNetwork


class ServingModel(Construct):
    """`CfnModel` for the engine's image in the stack's region, with a role scoped to one endpoint's needs."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        model: ModelConfig,
        endpoint_name: str,
        network: PrivateNetwork | None = None,
    ) -> None:
        """`network`: VPC mode, the model's instances get network interfaces in its private subnets."""
        super().__init__(scope, id_)
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
        findings.acknowledge(
            self.role,
            findings.wildcard_resource_finding(self, self.endpoint_log_group_arn),
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
        model_data_source = None
        if isinstance(model.weights, S3Weights):
            model_data_source = self._grant_weights(model.weights)
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
            enable_network_isolation=isinstance(model.weights, S3Weights),
            vpc_config=None
            if network is None
            else sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=[network.model_security_group.security_group_id], subnets=network.subnet_ids
            ),
        )
        if not isinstance(model.weights, S3Weights):
            findings.skip_checkov(
                self.cfn_model,
                "CKV_AWS_370",
                f"Hub weights: {self.engine.label} downloads the model from the Hugging Face Hub at start, which network"
                " isolation forbids. S3 weights (`S3Weights`) turn isolation on, and this skip is not written.",
            )
        # CreateModel checks that the role can pull the image.
        self.cfn_model.node.add_dependency(self.role)

    def _grant_weights(self, weights: S3Weights) -> sagemaker.CfnModel.ModelDataSourceProperty:
        objects_arn = f"arn:{cdk.Aws.PARTITION}:s3:::{weights.bucket_name}/{weights.key_prefix}*"
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadModelWeights", actions=["s3:GetObject"], resources=[objects_arn])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListModelWeights",
                actions=["s3:ListBucket"],
                resources=[f"arn:{cdk.Aws.PARTITION}:s3:::{weights.bucket_name}"],
                conditions={"StringLike": {"s3:prefix": [f"{weights.key_prefix}*"]}},
            )
        )
        findings.acknowledge(
            self.role,
            findings.wildcard_resource_finding(self, objects_arn),
            "SageMaker copies every object under the configured weights prefix; the grant is"
            " that one prefix, read-only.",
        )
        return sagemaker.CfnModel.ModelDataSourceProperty(
            s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                s3_uri=weights.s3_uri, s3_data_type="S3Prefix", compression_type="None"
            )
        )

