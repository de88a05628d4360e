"""The S3 bucket that holds async requests (input/), results (output/) and failures (failure/), and the batch jobs'
files (files/) and state (batches/)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from llm_async.compliance.findings import HIPAA_NIST_PCI, acknowledge_prefix_grant, acknowledge_rule, waive

INPUT_PREFIX = "input/"
OUTPUT_PREFIX = "output/"
FAILURE_PREFIX = "failure/"
# Batch jobs (docs/design/batch-jobs.md): input and result files, and each batch's record, items and line outcomes.
FILES_PREFIX = "files/"
BATCHES_PREFIX = "batches/"
PREFIXES = (INPUT_PREFIX, OUTPUT_PREFIX, FAILURE_PREFIX, FILES_PREFIX, BATCHES_PREFIX)
# What names the objects under each prefix: the evidence that a grant on `<prefix>*` cannot name them in advance.
_KEYED_BY = {
    INPUT_PREFIX: "inference ids",
    OUTPUT_PREFIX: "inference ids",
    FAILURE_PREFIX: "inference ids",
    FILES_PREFIX: "file ids",
    BATCHES_PREFIX: "batch ids",
}


# Versioning keeps an overwritten or deleted object recoverable for a day, then removes it: prompts
# must not outlive the expiry policy by more than that.
VERSION_CLEAN_UP = (
    s3.LifecycleRule(id="ExpireNoncurrentVersions", noncurrent_version_expiration=cdk.Duration.days(1)),
    s3.LifecycleRule(id="RemoveExpiredDeleteMarkers", expired_object_delete_marker=True),
)


def access_log_bucket(scope: Construct, *, expiry_days: int, removal_policy: cdk.RemovalPolicy, of_what: str) -> s3.Bucket:
    """`scope`'s "AccessLogs" bucket: the server access log destination of `of_what`, its logs expiring after `expiry_days`."""
    # S3 server access logging only delivers to SSE-S3 buckets, so this one cannot use a KMS key.
    bucket = s3.Bucket(
        scope,
        "AccessLogs",
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        lifecycle_rules=[
            s3.LifecycleRule(id="ExpireAccessLogs", expiration=cdk.Duration.days(expiry_days)),
            *VERSION_CLEAN_UP,
        ],
        removal_policy=removal_policy,
    )
    acknowledge_rule(
        bucket,
        "S3DefaultEncryptionKMS",
        HIPAA_NIST_PCI,
        "S3 server access logging delivers only to buckets encrypted with SSE-S3 (AES-256), not SSE-KMS;"
        " the logs hold request metadata, never payloads.",
    )
    waive(
        bucket,
        nag="AwsSolutions-S1",
        checkov="CKV_AWS_18",
        evidence=f"This bucket is the server access log destination of {of_what}; logging its"
        " own accesses would need a third bucket and so on without end.",
    )
    return bucket


def acknowledge_no_replication(buckets: tuple[s3.Bucket, ...], evidence: str) -> None:
    """The HIPAA, NIST and PCI packs' S3BucketReplicationEnabled, acknowledged at each bucket with `evidence`."""
    for bucket in buckets:
        acknowledge_rule(bucket, "S3BucketReplicationEnabled", HIPAA_NIST_PCI, evidence)


def private_bucket(
    scope: Construct,
    *,
    key: kms.IKey,
    access_logs: s3.Bucket,
    access_logs_prefix: str,
    expiry_rules: list[s3.LifecycleRule],
    removal_policy: cdk.RemovalPolicy,
    replication_evidence: str,
    bucket_name: str | None = None,
) -> s3.Bucket:
    """`scope`'s "Resource" bucket as every data bucket of the deployment is: SSE-KMS with `key` and a bucket key,
    TLS only, public access blocked, owner-enforced, versioned, server access logs to `access_logs`; `expiry_rules`,
    then abandoned multipart uploads aborted after a day and the version clean-up. Replication is acknowledged at it
    and its access-log bucket with `replication_evidence`."""
    bucket = s3.Bucket(
        scope,
        "Resource",
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        lifecycle_rules=[
            *expiry_rules,
            # An interrupted upload (a staging run, a client's file) leaves parts that cost nothing after a day.
            s3.LifecycleRule(id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)),
            *VERSION_CLEAN_UP,
        ],
        versioned=True,
        removal_policy=removal_policy,
    )
    acknowledge_no_replication((bucket, access_logs), replication_evidence)
    return bucket


class PayloadBucket(Construct):
    """KMS-encrypted, SSL-only, private; payloads expire; server access logs go to a sibling bucket."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        key: kms.IKey,
        payload_expiry_days: int,
        access_log_expiry_days: int,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        self.key = key
        self.access_log_bucket = access_log_bucket(
            self, expiry_days=access_log_expiry_days, removal_policy=removal_policy, of_what="the payload bucket"
        )
        self.bucket = private_bucket(
            self,
            key=key,
            access_logs=self.access_log_bucket,
            access_logs_prefix="payloads/",
            expiry_rules=[
                s3.LifecycleRule(id=f"Expire-{prefix.rstrip('/')}", prefix=prefix, expiration=cdk.Duration.days(payload_expiry_days))
                for prefix in PREFIXES
            ],
            removal_policy=removal_policy,
            replication_evidence="Payloads and their access logs are transient (they expire in days) and must stay in this"
            " account and region; a replica would be a second copy of prompts to protect, not a backup.",
        )

    def s3_uri(self, prefix: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{prefix}"

    def _grant_objects(self, grantee: iam.IGrantable, prefix: str, s3_actions: list[str], kms_actions: list[str]) -> iam.Grant:
        objects_arn = self.bucket.arn_for_objects(f"{prefix}*")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=s3_actions, resource_arns=[objects_arn])
        self.key.grant(grantee, *kms_actions)
        acknowledge_prefix_grant(
            grantee,
            objects_arn,
            f"Object-level {', '.join(s3_actions)} on the {prefix} prefix of this stack's payload bucket"
            f" only; object keys are {_KEYED_BY[prefix]} that are not known in advance.",
        )
        return grant

    def grant_read_inputs(self, grantee: iam.IGrantable) -> iam.Grant:
        """GetObject under input/ only (the endpoint reads what the API wrote)."""
        return self.grant_prefix(grantee, INPUT_PREFIX, read=True)

    def grant_write_results(self, grantee: iam.IGrantable) -> list[iam.Grant]:
        """PutObject under output/ and failure/ only (the endpoint writes results and errors)."""
        return [self.grant_prefix(grantee, prefix, write=True) for prefix in (OUTPUT_PREFIX, FAILURE_PREFIX)]

    def grant_submit_requests(self, grantee: iam.IGrantable) -> iam.Grant:
        """Put, read back and delete (after a refused invoke) under input/ only: the API's requests."""
        return self.grant_prefix(grantee, INPUT_PREFIX, read=True, write=True, delete=True)

    def grant_read_results(self, grantee: iam.IGrantable) -> list[iam.Grant]:
        """GetObject under output/ and failure/, and ListBucket so a missing result reads as 404, not 403."""
        self.grant_list(grantee)
        return [self.grant_prefix(grantee, prefix, read=True) for prefix in (OUTPUT_PREFIX, FAILURE_PREFIX)]

    def grant_list(self, grantee: iam.IGrantable) -> iam.Grant:
        """ListBucket: without it S3 answers 403 for a missing object, not 404; the batch jobs also count by listing."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=["s3:ListBucket"], resource_arns=[self.bucket.bucket_arn])

    def grant_prefix(
        self, grantee: iam.IGrantable, prefix: str, *, read: bool = False, write: bool = False, delete: bool = False
    ) -> iam.Grant:
        """GetObject (`read`), PutObject (`write`) and DeleteObject (`delete`) under one of the bucket's prefixes only,
        with the key's Decrypt (to read) and GenerateDataKey (to write) they need."""
        if prefix not in PREFIXES:
            raise ValueError(f"{prefix!r} is not one of the payload bucket's prefixes: {', '.join(PREFIXES)}")
        if not (read or write or delete):
            raise ValueError("grant_prefix: read, write or delete")
        wanted_actions = (("s3:DeleteObject", delete), ("s3:GetObject", read), ("s3:PutObject", write))
        s3_actions = [action for action, wanted in wanted_actions if wanted]
        kms_actions = [action for action, wanted in (("kms:Decrypt", read), ("kms:GenerateDataKey", write)) if wanted]
        return self._grant_objects(grantee, prefix, s3_actions, kms_actions)
