"""The statements a WeightsStore grant gives its grantee, rendered (tests/weights/rendered.py): the object actions on
the prefix, a listing of that prefix only, the key's actions. grant_read and grant_stage (test_construct.py) and the
staging role that is given grant_stage (test_staging_access.py) all expect this one shape."""

from __future__ import annotations

from typing import Any


def prefix_statements(
    bucket_arn: str, prefix: str, s3_actions: str | list[str], kms_actions: str | list[str], key_logical_id: str
) -> list[dict[str, Any]]:
    return [
        {"Action": s3_actions, "Effect": "Allow", "Resource": f"{bucket_arn}/{prefix}*"},
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            "Effect": "Allow",
            "Resource": bucket_arn,
        },
        {"Action": kms_actions, "Effect": "Allow", "Resource": f"${{{key_logical_id}.Arn}}"},
    ]
