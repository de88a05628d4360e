"""The Hub side, through huggingface_hub 2.4.0 only: the listing, an access probe, and resumable downloads.

- Listing: `HfApi.model_info(files_metadata=True)`, one GET /api/models/{id}/revision/{rev}?blobs=true
  (hf_api.py, `model_info`), whose siblings carry size, blobId and lfs {sha256, size} (`ModelInfo.__init__`).
- Access: the listing of a gated repository is public; its files answer 401/403 with X-Error-Code GatedRepo
  (utils/_http.py, `hf_raise_for_status`). So one HEAD on a file (`get_hf_file_metadata`) proves the token can
  download before anything is written.
- Downloads: `hf_hub_download(local_dir=...)`. A connection dropped mid-file is resumed by a Range request
  (file_download.py, `http_get`, up to 5 times while bytes still arrive); a file already downloaded for this
  commit is returned without a request (`_hf_hub_download_to_local_dir`). A partial file does not survive the
  process in 2.4.0 (`_download_to_tmp_and_move` deletes it, huggingface_hub PR #4228): an interrupted run
  downloads the interrupted file again, and skips every file already downloaded or uploaded.
- `endpoint=` is passed on every call: huggingface_hub reads HF_ENDPOINT once, at import (constants.py).
- `token=False` when there is none: None would make huggingface_hub send a token saved on the machine by
  `hf auth login` (utils/_headers.py, `get_token_to_send`), which this command never uses.
- Telemetry off (`Hub.__init__`): building each request's user agent, huggingface_hub 2.4.0 reports the host's torch
  and fetches {HF_ENDPOINT at import}/api/agent-harnesses to detect AI agents (utils/_headers.py,
  `build_hf_user_agent`; utils/_detect_agent.py), a request to huggingface.co whatever --hub-endpoint says, and
  a file written under HF_HOME. A build step copying weights has nothing to report.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import huggingface_hub.constants
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from llm_async_tools.weights.errors import StagingFailed, UsageError
from llm_async_tools.weights.integrity import HubFile

LIBRARY = "llm-async-weights"


def _server_says(error: HfHubHTTPError) -> str:
    status = error.response.status_code if error.response is not None else "?"
    message = " ".join((error.server_message or "").split())
    return f"the Hub answered {status}" + (f": {message}" if message else "")


class Hub:
    """One repository at one commit on one Hub endpoint, read with one token (or none)."""

    def __init__(self, endpoint: str, token: str | None, model_id: str, revision: str, cache_dir: Path) -> None:
        # Read at each request (utils/_headers.py); the HF_HUB_DISABLE_TELEMETRY variable only at import.
        huggingface_hub.constants.HF_HUB_DISABLE_TELEMETRY = True
        self.endpoint, self.model_id, self.revision = endpoint, model_id, revision
        self._token: str | bool = token or False
        self._has_token = token is not None
        # Files land at their repository paths under a directory of this commit; huggingface_hub's own cache
        # (consulted by local_dir downloads) is kept beside it instead of the user's ~/.cache/huggingface.
        self.local_dir = cache_dir / model_id / revision
        self._hf_cache = cache_dir / "huggingface-hub-cache"

    def _refusal(self, error: HfHubHTTPError) -> UsageError | None:
        """The configuration error a Hub refusal means (exit 2), or None for a failure worth retrying."""
        where = f"{self.model_id} on {self.endpoint}"
        if isinstance(error, GatedRepoError):
            if not self._has_token:
                return UsageError(f"--model-id: {where} is a gated repository and no token was given: pass "
                                  "--token-secret-id (or set HF_TOKEN) with the token of an account granted access")
            return UsageError(f"--model-id: {where} is gated and the token's account has no access yet "
                              f"({_server_says(error)}): request it at {self.endpoint}/{self.model_id}")
        if isinstance(error, RevisionNotFoundError):
            return UsageError(f"--revision: no commit {self.revision} in {where} ({_server_says(error)})")
        if isinstance(error, (RepositoryNotFoundError, DisabledRepoError)):
            token = "the token given cannot read it" if self._has_token else "no token was given"
            return UsageError(f"--model-id: {where} does not exist, or is private and {token} ({_server_says(error)})")
        if error.response is not None and error.response.status_code in (401, 403):
            return UsageError(f"the Hub refused the token for {where} ({_server_says(error)})")
        return None

    def _failure(self, error: Exception, what: str) -> Exception:
        if isinstance(error, HfHubHTTPError) and (refusal := self._refusal(error)) is not None:
            return refusal
        detail = _server_says(error) if isinstance(error, HfHubHTTPError) else (str(error).splitlines() or [repr(error)])[0]
        return StagingFailed(f"{what}: {detail}; run the command again to resume")

    def list_files(self) -> list[HubFile]:
        try:
            info = HfApi(endpoint=self.endpoint, library_name=LIBRARY).model_info(
                self.model_id, revision=self.revision, files_metadata=True, token=self._token
            )
        except (HfHubHTTPError, httpx2.HTTPError) as error:
            raise self._failure(error, f"listing {self.model_id} at {self.revision}") from None
        if info.sha != self.revision:
            raise StagingFailed(f"the Hub listed commit {info.sha} when asked for {self.revision}")
        files = []
        for sibling in info.siblings or []:
            if sibling.size is None or sibling.blob_id is None:
                raise StagingFailed(f"{sibling.rfilename}: the Hub's listing has no size or blob id for it")
            lfs_sha256 = sibling.lfs.sha256 if sibling.lfs is not None else None
            files.append(HubFile(path=sibling.rfilename, size=sibling.size, blob_id=sibling.blob_id, lfs_sha256=lfs_sha256))
        return files

    def require_access(self, path: str) -> None:
        """Exit-2 errors for a gated, private or refused repository, found with one HEAD and no download."""
        url = hf_hub_url(self.model_id, path, revision=self.revision, endpoint=self.endpoint)
        try:
            get_hf_file_metadata(url, token=self._token, library_name=LIBRARY, endpoint=self.endpoint)
        except (HfHubHTTPError, httpx2.HTTPError) as error:
            raise self._failure(error, f"{path}: metadata") from None

    def download(self, file: HubFile) -> Path:
        try:
            local = hf_hub_download(
                self.model_id,
                file.path,
                revision=self.revision,
                local_dir=self.local_dir,
                cache_dir=self._hf_cache,
                endpoint=self.endpoint,
                token=self._token,
                library_name=LIBRARY,
            )
        except (HfHubHTTPError, httpx2.HTTPError, OSError, ValueError) as error:
            # OSError also carries http_get's "Consistency check failed: file should be of size X but has size Y";
            # ValueError, its refusal of a file over 50 GB by plain HTTP (only Xet storage serves those).
            raise self._failure(error, file.path) from None
        return Path(local)
