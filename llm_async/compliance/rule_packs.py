"""The five cdk-nag rule packs every stack of the app is checked against, stacks inside Stages included."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks


def register_rule_packs(app: cdk.App) -> None:
    """An unacknowledged finding anywhere in the app, stacks inside Stages included, makes `app.synth()` raise.

    AWS Solutions, HIPAA Security, NIST 800-53 rev 5, PCI DSS 3.2.1 and Serverless: every finding is
    fixed or acknowledged at its resource.
    """
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app),
        HIPAASecurityChecks(app),
        NIST80053R5Checks(app),
        PCIDSS321Checks(app),
        ServerlessChecks(app),
    )
