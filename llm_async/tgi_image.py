"""The TGI container image for a stack's region, as a construct.

An environment-agnostic stack gets every region of the SDK's DLC table as a CloudFormation mapping,
resolved at deploy time; a stack with a concrete region gets plain strings.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from llm_async.dlc_table import tgi_image_uris
from llm_async.errors import fail


class TgiImage(Construct):
    """Resolves the TGI image URI and ECR repository ARN for the enclosing stack's region."""

    def __init__(self, scope: Construct, id_: str, *, tgi_version: str) -> None:
        super().__init__(scope, id_)
        images = tgi_image_uris(tgi_version)
        # lazy=True: a stack with a concrete region gets plain strings and no Mappings section.
        mapping = cdk.CfnMapping(
            self,
            "Regions",
            mapping={r: {"uri": i.uri, "account": i.account} for r, i in images.items()},
            lazy=True,
        )
        stack = cdk.Stack.of(self)
        if not cdk.Token.is_unresolved(stack.region) and stack.region not in images:
            fail("region", f"a region with a TGI {tgi_version} image", stack.region)
        repositories = {i.repository for i in images.values()}
        (repository,) = repositories
        self.repository_name = repository
        self.image_uri: str = mapping.find_in_map(stack.region, "uri")
        self.repository_arn: str = stack.format_arn(
            service="ecr",
            account=mapping.find_in_map(stack.region, "account"),
            resource="repository",
            resource_name=repository,
        )
