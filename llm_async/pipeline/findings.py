"""cdk-nag findings on the roles CDK Pipelines generates, acknowledged one id at a time with evidence.

CDK Pipelines writes these grants itself (artifact bucket and key, CodeBuild logs and reports, the
bootstrap roles it assumes); none reaches beyond the pipeline's own bucket, key, projects and the
CDK bootstrap roles. The acknowledgments name exact findings, so a new wildcard still fails synth.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import IConstruct

from llm_async.compliance import findings

_ARTIFACTS = (
    "CDK Pipelines' grant on the pipeline's own artifact bucket (KMS-encrypted, SSL-only, public access"
    " blocked): the wildcard spans the object actions and the objects of that one bucket."
)
_ARTIFACT_KEY = "CDK Pipelines' grant on the artifact bucket's key only: the resource is that key's ARN."
_BUILD_LOGS = "CodeBuild's grant on its own project's log group and report groups, whose names it only knows as prefixes."
_PIPELINE_SOURCE = (
    "The project's source is the CodePipeline artifact (source type CODEPIPELINE): there is no repository"
    " URL and so no credential in one; the repository is reached through the CodeConnections connection."
)
_ARTIFACT_BUCKET = (
    "The pipeline's artifact bucket holds source and cloud-assembly zips only, KMS-encrypted with a rotating"
    " key, SSL-only, public access blocked, readable by the pipeline's roles only."
)
_UNVERSIONED_ARTIFACTS = _ARTIFACT_BUCKET + " Every execution writes new, uniquely named artifacts; none is overwritten."
_READ_ARTIFACTS = ("Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*")
_WRITE_ARTIFACTS = (*_READ_ARTIFACTS, "Action::s3:Abort*", "Action::s3:DeleteObject*")
_KEY_ACTIONS = ("Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")


def _iam5(detail: str) -> str:
    return f"AwsSolutions-IAM5[{detail}]"


def _artifact_access(role: IConstruct, bucket_arn: str, actions: tuple[str, ...], key_actions: bool) -> None:
    findings.acknowledge_rule(role, "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
    for action in actions:
        findings.acknowledge(role, _iam5(action), _ARTIFACTS)
    findings.acknowledge_wildcard(role, f"{bucket_arn}/*", _ARTIFACTS)
    if key_actions:
        for action in _KEY_ACTIONS:
            findings.acknowledge(role, _iam5(action), _ARTIFACT_KEY)


def _project_logs(role: IConstruct, project: codebuild.IProject) -> None:
    stack = cdk.Stack.of(role)
    log_group = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name=f"/aws/codebuild/{project.project_name}:*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    report_groups = stack.format_arn(service="codebuild", resource="report-group", resource_name=f"{project.project_name}-*")
    for arn in (log_group, report_groups):
        findings.acknowledge_wildcard(role, arn, _BUILD_LOGS)


def acknowledge_pipeline_findings(pipeline: pipelines.CodePipeline, step_roles: dict[iam.IRole, list[codebuild.IProject]]) -> None:
    """After `build_pipeline()`: the generated constructs exist only from then on. `step_roles`: the roles of our own
    CodeBuild steps (smoke tests, weights staging), each with the projects that run as it."""
    code_pipeline = pipeline.pipeline
    bucket_arn = code_pipeline.artifact_bucket.bucket_arn
    stack = cdk.Stack.of(pipeline)

    _artifact_access(code_pipeline.role, bucket_arn, _WRITE_ARTIFACTS, key_actions=True)
    (source_stage, *_) = code_pipeline.stages
    for action in source_stage.actions:
        source_role = code_pipeline.node.find_child("Source").node.find_child(action.action_properties.action_name)
        _artifact_access(source_role.node.find_child("CodePipelineActionRole"), bucket_arn, _WRITE_ARTIFACTS, key_actions=True)

    synth_role = pipeline.synth_project.role
    _artifact_access(synth_role, bucket_arn, _WRITE_ARTIFACTS, key_actions=True)
    _project_logs(synth_role, pipeline.synth_project)

    mutation_role = pipeline.self_mutation_project.role
    _artifact_access(mutation_role, bucket_arn, _READ_ARTIFACTS, key_actions=True)
    _project_logs(mutation_role, pipeline.self_mutation_project)
    findings.acknowledge(
        mutation_role,
        _iam5("Resource::*"),
        "`cdk deploy` of the pipeline stack reads stack state (cloudformation:DescribeStacks) and the staging"
        " bucket's listing (s3:ListBucket) before assuming the bootstrap roles; CDK Pipelines generates it.",
    )
    findings.acknowledge_wildcard(
        mutation_role,
        f"arn:*:iam::{stack.account}:role/*",
        "sts:AssumeRole only on roles tagged aws-cdk:bootstrap-role (image-publishing, file-publishing,"
        " deploy): a condition in the same statement restricts the wildcard to the CDK bootstrap roles.",
    )

    file_role = pipeline.node.find_child("Assets").node.find_child("FileRole")
    _artifact_access(file_role, bucket_arn, _READ_ARTIFACTS, key_actions=False)
    file_role_wildcard = (
        "CDK Pipelines' asset-publishing role: codebuild:StartBuild/BatchGetBuilds/StopBuild for the asset"
        " projects it creates later in the same synthesis; it is assumable by CodeBuild and this pipeline only."
    )
    findings.acknowledge(file_role, _iam5("Resource::*"), file_role_wildcard)
    findings.skip_checkov(file_role.node.find_child("DefaultPolicy"), "CKV_AWS_111", file_role_wildcard)
    for arn in (
        stack.format_arn(service="logs", resource="log-group", resource_name="/aws/codebuild/*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME),
        stack.format_arn(service="codebuild", resource="report-group", resource_name="*"),
    ):
        findings.acknowledge_wildcard(file_role, arn, _BUILD_LOGS)

    for role, projects in step_roles.items():
        _artifact_access(role, bucket_arn, _READ_ARTIFACTS, key_actions=True)
        for project in projects:
            _project_logs(role, project)

    # The role CodePipeline assumes to start the CodeBuild actions: codebuild:StartBuild on the projects.
    findings.acknowledge_rule(pipeline.node.find_child("CodeBuildActionRole"), "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
    for project in [pipeline.synth_project, pipeline.self_mutation_project, *(p for ps in step_roles.values() for p in ps)]:
        findings.acknowledge_rule(project, "CodeBuildProjectSourceRepoUrl", (findings.HIPAA, findings.PCI), _PIPELINE_SOURCE)
    for asset_project in pipeline.node.find_child("Assets").node.children:
        if isinstance(asset_project, codebuild.Project):
            findings.acknowledge_rule(asset_project, "CodeBuildProjectSourceRepoUrl", (findings.HIPAA, findings.PCI), _PIPELINE_SOURCE)
    artifact_bucket = code_pipeline.artifact_bucket.node.default_child
    for rule, evidence in (
        ("S3BucketLoggingEnabled", _ARTIFACT_BUCKET),
        ("S3BucketReplicationEnabled", _ARTIFACT_BUCKET + " The source of truth is the repository; a replica adds nothing to restore."),
        ("S3BucketVersioningEnabled", _UNVERSIONED_ARTIFACTS),
    ):
        findings.acknowledge_rule(artifact_bucket, rule, findings.HIPAA_NIST_PCI, evidence)
    findings.skip_checkov(artifact_bucket, "CKV_AWS_21", _UNVERSIONED_ARTIFACTS)
    artifact_bucket_logs = (
        "The artifact bucket holds source and cloud-assembly zips only, KMS-encrypted with a rotating key,"
        " SSL-only, public access blocked; only the pipeline's roles may read it and CodePipeline records"
        " every execution that wrote or read an artifact."
    )
    findings.acknowledge(code_pipeline.artifact_bucket.node.default_child, "AwsSolutions-S1", artifact_bucket_logs)
    findings.skip_checkov(code_pipeline.artifact_bucket, "CKV_AWS_18", artifact_bucket_logs)
