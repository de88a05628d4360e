"""The process that makes the session's synths for every worker: one claim, atomic results, failures told."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import session_synths as synth_process
from tests import synths


def test_a_directory_already_claimed_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "claimed").mkdir()
    assert synth_process.start(tmp_path / "claimed", checkov=True) is None
    assert list((tmp_path / "claimed").iterdir()) == []


def test_the_result_is_written_whole_and_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synths, "synthesize_session", lambda directory: {"synthesized in": str(directory)})
    assert synth_process.main([str(tmp_path)]) == 0
    assert synth_process.load_synths(tmp_path) == {"synthesized in": str(tmp_path)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [synth_process.SYNTHS]  # no partial file left, no report


def test_a_failed_synth_is_reported_to_every_waiter_with_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(directory: Path) -> None:
        raise ValueError("endpoint.max_capacity: must be between 0 and 100 (got 101)")

    monkeypatch.setattr(synths, "synthesize_session", fail)
    with pytest.raises(ValueError):
        synth_process.main([str(tmp_path)])
    with pytest.raises(RuntimeError, match=r"(?s)synth process failed.*ValueError: endpoint.max_capacity"):
        synth_process.load_synths(tmp_path)
    with pytest.raises(RuntimeError, match="synth process failed"):
        synth_process.load_checkov_report(tmp_path)


def test_a_process_that_never_answers_times_out_naming_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth_process, "WAIT_S", 0)
    with pytest.raises(TimeoutError, match=str(tmp_path / synth_process.LOG)):
        synth_process.load_synths(tmp_path)
