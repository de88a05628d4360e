"""Validation throughput of a batch's input file (issue 16's figure): lines/s of `batch_jobs.lines.validate_file`.

    python benchmarks/batch_validation.py [--lines 50000] [--repeat 3] [--memory-mb 1024] [--engine tgi]

Generates a chat completions JSONL file of --lines lines (seeded, so every run validates the same bytes): each line
OpenAI's request input object (custom_id, method, url /v1/chat/completions, body) whose body has a system message and
a user message of 200–2,000 characters of text (one line in four a five-message conversation instead), and sampling
parameters on half of them (temperature, top_p, max_tokens, stop, seed). Every line is valid: a valid file is the
one Validate reads to its end. The limits are the default configuration's (llm_async_tools.openapi.default_limits:
the sandbox's model on --engine) and the design's batch limits (200 MB, 50,000 lines).

Each of --repeat runs validates the whole file as Validate does: in 1 MiB chunks (Validate's READ_CHUNK_BYTES, as it
reads S3), each valid line's body and item written by Validate's own writer (steps._ItemWriter) into temporary files.
S3 is left out: the figure is the CPU-bound part, which the Lambda's memory size scales.

It prints the file (lines, bytes), each run's wall time, and the median run's lines/s and MB/s on this machine, then
the estimate at --memory-mb. Validation is one thread; Lambda allocates CPU in proportion to memory, a full vCPU at
1,769 MB (AWS Lambda Developer Guide, "Configure Lambda function memory"), so one thread runs at min(1, memory/1769)
of a vCPU. The estimate takes a Lambda vCPU to be as fast as one core of this machine, which is not measured here.
--memory-mb defaults to 1024, the Validate function's memory in the batch construct (llm_async/batch/construct.py).
Peak RSS is the process's high-water mark (resource.getrusage), the generated file included.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "llm_async" / "api" / "runtime"))  # the Lambda asset's root, as Lambda imports it

from batch_jobs.lines import validate_file  # noqa: E402
from batch_jobs.steps import READ_CHUNK_BYTES, _ItemWriter  # noqa: E402

from llm_async_tools.openapi import default_batch_limits, default_limits  # noqa: E402

ONE_VCPU_MB = 1769
BATCH_ID = "batch_" + "0" * 32
_WORDS = ("the quick brown fox jumps over a lazy dog while summarising quarterly reports about inference latency and"
          " cost per token for several model families across regions").split()  # fmt: skip


def _text(rng: random.Random, low: int, high: int) -> str:
    size = rng.randint(low, high)
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def generate(lines: int, seed: int = 16) -> bytes:
    """A valid chat completions batch input file of `lines` lines."""
    rng = random.Random(seed)
    out = []
    for n in range(1, lines + 1):
        if n % 4 == 0:
            messages = [{"role": "system", "content": "You are a concise assistant."}]
            for turn in range(2):
                messages += [{"role": "user", "content": _text(rng, 100, 600)}, {"role": "assistant", "content": _text(rng, 50, 300)}]
            messages.append({"role": "user", "content": _text(rng, 100, 600)})
        else:
            messages = [{"role": "system", "content": "Summarise the user's text in one paragraph."},
                        {"role": "user", "content": _text(rng, 200, 2000)}]  # fmt: skip
        body: dict = {"messages": messages}
        if n % 2:
            body.update(temperature=round(rng.uniform(0.1, 1.0), 2), top_p=0.9, max_tokens=rng.choice((64, 128, 256)),
                        stop=["\n\n"], seed=n)  # fmt: skip
        line = {"custom_id": f"request-{n}", "method": "POST", "url": "/v1/chat/completions", "body": body}
        out.append(json.dumps(line, ensure_ascii=False))
    return ("\n".join(out) + "\n").encode()


@dataclass(frozen=True)
class Run:
    seconds: float
    lines: int
    valid: bool


def validate_once(content: bytes, *, engine: str, limits, max_lines: int, max_bytes: int) -> Run:  # noqa: ANN001
    chunks = [content[i : i + READ_CHUNK_BYTES] for i in range(0, len(content), READ_CHUNK_BYTES)]
    with tempfile.TemporaryFile() as bodies, tempfile.TemporaryFile() as items:
        writer = _ItemWriter(bodies, items)
        start = time.perf_counter()
        result = validate_file(chunks, batch_id=BATCH_ID, endpoint="/v1/chat/completions", limits=limits, engine=engine,
                               max_lines=max_lines, max_bytes=max_bytes, accept=writer.add)  # fmt: skip
        seconds = time.perf_counter() - start
    return Run(seconds, result.total, result.valid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=50_000, help="lines of the generated file (default 50,000)")
    parser.add_argument("--repeat", type=int, default=3, help="validations of the file; the median is reported (default 3)")
    parser.add_argument("--memory-mb", type=int, default=1024, help="the Lambda memory size to estimate at (default 1024)")
    parser.add_argument("--engine", choices=("tgi", "vllm"), default="tgi", help="whose request rules (default tgi)")
    args = parser.parse_args(argv)
    limits, label = default_limits(args.engine)
    batch_limits = default_batch_limits()
    content = generate(args.lines) if args.lines <= batch_limits.max_lines else b""
    if args.lines > batch_limits.max_lines or len(content) > batch_limits.max_file_bytes:
        print(f"the file exceeds the batch limits ({batch_limits.max_lines} lines, {batch_limits.max_file_bytes} bytes)",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"engine:           {label}")
    print(f"lines:            {args.lines:,}")
    print(f"file bytes:       {len(content):,}")
    runs = []
    for number in range(1, args.repeat + 1):
        run = validate_once(content, engine=args.engine, limits=limits, max_lines=batch_limits.max_lines,
                            max_bytes=batch_limits.max_file_bytes)  # fmt: skip
        if not run.valid or run.lines != args.lines:
            print(f"run {number}: the generated file did not validate ({run.lines} lines)", file=sys.stderr)
            return 1
        print(f"run {number}/{args.repeat}: {run.seconds:.2f} s")
        runs.append(run.seconds)
    median = statistics.median(runs)
    share = min(1.0, args.memory_mb / ONE_VCPU_MB)
    rate = args.lines / median
    print(f"median:           {median:.2f} s")
    print(f"throughput:       {rate:,.0f} lines/s, {len(content) / median / 1e6:.1f} MB/s (this machine, one core)")
    print(f"Lambda estimate:  {rate * share:,.0f} lines/s at {args.memory_mb} MB ({share:.2f} vCPU: {args.lines:,} lines in"
          f" {median / share:.1f} s, if a Lambda vCPU is as fast as this core)")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS:         {peak_kib / 1024:.0f} MiB (the process, the generated file included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
