"""`python app.py` as the CDK CLI runs it, in a process of its own: a bad choice is one readable line on
stderr and exit 1."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def _last_error_line(argv: list[str], tmp_path, extra_env: dict[str, str] | None = None) -> str:
    """Runs the app as the CDK CLI would; it must exit 1 with one readable line and no traceback."""
    result = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**os.environ, "CDK_OUTDIR": str(tmp_path), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_unknown_environment_is_one_line_without_traceback(tmp_path) -> None:
    line = _last_error_line(["app.py"], tmp_path, {"CDK_CONTEXT_JSON": '{"env": "qa"}'})
    assert line == "llm-async configuration error: env: must be one of sandbox, dev, staging, prod (got 'qa')"
