"""The engine's container image for a stack's region, as a construct.

An environment-agnostic stack gets every region of the SDK's DLC table as a CloudFormation mapping,
resolved at deploy time; a stack with a concrete region gets plain strings.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from llm_async.model.dlc_table import image_uris
from llm_async.model.engines import Engine


class EngineImage(Construct):
    """Resolves the engine's image URI and ECR repository ARN for the enclosing stack's region."""

    def __init__(self, scope: Construct, id_: str, *, engine: Engine, version: str) -> None:
        super().__init__(scope, id_)
        images = image_uris(engine.framework, version)
        # lazy=True: a stack with a concrete region gets plain strings and no Mappings section.
        mapping = cdk.CfnMapping(
            self,
            "Regions",
            mapping={r: {"uri": i.uri, "account": i.account} for r, i in images.items()},
            lazy=True,
        )
        stack = cdk.Stack.of(self)
        # One repository name in every region; only the registry account differs.
        repository = images[min(images)].repository
        self.image_uri: str = mapping.find_in_map(stack.region, "uri")
        if cdk.Token.is_unresolved(stack.region):
            # Fails a deploy to a region without the engine's image with this message, not a bare FindInMap error.
            cdk.CfnRule(
                self,
                "SupportedRegion",
                assertions=[
                    cdk.CfnRuleAssertion(
                        assert_=cdk.Fn.condition_contains(list(images), stack.region),
                        assert_description=f"{engine.label} {version} has no SageMaker image in this region;"
                        f" supported: {', '.join(images)}",
                    )
                ],
            )
        self.repository_arn: str = stack.format_arn(
            service="ecr",
            account=mapping.find_in_map(stack.region, "account"),
            resource="repository",
            resource_name=repository,
        )
