"""The generated security report: current with the code, and showing nothing unencrypted."""

from __future__ import annotations

import pytest

from llm_async_tools.security_report import main, render
from tests.conftest import ROOT
from tests.synths import Synthesized

REPORT = ROOT / "docs" / "security-report.md"


def test_the_committed_report_is_the_one_the_sandbox_synth_generates(sandbox: Synthesized) -> None:
    assert sandbox.assembly_dir is not None
    assert REPORT.read_text() == render(sandbox.assembly_dir, "LlmAsyncStack"), (
        "docs/security-report.md is stale: scripts/synth.sh && .venv/bin/python -m llm_async_tools.security_report"
        " > docs/security-report.md"
    )


@pytest.mark.parametrize("env", ["sandbox", "s3-weights", "subscribed"])
def test_everything_at_rest_is_encrypted_and_every_key_rotates(synthesized: dict[str, Synthesized], env: str) -> None:
    report = render(synthesized[env].assembly_dir, "LlmAsyncStack")
    encryption = report.split("## Encryption at rest")[1].split("## Who may call what")[0]
    assert "| log group |" in encryption and "| S3 bucket |" in encryption
    assert "NOT ENCRYPTED" not in encryption and "rotation OFF" not in encryption


def test_every_acknowledgment_appears_with_its_reason(sandbox: Synthesized) -> None:
    report = render(sandbox.assembly_dir, "LlmAsyncStack")
    assert "Per pack: AwsSolutions 49, HIPAA.Security 45, NIST.800.53.R5 46, PCI.DSS.321 28, Serverless 12; 180 in all." in report
    assert "| `Endpoint/Config` | `HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured` | ml.g5.2xlarge has local NVMe" in report


def test_without_a_synth_it_says_so(tmp_path, capsys) -> None:
    assert main([str(tmp_path)]) == 1
    assert "run scripts/synth.sh first" in capsys.readouterr().err
