"""benchmarks/stage_weights.py end to end on a 2 MB repository: its report has every figure, and the second run
(already staged) sent no request to the Hub. No timing is asserted: the figures are the script's to print."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.benchmarks.scripts import load_script
from tests.tools.hub_stand_in import HubStandIn

SCRIPT = "stage_weights.py"
FIELDS = ("total bytes", "files", "first run", "throughput", "second run", "second run Hub requests",
          "second run downloads", "peak RSS")


def test_report_and_second_run_downloads_nothing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script(monkeypatch, SCRIPT)
    stand_ins: list[HubStandIn] = []

    class Recorded(HubStandIn):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            stand_ins.append(self)

    monkeypatch.setattr(script, "HubStandIn", Recorded)
    assert script.main(["--megabytes", "2", "--repeat", "1"]) == 0

    report = capsys.readouterr().out
    fields = dict(re.findall(r"^([A-Za-z ]+):\s+(.+)$", report, re.MULTILINE))
    assert set(FIELDS) <= set(fields), report
    assert fields["total bytes"] == "2,000,000"
    files = int(fields["files"].split()[0])
    assert files == 8  # five regular git files and three LFS shards
    assert re.fullmatch(r"[\d.]+ s \(download \+ verify \+ upload \+ manifest\)", fields["first run"])
    assert re.fullmatch(r"[\d.]+ MB/s .*", fields["throughput"])
    assert re.fullmatch(r"[\d.]+ s \(already staged.*", fields["second run"])
    assert re.fullmatch(r"[\d.]+ MiB .*", fields["peak RSS"])
    assert fields["second run Hub requests"].split()[0] == "0"
    assert fields["second run downloads"].split()[0] == "0"
    assert re.search(r"^run 1/1: first .*, 8 downloads, .*second .*\(0 downloads, 0 Hub requests\)$", report, re.MULTILINE)

    # The stand-in's own counters, over both runs: each file was sent once in all (by the first run), none twice.
    (hub,) = stand_ins
    assert sorted(hub.downloads()) == sorted(file.path for repo in hub.repos.values() for file in repo.files)
    assert len(hub.downloads()) == files
