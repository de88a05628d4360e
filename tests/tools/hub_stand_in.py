"""A stand-in for the Hugging Face Hub's HTTP API and its LFS CDN on 127.0.0.1, for the weights staging tests.

It answers as the Hub answers the requests huggingface_hub 2.4.0 makes (the rule beside each answer names the
huggingface_hub source that reads it), from its own repositories; it knows nothing of the staging command.

- GET /api/models/{owner}/{name}/revision/{rev}[?blobs=true]: hf_api.py `HfApi.model_info` (files_metadata sends
  blobs=true); the body's fields are `ModelInfo.__init__`'s: sha, private, gated, siblings {rfilename, and with
  blobs: size, blobId, lfs {sha256, size, pointerSize}}.
- HEAD|GET /{owner}/{name}/resolve/{rev}/{path}: file_download.py `get_hf_file_metadata` reads X-Repo-Commit, ETag
  (or X-Linked-Etag first), X-Linked-Size (else Content-Length when not a redirect) and Location. A regular git file
  answers 200 with its git blob id as ETag; an LFS file answers 302 to the CDN with X-Linked-Etag (its sha256) and
  X-Linked-Size, and huggingface_hub stops there because the CDN is another origin (utils/_http.py,
  `_httpx2_follow_hub_redirects_with_backoff`, `_is_same_or_hub_host`; a port is part of the origin).
- GET on the CDN /lfs/{sha256}: a signed URL, so no token is needed, and huggingface_hub sends none
  (`_get_metadata_or_catch_error` drops Authorization off the Hub). Range requests answer 206 with Content-Range:
  `http_get` resumes a dropped download with Range: bytes=N-.
- Refusals carry X-Error-Code and X-Error-Message, which `hf_raise_for_status` (utils/_http.py) turns into
  RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError, RemoteEntryNotFoundError. A gated repository's
  listing is public and its files are not (huggingface.js issue #945: "it's now possible to list gated files with
  the API"): 401 GatedRepo without a token, 403 with a token not granted access. A private repository is hidden:
  401 RepoNotFound without a token, 404 with one (`hf_raise_for_status`'s comment on 401). An unknown token: 401
  "Invalid credentials in Authorization header", the message `hf_raise_for_status` singles out.

Faults, per repository path: `corrupt` (one byte flipped, same size), `truncate` (the first N bytes, announced as
the full answer: a mirror serving a short file), `drop_after` (the next GET sends N bytes of the body, then closes
the connection; once), `fail` (GETs of the content answer that status until removed). `requests` records every
request (server, method, path, the repository file concerned, Range, Authorization, status).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def git_blob_id(content: bytes) -> str:
    """`git hash-object`: sha1 over "blob <size>\\0" and the content."""
    return hashlib.sha1(b"blob " + str(len(content)).encode() + b"\0" + content).hexdigest()


@dataclass(frozen=True)
class RepoFile:
    path: str
    content: bytes
    lfs: bool = False

    @cached_property  # a file of megabytes is hashed once, not at each request
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @cached_property
    def pointer(self) -> bytes:
        """The git-lfs pointer file git stores in place of an LFS file's content (git-lfs spec v1)."""
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.content)}\n".encode()

    @cached_property
    def blob_id(self) -> str:
        return git_blob_id(self.pointer if self.lfs else self.content)


@dataclass
class Repo:
    model_id: str
    commit: str
    files: list[RepoFile]
    gated: bool = False
    private: bool = False
    granted: frozenset[str] = frozenset()
    """Tokens whose accounts may read the files of a gated or private repository."""

    def file(self, path: str) -> RepoFile | None:
        return next((file for file in self.files if file.path == path), None)


@dataclass
class Seen:
    server: str
    method: str
    path: str
    file: str | None = None
    range: str | None = None
    authorization: str | None = None
    status: int = 0


@dataclass
class _Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _refusal(status: int, code: str | None, message: str) -> _Answer:
    headers = {"X-Error-Message": message, "Content-Type": "application/json"}
    if code:
        headers["X-Error-Code"] = code
    return _Answer(status, headers, json.dumps({"error": message}).encode())


class HubStandIn:
    def __init__(self, repos: list[Repo], tokens: frozenset[str] = frozenset()) -> None:
        self.repos = {repo.model_id: repo for repo in repos}
        self.tokens = tokens
        self.corrupt: set[str] = set()
        self.truncate: dict[str, int] = {}
        self.drop_after: dict[str, int] = {}
        self.fail: dict[str, int] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._servers = {role: self._server(role) for role in ("hub", "cdn")}

    def _server(self, role: str) -> ThreadingHTTPServer:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive and a Content-Length on every answer, as the Hub's

            def do_GET(self) -> None:
                stand_in._serve(self, role)

            def do_HEAD(self) -> None:
                stand_in._serve(self, role)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self._servers[role].server_address[1]}"

    @property
    def endpoint(self) -> str:
        return self.url("hub")

    def __enter__(self) -> HubStandIn:
        for server in self._servers.values():
            # A short poll: shutdown() waits for the serving loop to notice, up to one poll interval.
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def downloads(self) -> list[str]:
        """The repository files whose content was sent (GETs answered 200 or 206), in order."""
        return [seen.file for seen in self.requests if seen.method == "GET" and seen.status in (200, 206) and seen.file]

    def _served(self, path: str, content: bytes) -> bytes:
        if path in self.truncate:
            content = content[: self.truncate[path]]
        if path in self.corrupt:
            middle = len(content) // 2
            content = content[:middle] + bytes([content[middle] ^ 0xFF]) + content[middle + 1 :]
        return content

    def _serve(self, handler: BaseHTTPRequestHandler, role: str) -> None:
        path = unquote(urlsplit(handler.path).path)
        seen = Seen(role, handler.command, path, range=handler.headers.get("Range"), authorization=handler.headers.get("Authorization"))
        with self._lock:
            self.requests.append(seen)
        answer, content = self._route(handler, role, seen)
        if content is not None:
            answer = self._content(handler, seen, content, answer.headers)
        seen.status = answer.status
        handler.send_response(answer.status)
        for name, value in {"Content-Length": str(len(answer.body)), **answer.headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command == "GET":
            drop = self.drop_after.pop(seen.file, None) if seen.file and answer.status in (200, 206) else None
            handler.wfile.write(answer.body if drop is None else answer.body[:drop])
            if drop is not None:
                # The body ends short of its Content-Length: httpx2 raises RemoteProtocolError, http_get resumes.
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True

    def _route(self, handler: BaseHTTPRequestHandler, role: str, seen: Seen) -> tuple[_Answer, bytes | None]:
        if role == "cdn":
            match = re.fullmatch(r"/lfs/([0-9a-f]{64})", seen.path)
            file = next((f for repo in self.repos.values() for f in repo.files if match and f.lfs and f.sha256 == match[1]), None)
            if file is None:
                return _refusal(404, None, "NoSuchKey"), None
            seen.file = file.path
            return _Answer(200, {"Content-Type": "application/octet-stream"}), self._served(file.path, file.content)
        token = None
        if seen.authorization:
            token = seen.authorization.removeprefix("Bearer ")
            if token not in self.tokens:
                return _refusal(401, None, "Invalid credentials in Authorization header"), None
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", seen.path)
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", seen.path)
        if not (api or resolve):
            return _refusal(404, None, "Not found"), None
        repo = self.repos.get((api or resolve)[1])  # type: ignore[index]
        if repo is None or (repo.private and token not in repo.granted):
            return _refusal(404 if token else 401, "RepoNotFound", "Repository not found"), None
        revision = (api[2] if api else resolve[2]) or "main"  # type: ignore[index]
        if revision not in ("main", repo.commit):
            return _refusal(404, "RevisionNotFound", f"Invalid rev id: {revision}"), None
        if api:
            return _Answer(200, {"Content-Type": "application/json"}, self._info(repo, handler)), None
        if repo.gated and token not in repo.granted:
            if token is None:
                return _refusal(401, "GatedRepo", f"Access to model {repo.model_id} is restricted. You must have access "
                                "to it and be authenticated to access it. Please log in."), None
            return _refusal(403, "GatedRepo", f"Access to model {repo.model_id} is restricted and you are not in the "
                            f"authorized list. Visit {self.endpoint}/{repo.model_id} to ask for access."), None
        file = repo.file(resolve[3])  # type: ignore[index]
        if file is None:
            return _refusal(404, "EntryNotFound", "Entry not found"), None
        seen.file = file.path
        served = self._served(file.path, file.content)
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{file.blob_id}"'}
        if not file.lfs:
            return _Answer(200, {**headers, "Content-Type": "text/plain; charset=utf-8"}), served
        location = f"{self.url('cdn')}/lfs/{file.sha256}?X-Amz-Signature=stand-in"
        body = f"Found. Redirecting to {location}".encode()
        return _Answer(302, {**headers, "Location": location, "X-Linked-Etag": f'"{file.sha256}"',
                             "X-Linked-Size": str(len(served))}, body), None

    def _info(self, repo: Repo, handler: BaseHTTPRequestHandler) -> bytes:
        blobs = parse_qs(urlsplit(handler.path).query).get("blobs") == ["true"]  # httpx2 writes True as "true"
        siblings = []
        for file in repo.files:
            sibling: dict[str, Any] = {"rfilename": file.path}
            if blobs:
                sibling.update(size=len(file.content), blobId=file.blob_id)
                if file.lfs:
                    sibling["lfs"] = {"sha256": file.sha256, "size": len(file.content), "pointerSize": len(file.pointer)}
            siblings.append(sibling)
        info = {"_id": repo.commit[:24], "id": repo.model_id, "modelId": repo.model_id, "sha": repo.commit,
                "private": repo.private, "gated": "manual" if repo.gated else False, "disabled": False,
                "tags": [], "siblings": siblings}
        return json.dumps(info).encode()

    def _content(self, handler: BaseHTTPRequestHandler, seen: Seen, content: bytes, headers: dict[str, str]) -> _Answer:
        headers = {**headers, "Accept-Ranges": "bytes"}
        if seen.file in self.fail and handler.command == "GET":
            return _refusal(self.fail[seen.file], None, "Service Unavailable")
        if not seen.range:
            return _Answer(200, headers, content)
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", seen.range)
        if match is None or int(match[1]) >= len(content):
            return _Answer(416, {**headers, "Content-Range": f"bytes */{len(content)}"})
        start = int(match[1])
        end = min(int(match[2]) + 1 if match[2] else len(content), len(content))
        return _Answer(206, {**headers, "Content-Range": f"bytes {start}-{end - 1}/{len(content)}"}, content[start:end])
