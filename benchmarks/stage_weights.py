"""Staging throughput of `python -m llm_async_tools.weights stage` on the loopback (issue 14's acceptance).

    python benchmarks/stage_weights.py [--megabytes 50] [--repeat 3]

Generates a repository of --megabytes MB (MB = 10^6 bytes throughout): config.json, generation_config.json,
tokenizer_config.json, a tokenizer.json of about 2% of the total and model.safetensors.index.json as regular git
files, the rest in three LFS shards model-0000N-of-00003.safetensors of random bytes (incompressible; the command
never parses them). Every file is in the command's default selection, so what is staged is the whole repository.
The Hub stand-in (tests/tools/hub_stand_in.py) serves it on 127.0.0.1, its API and its LFS CDN as two servers, and
hashes the files before the clock starts. Each of --repeat runs then calls the command's own `main` (the
console entry point, the real argv, the default 64 MiB transfer configuration, a cache directory of its own) twice
against a fresh bucket:

- first run: empty bucket and cache: the listing, the access probe, then for each file its download, verification,
  upload and the deletion of the local copy; the prefix's listing; the manifest. Throughput = total bytes / this.
- second run: already staged: the manifest and one HEAD per object; the Hub must get no request, which the
  stand-in's request counters show.

It prints each run, then the median over the runs of: total bytes and files (the manifest's), the first run's wall
time and throughput, the second run's wall time, the Hub requests and downloads of the second runs, and the peak
RSS. Wall times are time.perf_counter around `main` (the boto3 session and client creation included, interpreter
start-up and imports not: the script imports the command once).

S3 is moto's `mock_aws`, in this process, rather than moto's ThreadedMotoServer on 127.0.0.1: it does not distort
the times, and the server needs moto[server] (Flask), which the project's requirements do not install. In process,
botocore still builds, signs and checksums every request (ChecksumAlgorithm SHA256, as the command asks) and moto
still reads and stores each body; only the socket on the S3 side is missing, and the server would put werkzeug's
pure-Python HTTP server in its place, a cost neither of the command nor of S3. Measured once against the server
(Flask installed out of the tree, 50 MB, medians of 3, alternating): first run 1.12/1.34/1.15 s with the server,
1.18/1.22/1.20 s in process, the second run 0.14-0.26 s either way; the peak RSS was 270-320 MiB with the server and
385-390 MiB in process (the command being the same, the difference is moto's in-process path). The Hub side is real
HTTP on the loopback, huggingface_hub's own download path.

The peak RSS (resource.getrusage, the process's high-water mark) is the whole process's: the stand-in's copy of the
repository and moto's copies of each request body are in it. The peak before the first run is printed beside it;
the difference bounds the command's own memory from above. Hosts other than the loopback cannot be looked up
during the runs (as in tests/tools/weights): a run that tried fails the script rather than report a figure.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from llm_async.model.staged import manifest_key  # noqa: E402
from llm_async_tools.weights.cli import main as stage_command  # noqa: E402
from tests.tools.hub_stand_in import HubStandIn, Repo, RepoFile  # noqa: E402

MODEL_ID = "benchmark/generated-llm"
REVISION = hashlib.sha1(b"benchmarks/stage_weights.py").hexdigest()
BUCKET = "llm-async-weights-benchmark"
REGION = "us-east-1"
MB = 1_000_000
SHARDS = 3
LAYERS = 32
LOOPBACK = ("127.0.0.1", "localhost", b"127.0.0.1", b"localhost")


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2).encode()


def repository(total: int) -> list[RepoFile]:
    """Files of `total` bytes in all: the regular git files, then SHARDS LFS shards filling the rest."""
    vocabulary = {f"t{index:x}": index for index in range(max(256, total // 50 // 20))}  # ~20 bytes an entry
    shard_names = [f"model-{index:05d}-of-{SHARDS:05d}.safetensors" for index in range(1, SHARDS + 1)]
    weight_map = {f"model.layers.{layer}.{tensor}.weight": shard_names[layer * SHARDS // LAYERS]
                  for layer in range(LAYERS) for tensor in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")}
    regular = [
        RepoFile("config.json", _json({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
                                       "num_hidden_layers": LAYERS, "vocab_size": len(vocabulary), "torch_dtype": "bfloat16"})),
        RepoFile("generation_config.json", _json({"bos_token_id": 1, "eos_token_id": 2, "temperature": 0.6, "top_p": 0.9})),
        RepoFile("tokenizer_config.json", _json({"model_max_length": 8192, "tokenizer_class": "PreTrainedTokenizerFast"})),
        RepoFile("tokenizer.json", json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": vocabulary}}).encode()),
        RepoFile("model.safetensors.index.json", _json({"metadata": {}, "weight_map": weight_map})),
    ]
    rest = total - sum(len(file.content) for file in regular)
    if rest < SHARDS * 1024:
        raise SystemExit(f"--megabytes: {total / MB:g} MB leaves no room for the shards after the "
                         f"{total - rest:,} bytes of regular files")
    sizes = [rest // SHARDS] * SHARDS
    sizes[-1] += rest % SHARDS
    # os.urandom allocates each shard once: a transient copy would raise the peak RSS before the clock starts.
    return regular + [RepoFile(name, os.urandom(size), lfs=True) for name, size in zip(shard_names, sizes)]


@contextlib.contextmanager
def loopback_only() -> Iterator[list[str]]:
    """Refuse (and record) every host lookup but the loopback's while the runs go on."""
    looked_up: list[str] = []
    resolve = socket.getaddrinfo

    def loopback(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            looked_up.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: the benchmark reaches the loopback only")
        return resolve(host, *args, **kwargs)

    socket.getaddrinfo = loopback
    try:
        yield looked_up
    finally:
        socket.getaddrinfo = resolve


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


@dataclass(frozen=True)
class Run:
    seconds: float
    hub_requests: int
    downloads: int
    """Repository files whose content the stand-in sent (its `downloads()`)."""
    out: str


def stage_once(hub: HubStandIn, cache_dir: Path) -> Run:
    argv = ["stage", "--model-id", MODEL_ID, "--revision", REVISION, "--bucket", BUCKET, "--region", REGION,
            "--hub-endpoint", hub.endpoint, "--cache-dir", str(cache_dir)]
    requests, downloads = len(hub.requests), len(hub.downloads())
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):  # huggingface_hub's download bars write to sys.stderr
        start = time.perf_counter()
        # A session of its own per run, as each run of the command is a process of its own.
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        code = stage_command(argv, session=session, environ={}, out=out, err=err)
        seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"the staging command exited {code}:\n{err.getvalue()}")
    return Run(seconds, len(hub.requests) - requests, len(hub.downloads()) - downloads, out.getvalue())


def measure(hub: HubStandIn, work: Path) -> tuple[Run, Run, dict[str, Any]]:
    """A first and a second run against a fresh bucket (a fresh moto), and the manifest they left."""
    with mock_aws():
        s3 = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION).client("s3")
        s3.create_bucket(Bucket=BUCKET)
        first = stage_once(hub, work / "cache")
        second = stage_once(hub, work / "cache")
        manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key(MODEL_ID, REVISION))["Body"].read())
    if not first.out.startswith("staged ") or not second.out.startswith("already staged "):
        raise SystemExit(f"unexpected reports: first run {first.out!r}, second run {second.out!r}")
    return first, second, manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=50.0, help="the generated repository's size in MB (10^6 bytes)")
    parser.add_argument("--repeat", type=int, default=3, help="runs (a first and a second each) to take the median of")
    args = parser.parse_args(argv)
    if args.megabytes <= 0:
        parser.error(f"--megabytes: must be positive (got {args.megabytes:g})")
    if args.repeat < 1:
        parser.error(f"--repeat: must be at least 1 (got {args.repeat})")

    files = repository(round(args.megabytes * MB))
    for file in files:  # the stand-in hashes each file once, at the first listing: not on the first run's clock
        _ = file.sha256, file.blob_id
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    results = []
    with (loopback_only() as looked_up, HubStandIn([Repo(MODEL_ID, REVISION, files)]) as hub,
          tempfile.TemporaryDirectory(prefix="stage-weights-") as work):
        rss_before = peak_rss_mib()
        for index in range(1, args.repeat + 1):
            first, second, manifest = measure(hub, Path(work) / f"run-{index}")
            results.append((first, second, manifest))
            rate = manifest["total_bytes"] / MB / first.seconds
            print(f"run {index}/{args.repeat}: first {first.seconds:.3f} s ({rate:.1f} MB/s, {first.downloads} downloads, "
                  f"{first.hub_requests} Hub requests), second {second.seconds:.3f} s "
                  f"({second.downloads} downloads, {second.hub_requests} Hub requests)", flush=True)
    if looked_up:
        raise SystemExit(f"the command looked up hosts other than the loopback: {sorted(set(looked_up))}")

    total_bytes = statistics.median(manifest["total_bytes"] for _, _, manifest in results)
    files_staged = statistics.median(len(manifest["files"]) for _, _, manifest in results)
    first_s = statistics.median(first.seconds for first, _, _ in results)
    second_s = statistics.median(second.seconds for _, second, _ in results)
    print(f"median of {args.repeat} run(s); S3: moto mock_aws in process; Hub: the stand-in on 127.0.0.1; "
          f"load average before: {load}")
    print(f"total bytes:             {total_bytes:,.0f}")
    print(f"files:                   {files_staged:.0f} ({SHARDS} LFS shards)")
    print(f"first run:               {first_s:.3f} s (download + verify + upload + manifest)")
    print(f"throughput:              {total_bytes / MB / first_s:.1f} MB/s (total bytes / first run)")
    print(f"second run:              {second_s:.3f} s (already staged: manifest + one HEAD per object)")
    print(f"second run Hub requests: {sum(second.hub_requests for _, second, _ in results)} (all runs)")
    print(f"second run downloads:    {sum(second.downloads for _, second, _ in results)} (all runs)")
    print(f"peak RSS:                {peak_rss_mib():.1f} MiB (the whole process; {rss_before:.1f} MiB before the first run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
