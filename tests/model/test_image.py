"""`EngineImage` alone (TGI, and vLLM where it differs): a region mapping and a rule when environment-agnostic, plain strings in a region; the DLC table."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from llm_async.model import dlc_table
from llm_async.model.dlc_table import ImageUri
from llm_async.model.engines import TGI, VLLM
from llm_async.model.image import EngineImage
from tests.constructs import bare_stack, template

VERSION = "3.3.6"
TGI_TAG = "huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
REPOSITORY = "huggingface-pytorch-tgi-inference"


@dataclass(frozen=True)
class Built:
    stack: cdk.Stack
    image: EngineImage
    template: Template


def _build(region: str | None) -> Built:
    stack = bare_stack(region=region, account=None if region is None else "123456789012")
    image = EngineImage(stack, "Image", engine=TGI, version=VERSION)
    # The image is a pair of strings: outputs show them in the template; a stack needs one resource to synthesize.
    cdk.CfnOutput(stack, "ImageUri", value=image.image_uri)
    cdk.CfnOutput(stack, "RepositoryArn", value=image.repository_arn)
    cdk.CfnWaitConditionHandle(stack, "Placeholder")
    return Built(stack, image, template(stack))


@pytest.fixture(scope="module")
def agnostic() -> Built:
    return _build(None)


# A concrete region's image and repository: its registry's account, and China's own partition and DNS suffix.
PINNED = {
    "us-east-1": (
        f"763104351884.dkr.ecr.us-east-1.amazonaws.com/{TGI_TAG}",
        f"arn:aws:ecr:us-east-1:763104351884:repository/{REPOSITORY}",
    ),
    "cn-north-1": (
        f"727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/{TGI_TAG}",
        f"arn:aws-cn:ecr:cn-north-1:727897471807:repository/{REPOSITORY}",
    ),
}


@pytest.fixture(scope="module", params=sorted(PINNED))
def pinned(request: pytest.FixtureRequest) -> Built:
    return _build(request.param)


def _mapping_id(built: Built) -> str:
    (mapping_id,) = built.template.to_json()["Mappings"]
    return mapping_id


# Environment-agnostic: every region of the table, resolved by CloudFormation at deploy time.


def test_env_agnostic_image_is_looked_up_by_the_deploy_region(agnostic: Built) -> None:
    agnostic.template.has_output(
        "ImageUri", {"Value": {"Fn::FindInMap": [_mapping_id(agnostic), {"Ref": "AWS::Region"}, "uri"]}}
    )


def test_env_agnostic_mapping_has_every_region_of_the_table(agnostic: Built) -> None:
    regions = agnostic.template.to_json()["Mappings"][_mapping_id(agnostic)]
    assert sorted(regions) == list(dlc_table.regions(TGI.framework, VERSION))
    assert len(regions) >= 40


def test_env_agnostic_mapping_carries_each_regions_own_registry(agnostic: Built) -> None:
    # DLC accounts differ by region, and the China regions have their own DNS suffix.
    regions = agnostic.template.to_json()["Mappings"][_mapping_id(agnostic)]
    assert regions["us-east-1"] == {
        "uri": f"763104351884.dkr.ecr.us-east-1.amazonaws.com/{TGI_TAG}",
        "account": "763104351884",
    }
    assert regions["ap-east-1"] == {
        "uri": f"871362719292.dkr.ecr.ap-east-1.amazonaws.com/{TGI_TAG}",
        "account": "871362719292",
    }
    assert regions["me-south-1"]["uri"] == f"217643126080.dkr.ecr.me-south-1.amazonaws.com/{TGI_TAG}"
    assert regions["cn-north-1"]["uri"] == f"727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/{TGI_TAG}"
    assert all(entry["uri"].startswith(f"{entry['account']}.dkr.ecr.{region}.") for region, entry in regions.items())


def test_env_agnostic_repository_arn_takes_the_registry_account_from_the_mapping(agnostic: Built) -> None:
    agnostic.template.has_output(
        "RepositoryArn",
        {
            "Value": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":ecr:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Fn::FindInMap": [_mapping_id(agnostic), {"Ref": "AWS::Region"}, "account"]},
                        f":repository/{REPOSITORY}",
                    ],
                ]
            }
        },
    )


def test_env_agnostic_stack_refuses_a_region_without_an_image(agnostic: Built) -> None:
    rules = agnostic.template.to_json()["Rules"]
    (rule_id,) = [name for name in rules if name != "CheckBootstrapVersion"]
    (assertion,) = rules[rule_id]["Assertions"]
    assert assertion["Assert"] == {"Fn::Contains": [list(dlc_table.regions(TGI.framework, VERSION)), {"Ref": "AWS::Region"}]}
    assert assertion["AssertDescription"] == (
        f"TGI {VERSION} has no SageMaker image in this region; supported: {', '.join(dlc_table.regions(TGI.framework, VERSION))}"
    )


# A concrete region: plain strings, no mapping and no rule.


def test_region_specific_image_is_a_plain_string_from_that_regions_registry(pinned: Built) -> None:
    image_uri, _ = PINNED[pinned.stack.region]
    assert pinned.image.image_uri == image_uri
    pinned.template.has_output("ImageUri", {"Value": image_uri})


def test_region_specific_stack_has_no_mapping_and_no_region_rule(pinned: Built) -> None:
    as_json = pinned.template.to_json()
    assert "Mappings" not in as_json
    assert set(as_json["Rules"]) == {"CheckBootstrapVersion"}


def test_region_specific_repository_arn_names_that_regions_registry(pinned: Built) -> None:
    # A known region's partition is known too: aws-cn for China.
    _, repository_arn = PINNED[pinned.stack.region]
    assert pinned.image.repository_arn == repository_arn


# The SDK's DLC table.


def test_image_table_regions_and_uris_agree_and_the_sdk_is_left_as_found() -> None:
    from sagemaker.core import common_utils, image_uris

    # The table read from the installed file is the one the SDK's own loader reads.
    assert dlc_table._inference_table(TGI.framework) == image_uris.config_for_framework(TGI.framework)["inference"]

    resolver = common_utils._botocore_resolver
    dlc_table.image_uris.cache_clear()  # resolve again here, through the block that reads the endpoints table once
    assert tuple(dlc_table.image_uris(TGI.framework, VERSION)) == dlc_table.regions(TGI.framework, VERSION)
    assert common_utils._botocore_resolver is resolver


def test_image_uri_parts() -> None:
    image = ImageUri(f"727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/{TGI_TAG}")
    assert (image.account, image.repository) == ("727897471807", REPOSITORY)


def test_one_repository_name_in_every_region() -> None:
    # EngineImage builds the repository ARN from one name; only the registry account differs by region.
    assert {image.repository for image in dlc_table.image_uris(TGI.framework, VERSION).values()} == {REPOSITORY}


def test_regions_are_sorted_and_the_default_version_is_in_the_table() -> None:
    regions = dlc_table.regions(TGI.framework, VERSION)
    assert list(regions) == sorted(regions)
    assert VERSION in dlc_table.available_versions(TGI.framework)


def test_the_vllm_image_is_awss_vllm_dlc_for_sagemaker() -> None:
    images = dlc_table.image_uris(VLLM.framework, VLLM.default_version)
    assert images["us-east-1"].uri == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/vllm:0.30.0-gpu-py312-cu130-ubuntu24.04-sagemaker"
    )
    assert {image.repository for image in images.values()} == {"vllm"}
    assert tuple(images) == dlc_table.regions(VLLM.framework, VLLM.default_version) and len(images) == 35


def test_an_agnostic_vllm_image_refuses_regions_without_it() -> None:
    stack = bare_stack(region=None, account=None)
    image = EngineImage(stack, "Image", engine=VLLM, version="0.30.0")
    cdk.CfnOutput(stack, "ImageUri", value=image.image_uri)
    cdk.CfnWaitConditionHandle(stack, "Placeholder")
    (rule,) = [r for r in template(stack).to_json()["Rules"].values() if "Assertions" in r and "RuleCondition" not in r
                and "has no SageMaker image" in r["Assertions"][0].get("AssertDescription", "")]
    assert rule["Assertions"][0]["AssertDescription"].startswith("vLLM 0.30.0 has no SageMaker image in this region;")
