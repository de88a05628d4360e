"""The session's synths, made once per test run (jsii synthesis takes seconds) and shared by every worker."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import session_synths as synth_process

if TYPE_CHECKING:  # the test modules import it; pytest's xdist controller, which loads this file too, need not
    from tests.synths import SessionSynths, Synthesized, SynthesizedPipeline

ROOT = synth_process.ROOT
# The handler package is imported from the asset folder's root, as Lambda does.
sys.path.insert(0, str(ROOT / "llm_async" / "api" / "runtime"))


# Fixtures of the tests that read the session's synths, and of those that read checkov's report on them.
_READS_SYNTHS = "session_synths"
_READS_CHECKOV = "checkov_results"


def run_directory(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The directory the whole run shares, all xdist workers (each has a base temp of its own under it)."""
    return tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="session", autouse=True)
def session_synths_directory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[Path]:
    """Where the session's synths are written, by a process started as the session starts if any selected
    test reads them (see tests/session_synths.py). Shared by all xdist workers of the run."""
    directory = run_directory(tmp_path_factory, worker_id) / "session-synths"
    fixtures = [set(getattr(item, "fixturenames", ())) for item in request.session.items]
    checkov = any(_READS_CHECKOV in names for names in fixtures)
    process = None
    if checkov or any(_READS_SYNTHS in names for names in fixtures):
        process = synth_process.start(directory, checkov=checkov)
    yield directory
    if process is not None:  # the other worker may still be waiting for checkov's report: let it finish
        try:
            process.wait(timeout=synth_process.WAIT_S)
        finally:
            process.kill()


@pytest.fixture(scope="session")
def session_synths(session_synths_directory: Path) -> SessionSynths:
    return synth_process.load_synths(session_synths_directory)


@pytest.fixture(scope="session")
def pipeline(session_synths: SessionSynths) -> SynthesizedPipeline:
    return session_synths.pipeline


@pytest.fixture(scope="session")
def synthesized(session_synths: SessionSynths) -> dict[str, Synthesized]:
    """The sandbox standalone, dev/staging/prod as the pipeline deploys them, and five sandbox variants."""
    return session_synths.synthesized


def _one_synth(name: str):  # noqa: ANN202  (a pytest fixture)
    """A session fixture for one configuration of `synthesized`, named like it (with '_' for '-')."""

    @pytest.fixture(scope="session", name=name.replace("-", "_"))
    def fixture(synthesized: dict[str, Synthesized]) -> Synthesized:
        return synthesized[name]

    return fixture


sandbox, dev, prod, s3_weights, vpc_new, vpc_nat, vpc_existing = (
    _one_synth(name) for name in ("sandbox", "dev", "prod", "s3-weights", "vpc-new", "vpc-nat", "vpc-existing")
)
