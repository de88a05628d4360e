"""--sweep: the idle window varied on the parsed model, the rent-or-buy arithmetic, and the recommendation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import llm_async_tools.simulate as cli
from llm_async_tools.cfn_template import TemplateError
from llm_async_tools.simulation.engine import SimulationResult
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.sweep import (
    IDLE_WINDOWS,
    MIN_GAPS,
    SweepRow,
    idle_policy,
    keep_alive_s,
    minimum_window,
    recommend,
    rent_or_buy,
    with_idle_minutes,
)
from tests.synths import Synthesized
from tests.tools.simulation.conftest import run

COLD_S, LAG_S = 234.0, 60.0


def test_only_the_idle_alarms_window_changes(staging_policy: ScalingModel) -> None:
    changed = with_idle_minutes(staging_policy, 3)
    assert (idle_policy(changed).alarm.evaluation_periods, idle_policy(changed).alarm.datapoints_to_alarm) == (3, 3)
    others = [p for p in changed.step_policies if p.name != idle_policy(changed).name]
    assert others == [p for p in staging_policy.step_policies if p.name != idle_policy(staging_policy).name]


def test_a_shorter_window_scales_in_sooner(fifteen_minute_window: ScalingModel, ours: ScalingModel) -> None:
    fifteen, three = run(fifteen_minute_window, [3605.0]), run(with_idle_minutes(fifteen_minute_window, 3), [3605.0])
    assert fifteen.changes[-1].time_s - three.changes[-1].time_s == pytest.approx(12 * 60)
    # The window set on the parsed model replays as the construct's own 3-minute template does.
    assert three.changes == run(ours, [3605.0]).changes


def test_the_construct_needs_a_window_longer_than_the_gradual_scale_in(staging_policy: ScalingModel, ours: ScalingModel) -> None:
    assert (minimum_window(staging_policy), minimum_window(ours)) == (3, 1)  # scale_in_minutes 2; no gradual alarm


def test_rent_or_buy_pays_a_short_gap_and_a_keep_alive_plus_cold_start_for_a_long_one() -> None:
    assert rent_or_buy([100.0, 1000.0], keep_alive_s=240.0, cold_start_s=COLD_S) == (100.0 + 240.0 + COLD_S, 1)


def test_the_keep_alive_model_is_the_replays_mean_keep_alive(ours: ScalingModel) -> None:
    """A lone request, finishing anywhere in its minute: the instance stays 240–296 s after it with the 3-minute
    window (the window, the wait for the first whole idle minute, the metric lag), 268 s on average, as keep_alive_s
    says."""
    stays = []
    for offset in range(0, 60, 5):
        result = run(ours, [3600.0 + offset])
        stays.append(result.changes[1].time_s - (3600.0 + offset + result.ttr_s[0]))
    assert 240 <= min(stays) and max(stays) < 300
    assert sum(stays) / len(stays) == pytest.approx(keep_alive_s(3, LAG_S), abs=5)


def _row(minutes: int, gpu_hours: float, p95_s: float, rent_or_buy_hours: float, expired: int = 0) -> SweepRow:
    result = SimulationResult(f"idle {minutes} min", 1.0, gpu_hours, (p95_s,), p95_s, expired, (), 0.0, (), ())
    return SweepRow(minutes, result, rent_or_buy_hours, 0)


def test_ski_rental_is_the_shortest_window_whose_keep_alive_covers_a_cold_start() -> None:
    rows = [_row(m, 1.0, 100.0, 1.0) for m in IDLE_WINDOWS]
    chosen = recommend(rows, gaps=MIN_GAPS - 1, cold_start_s=COLD_S, lag_s=LAG_S, minimum=1)
    # 3 × 60 s + 30 s + 60 s = 270 s ≥ 234 s; 2 × 60 + 30 + 60 = 210 s is not.
    assert (chosen.idle_minutes, chosen.ski_rental_minutes, chosen.histogram_minutes) == (3, 3, None)


def test_the_histogram_wins_where_the_replay_confirms_it() -> None:
    rows = [_row(1, 0.8, 100.0, 0.1), _row(3, 1.0, 100.0, 0.5), _row(15, 2.0, 100.0, 1.0)]
    chosen = recommend(rows, gaps=MIN_GAPS, cold_start_s=COLD_S, lag_s=LAG_S, minimum=1)
    assert (chosen.idle_minutes, chosen.ski_rental_minutes, chosen.histogram_minutes) == (1, 3, 1)


def test_the_histogram_loses_where_it_would_hurt_latency() -> None:
    rows = [_row(1, 0.8, 300.0, 0.1), _row(3, 1.0, 100.0, 0.5), _row(15, 2.0, 100.0, 1.0)]
    chosen = recommend(rows, gaps=MIN_GAPS, cold_start_s=COLD_S, lag_s=LAG_S, minimum=1)
    assert (chosen.idle_minutes, chosen.histogram_minutes) == (3, 1)
    assert "not better, so ski rental" in chosen.reason


def test_the_recommendation_respects_the_constructs_minimum() -> None:
    rows = [_row(m, 1.0, 100.0, float(m)) for m in IDLE_WINDOWS]
    chosen = recommend(rows, gaps=MIN_GAPS, cold_start_s=COLD_S, lag_s=LAG_S, minimum=6)
    assert (chosen.idle_minutes, chosen.ski_rental_minutes) == (6, 6)


@pytest.fixture
def template(sandbox: Synthesized, tmp_path: Path) -> Path:
    path = tmp_path / "LlmAsyncStack.template.json"
    path.write_text(json.dumps(sandbox.template_json))
    return path


def _bursts(tmp_path: Path) -> Path:
    """Twelve bursts an hour apart: every gap far longer than a cold start, so keeping warm never pays."""
    rows = [f"{3600 * b + 5 * i},400,300" for b in range(1, 13) for i in range(3)]  # a burst: one busy period
    path = tmp_path / "bursts.csv"
    path.write_text("arrival_s,tokens,prompt_tokens\n" + "\n".join(rows) + "\n")
    return path


def test_the_sweep_prints_every_window_and_recommends_one(template: Path, tmp_path: Path, capsys) -> None:
    argv = ["--template", str(template), "--trace", str(_bursts(tmp_path)), "--sweep", "--provisioning-jitter", "0"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["idle", "min", "GPU"]
    assert [line.split()[0] for line in lines[1:1 + len(IDLE_WINDOWS)]] == [str(m) for m in IDLE_WINDOWS]
    # Eleven gaps of about an hour: the histogram's 1 minute costs least, and the replay confirms it.
    assert lines[-1] == "recommended idle_minutes_before_scale_in = 1"
    assert lines[1].split()[:2] == ["1", "←"]  # the recommended row is marked


def test_the_sweep_as_json(template: Path, tmp_path: Path, capsys) -> None:
    argv = ["--template", str(template), "--trace", str(_bursts(tmp_path)), "--sweep", "--json", "--provisioning-jitter", "0"]
    assert cli.main(argv) == 0
    output = json.loads(capsys.readouterr().out)
    assert [row["idle_minutes"] for row in output["sweep"]] == list(IDLE_WINDOWS)
    hours = [row["gpu_hours"] for row in output["sweep"]]
    assert hours == sorted(hours)  # every gap is long: each minute of window is paid at each of the 12 bursts
    assert output["recommendation"]["idle_minutes_before_scale_in"] == 1
    assert (output["recommendation"]["ski_rental_minutes"], output["recommendation"]["idle_gaps"]) == (3, 11)


def test_sweep_and_compare_are_exclusive(template: Path, tmp_path: Path, capsys) -> None:
    argv = ["--template", str(template), "--trace", str(_bursts(tmp_path)), "--sweep", "--compare"]
    assert cli.main(argv) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_sweep_needs_an_idle_policy(ours: ScalingModel) -> None:
    without = dataclasses.replace(ours, step_policies=tuple(p for p in ours.step_policies if p is not idle_policy(ours)))
    with pytest.raises(TemplateError, match="the template has 0 idle scale-in policies"):
        idle_policy(without)

