"""Arguments and exit codes of `python -m llm_async_tools.weights` (docs/weights.md).

Exit codes: 0 staged, already staged, or verified; 1 the copy failed or does not verify (nothing claims it is
complete: no manifest is written); 2 an argument, the bucket, the token or the repository's access is wrong, said
in one line on stderr before anything is written. The pipeline's CodeBuild step calls these exact flags.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, TextIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError

from llm_async.model.config import HubWeights
from llm_async.validators import ConfigError
from llm_async_tools.weights.bucket import DEFAULT_TRANSFER, StagingBucket
from llm_async_tools.weights.errors import StagingFailed, UsageError
from llm_async_tools.weights.stage import StageRequest, Target, stage, verify

PROG = "python -m llm_async_tools.weights"
DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_CACHE = Path("~/.cache/llm-async/weights")
# HubWeights names the configuration's fields; this command's users know its flags.
_FLAGS = {"model.weights.model_id": "--model-id", "model.weights.revision": "--revision"}


class _OneLineParser(argparse.ArgumentParser):
    """argparse's errors as one line (its default prints the usage first), exit 2 as argparse does."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=PROG, description="Stage a Hugging Face Hub repository at a pinned commit into S3.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    stage_help = "copy the repository's engine files into S3, verified, then write the manifest"
    verify_help = "check the staged objects against the manifest (HEAD requests only, no download)"
    for name, text in (("stage", stage_help), ("verify", verify_help)):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--model-id", required=True, metavar="OWNER/NAME", help="the Hub repository")
        command.add_argument("--revision", required=True, metavar="SHA", help="its commit, the full 40-character sha")
        command.add_argument("--bucket", required=True, help="the S3 bucket; objects go under hub/OWNER/NAME/SHA/")
        command.add_argument("--region", help="the AWS region (default: the AWS configuration's)")
        if name == "stage":
            command.add_argument("--token-secret-id", metavar="SECRET_ID_OR_ARN",
                                 help='Secrets Manager secret holding the Hub token, or {"token": ...} (default: env HF_TOKEN)')
            command.add_argument("--cache-dir", metavar="DIR", help=f"where downloads land (default: {DEFAULT_CACHE})")
            command.add_argument("--hub-endpoint", metavar="URL", help=f"the Hub (default: env HF_ENDPOINT, else {DEFAULT_ENDPOINT})")
            command.add_argument("--include", nargs="+", action="extend", metavar="GLOB",
                                 help="stage the files matching these instead of the default selection")
            command.add_argument("--exclude", nargs="+", action="extend", metavar="GLOB", help="leave these files out")
    return parser


def _check_weights(args: argparse.Namespace) -> None:
    try:
        HubWeights(args.model_id, args.revision)
    except ConfigError as error:
        field, _, rule = str(error).partition(": ")
        raise UsageError(f"{_FLAGS.get(field, field)}: {rule}") from None


def _endpoint(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    endpoint = (args.hub_endpoint or environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    if not endpoint.startswith(("https://", "http://")):
        source = "--hub-endpoint" if args.hub_endpoint else "HF_ENDPOINT"
        raise UsageError(f"{source}: must be an http(s):// URL (got {endpoint!r})")
    return endpoint


def _run(args: argparse.Namespace, session: Any, environ: Mapping[str, str], transfer: TransferConfig,
         out: TextIO, err: TextIO) -> None:
    _check_weights(args)
    try:
        session = session or boto3.session.Session(region_name=args.region)
        s3 = session.client("s3")
    except BotoCoreError as error:
        raise UsageError(f"AWS configuration: {error}") from None
    target = Target(StagingBucket(s3, args.bucket, transfer), args.model_id, args.revision)
    if args.command == "verify":
        verify(target, out, err)
        return
    request = StageRequest(
        target=target,
        endpoint=_endpoint(args, environ),
        cache_dir=Path(args.cache_dir or DEFAULT_CACHE).expanduser(),
        include=args.include,
        exclude=args.exclude,
        token_secret_id=args.token_secret_id,
    )
    stage(request, session, environ, out, err)


def main(
    argv: list[str] | None = None,
    *,
    session: Any = None,
    environ: Mapping[str, str] | None = None,
    transfer: TransferConfig = DEFAULT_TRANSFER,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command; `session`, `environ` and `transfer` let tests give a moto session, an environment of their
    own and small multipart parts."""
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    prog = f"{PROG} {args.command}"
    try:
        _run(args, session, os.environ if environ is None else environ, transfer, out, err)
    except UsageError as error:
        print(f"{prog}: error: {error}", file=err)
        return 2
    except StagingFailed as error:
        print(f"{prog}: failed: {error}", file=err)
        return 1
    return 0
