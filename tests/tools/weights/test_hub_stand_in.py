"""huggingface_hub 2.4.0 itself against the Hub stand-in: the stand-in answers what the library reads, without the
staging command in between (so a stand-in the library misreads fails here, not as a puzzle in test_stage)."""

from __future__ import annotations

import io

import huggingface_hub.constants
import pytest
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.file_download import http_get

from tests.tools.hub_stand_in import git_blob_id
from tests.tools.weights.conftest import FILES, GATED_ID, MODEL_ID, PRIVATE_ID, REVISION, TOKEN, UNGRANTED_TOKEN


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    # As the staging command does (hub.py): huggingface_hub's user agent would otherwise look up huggingface.co.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)


def test_model_info_with_files_metadata_describes_each_file(hub) -> None:
    info = HfApi(endpoint=hub.endpoint).model_info(MODEL_ID, revision=REVISION, files_metadata=True, token=False)

    assert info.sha == REVISION
    siblings = {sibling.rfilename: sibling for sibling in info.siblings}
    assert set(siblings) == set(FILES)
    config, weights = siblings["config.json"], siblings["model.safetensors"]
    assert (config.size, config.blob_id, config.lfs) == (len(FILES["config.json"].content), git_blob_id(FILES["config.json"].content), None)
    assert weights.size == len(FILES["model.safetensors"].content)
    assert weights.lfs.sha256 == FILES["model.safetensors"].sha256
    assert weights.blob_id == git_blob_id(FILES["model.safetensors"].pointer)  # an LFS file's git blob is its pointer


def test_model_info_without_files_metadata_lists_names_only(hub) -> None:
    info = HfApi(endpoint=hub.endpoint).model_info(MODEL_ID, revision=REVISION, token=False)

    assert {sibling.size for sibling in info.siblings} == {None}


def test_an_lfs_files_metadata_names_its_sha256_size_and_the_cdn(hub) -> None:
    url = hf_hub_url(MODEL_ID, "model.safetensors", revision=REVISION, endpoint=hub.endpoint)

    metadata = get_hf_file_metadata(url, token=False, endpoint=hub.endpoint)

    assert metadata.commit_hash == REVISION
    assert metadata.etag == FILES["model.safetensors"].sha256
    assert metadata.size == len(FILES["model.safetensors"].content)
    assert metadata.location.startswith(hub.url("cdn") + "/lfs/")
    assert metadata.xet_file_data is None


def test_a_regular_files_metadata_names_its_git_blob_id(hub) -> None:
    url = hf_hub_url(MODEL_ID, "config.json", revision=REVISION, endpoint=hub.endpoint)

    metadata = get_hf_file_metadata(url, token=False, endpoint=hub.endpoint)

    assert (metadata.etag, metadata.size, metadata.location) == (git_blob_id(FILES["config.json"].content), len(FILES["config.json"].content), url)


@pytest.mark.parametrize(
    ("model_id", "token", "error", "status"),
    [
        (GATED_ID, False, GatedRepoError, 401),
        (GATED_ID, UNGRANTED_TOKEN, GatedRepoError, 403),
        (PRIVATE_ID, False, RepositoryNotFoundError, 401),
        (PRIVATE_ID, UNGRANTED_TOKEN, RepositoryNotFoundError, 404),
        (MODEL_ID, "hf_NotAToken", HfHubHTTPError, 401),
    ],
)
def test_refusals_raise_huggingface_hubs_errors(hub, model_id, token, error, status) -> None:
    url = hf_hub_url(model_id, "config.json", revision=REVISION, endpoint=hub.endpoint)

    with pytest.raises(error) as raised:
        get_hf_file_metadata(url, token=token, endpoint=hub.endpoint)

    assert raised.value.response.status_code == status
    if error is HfHubHTTPError:
        assert not isinstance(raised.value, RepositoryNotFoundError)  # an invalid token is not a missing repository
    if error is RepositoryNotFoundError:
        assert not isinstance(raised.value, GatedRepoError)


def test_a_gated_repository_lists_its_files_to_anyone(hub) -> None:
    info = HfApi(endpoint=hub.endpoint).model_info(GATED_ID, revision=REVISION, files_metadata=True, token=False)

    assert info.gated == "manual" and len(info.siblings) == len(FILES)
    url = hf_hub_url(GATED_ID, "config.json", revision=REVISION, endpoint=hub.endpoint)
    assert get_hf_file_metadata(url, token=TOKEN, endpoint=hub.endpoint).commit_hash == REVISION


def test_an_unknown_revision_is_revision_not_found(hub) -> None:
    with pytest.raises(RevisionNotFoundError):
        HfApi(endpoint=hub.endpoint).model_info(MODEL_ID, revision="b" * 40, files_metadata=True, token=False)


def test_a_range_request_gets_the_rest_of_the_file(hub) -> None:
    url = get_hf_file_metadata(hf_hub_url(MODEL_ID, "model.safetensors", revision=REVISION, endpoint=hub.endpoint), token=False).location
    content = FILES["model.safetensors"].content
    received = io.BytesIO()

    http_get(url, received, resume_size=1000, expected_size=len(content))

    assert received.getvalue() == content[1000:]
    assert [(seen.range, seen.status) for seen in hub.requests if seen.server == "cdn"] == [("bytes=1000-", 206)]
