"""checkov on every synthesized template, offline: no failed check; each skip sits in its resource's metadata.

checkov runs once per session over all templates (starting it takes seconds), from its own venv
(.venv/checkov, see requirements-checkov.txt), with the download of its policy updates and every
platform call turned off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.session_synths import load_checkov_report
from tests.synths import Synthesized

TEMPLATES = [
    "sandbox", "dev", "staging", "prod", "s3-weights", "subscribed", "vpc-new", "vpc-nat", "vpc-existing", "vllm", "llama",
    "pipeline", "dev-weights", "staging-weights", "prod-weights", "llama-weights",
]


@pytest.fixture(scope="session")
def checkov_results(session_synths_directory: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per template file name (without `.json`): checkov's `failed_checks` and `skipped_checks`, from the run
    the session's synth process made (see tests/session_synths.py)."""
    checkov = load_checkov_report(session_synths_directory)
    # Exit code 1 means failed checks (the guard's at least); anything else is checkov itself failing.
    assert checkov.returncode in (0, 1), checkov.stderr
    report = json.loads(checkov.stdout)
    (report,) = report if isinstance(report, list) else [report]
    assert report["check_type"] == "cloudformation" and report["summary"]["parsing_errors"] == 0, report["summary"]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {name: {"failed": [], "skipped": []} for name in checkov.names}
    for kind in ("failed", "skipped"):
        for check in report["results"][f"{kind}_checks"]:
            results[Path(check["file_path"]).stem][kind].append(check)
    return results


def _unexpected_failures(checks: list[dict[str, Any]]) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in checks
    ]


@pytest.mark.parametrize("name", TEMPLATES)
def test_checkov_passes(checkov_results: dict[str, dict[str, list[dict[str, Any]]]], name: str) -> None:
    assert _unexpected_failures(checkov_results[name]["failed"]) == []


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_skip_says_why(checkov_results: dict[str, dict[str, list[dict[str, Any]]]], name: str) -> None:
    skips = checkov_results[name]["skipped"]
    assert [f"{c['check_id']} {c['resource']}" for c in skips if not c["check_result"].get("suppress_comment", "").strip()] == []


def test_checkov_finds_and_skips_what_it_should(checkov_results: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    # Guards the tests above against a run that silently checks nothing or ignores metadata.
    guard = checkov_results["guard"]
    assert ("CKV_AWS_18", "AWS::S3::Bucket.BareBucket") in {(c["check_id"], c["resource"]) for c in guard["failed"]}
    assert [(c["check_id"], c["resource"], c["check_result"]["suppress_comment"]) for c in guard["skipped"]] == [
        ("CKV_AWS_18", "AWS::S3::Bucket.SkippedBucket", "guard: a skip with its reason")
    ]


def test_network_isolation_is_skipped_only_for_hub_weights(sandbox: Synthesized, s3_weights: Synthesized) -> None:
    (_, hub_model) = sandbox.only("AWS::SageMaker::Model")
    (_, s3_model) = s3_weights.only("AWS::SageMaker::Model")
    assert [s["id"] for s in hub_model["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_370"]
    assert "checkov" not in s3_model.get("Metadata", {})
