"""benchmarks/batch_validation.py on 200 lines: its report has every figure, the generated file is valid and the
Lambda estimate is the measured rate scaled by the memory's share of a vCPU. No timing is asserted: the figures are
the script's to print."""

from __future__ import annotations

import re

import pytest

from tests.benchmarks.scripts import load_script

SCRIPT = "batch_validation.py"
FIELDS = ("engine", "lines", "file bytes", "median", "throughput", "Lambda estimate", "peak RSS")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_report_of_200_lines(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script(monkeypatch, SCRIPT)
    assert script.main(["--lines", "200", "--repeat", "2", "--memory-mb", "884"]) == 0
    report = capsys.readouterr().out
    fields = dict(re.findall(r"^([A-Za-z ]+):\s+(.+)$", report, re.MULTILINE))
    assert set(FIELDS) <= set(fields), report
    assert fields["engine"] == "TGI 3.3.6"
    assert fields["lines"] == "200"
    assert _number(fields["file bytes"]) == len(script.generate(200))
    assert re.findall(r"^run (\d)/2: [\d.]+ s$", report, re.MULTILINE) == ["1", "2"]
    measured = re.fullmatch(r"([\d,]+) lines/s, [\d.]+ MB/s \(this machine, one core\)", fields["throughput"])
    estimate = re.fullmatch(r"([\d,]+) lines/s at 884 MB \(0\.50 vCPU: 200 lines in [\d.]+ s, .*\)", fields["Lambda estimate"])
    assert measured and estimate, report
    # 884 MB is half of the 1,769 MB that make one vCPU: half the rate (each rounded to a line).
    assert abs(_number(estimate.group(1)) - _number(measured.group(1)) * 884 / 1769) <= 1
    assert re.fullmatch(r"\d+ MiB .*", fields["peak RSS"])


def test_the_generated_file_is_valid_chat_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script(monkeypatch, SCRIPT)
    limits, _ = script.default_limits("tgi")
    run = script.validate_once(script.generate(50), engine="tgi", limits=limits, max_lines=50, max_bytes=10**8)
    assert (run.valid, run.lines) == (True, 50)


def test_a_file_over_the_batch_limits_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script(monkeypatch, SCRIPT)
    assert script.main(["--lines", "50001", "--repeat", "1"]) == 2
    assert "exceeds the batch limits" in capsys.readouterr().err
