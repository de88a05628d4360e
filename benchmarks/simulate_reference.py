"""Our policy against the anchor policies and the offline bound on the reference traces, the idle-window sweep's
recommendation for each, whether each of issue 15's goals is met, with the figures, and for the anchors goal what any
policy could reach at the anchor's p95 (the deadline bound).

The figures in docs/simulator.md come from this script with its defaults (and --stage prod).
Usage: python benchmarks/simulate_reference.py [--stage sandbox|dev|staging|prod | --template PATH] [--seed N]
       [--traces NAME ...] [--no-sweep]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_async_tools.simulate import start_time  # noqa: E402
from llm_async_tools.simulation.anchors import anchor_policies  # noqa: E402
from llm_async_tools.simulation.batching import Batching, instance_capacity  # noqa: E402
from llm_async_tools.simulation.bound import Work, deadline_bound, in_arrival_order, late_allowance, offline_bound  # noqa: E402
from llm_async_tools.simulation.cycle import Cycle, best_gated_cycle, shortest_deadline_s  # noqa: E402
from llm_async_tools.simulation.engine import SimulationResult, simulate, work_of  # noqa: E402
from llm_async_tools.simulation.parameters import SimulationParameters  # noqa: E402
from llm_async_tools.simulation.report import percentile, ratio  # noqa: E402
from llm_async_tools.simulation.stage import synthesize_stage  # noqa: E402
from llm_async_tools.simulation.sweep import idle_policy, sweep  # noqa: E402
from llm_async_tools.simulation.template import read_scaling_model  # noqa: E402
from llm_async_tools.simulation.trace import TracedRequest, read_trace  # noqa: E402

TRACES = ("sparse_day", "business_hours", "spike", "bursty", "saturating")
# Issue 15's goals.
ANCHOR_FRACTION = 0.7
"""Ours at most this share of the GPU-hours of the cheapest anchor that lets nothing expire (at no worse p95)."""
BOUND_FACTOR = 1.6
"""Ours at most this multiple of the offline bound."""
WAKE_SLACK_S = 15.0
"""After an idle hour, the first result within cold start + service + this."""
LARGEST_BATCH_SHARE = 0.25
"""At the default concurrency, at least this share of what the largest batch that fits could reach."""


def markdown_table(rows: list[tuple[str, ...]]) -> str:
    """The rows (the first a header) as a padded markdown table (simulate_batch.py prints with it too)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _p95(result: SimulationResult) -> float | None:
    return percentile(result.ttr_s, 0.95)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def cheapest_clean_anchor(anchors: list[SimulationResult]) -> SimulationResult | None:
    """The anchor the goal compares with: the cheapest that lets nothing expire (simulate_deferred_wake.py uses it too)."""
    return min((a for a in anchors if a.expired == 0), key=lambda a: a.gpu_hours, default=None)


def _anchor_goal(ours: SimulationResult, cheapest: SimulationResult | None) -> tuple[bool, str]:
    """Ours ≤ 0.7 × the cheapest anchor that lets nothing expire (cheapest_clean_anchor), at a p95 no worse than its."""
    if cheapest is None:
        return False, "every anchor lets a request expire"
    share = ours.gpu_hours / cheapest.gpu_hours
    p95_ok = (_p95(ours) or 0.0) <= (_p95(cheapest) or 0.0)
    ok = share <= ANCHOR_FRACTION and p95_ok and ours.expired == 0
    return ok, (f"{ours.gpu_hours:.2f} GPU h = {share:.2f}× {cheapest.name}'s {cheapest.gpu_hours:.2f} (goal ≤ {ANCHOR_FRACTION}×),"
                f" p95 {_s(_p95(ours))} s against its {_s(_p95(cheapest))} s")


@dataclass(frozen=True)
class _Reach:
    """What a policy could reach at the anchor's p95 (bound.deadline_bound), against the anchors goal's target: any
    policy, and one whose instances each sit an idle window before they are released, as ours does."""

    anchor: str
    deadline_s: float
    target_gpu_hours: float
    late: int
    """Requests the p95 lets take longer than the deadline."""
    any_late: float
    any_none_late: float
    windows: tuple[tuple[int, float, float], ...]
    """(idle minutes, bound with `late` requests late, bound with none)."""
    cycles: tuple[tuple[int, Cycle], ...]
    """(idle minutes, the cheapest gated cycle released after them): an online policy counted with the bound's
    relaxations, none late. Empty when the deadline is shorter than a cold start plus the longest request alone."""

    @property
    def online(self) -> str:
        if not self.cycles:
            return ("no gated cycle: the anchor's p95 is shorter than a cold start plus the longest request alone, which a"
                    " policy without foresight needs when that request finds no instance")
        reached = " / ".join(f"{cycle.gpu_hours:.2f} ({'released as its work drains' if minutes == 0 else f'after {minutes} idle min'})"
                             for minutes, cycle in self.cycles)
        return f"an online gated cycle counted with the same relaxations, none late, needs {reached} against {self.target_gpu_hours:.2f}"

    @property
    def verdict(self) -> str:
        t, d, m = self.target_gpu_hours, self.deadline_s, self.late
        if t < self.any_late:
            return f"no policy can: even with foresight and {m} requests late it needs {self.any_late:.2f} GPU h, above {t:.2f}"
        if t < self.any_none_late:
            return (f"no policy can without making some requests wait longer than the anchor's p95 {d:.0f} s: with none late"
                    f" it needs {self.any_none_late:.2f} GPU h, above {t:.2f}")
        parts = [f"not excluded: {t:.2f} GPU h is {t / self.any_none_late:.2f}× what a policy with foresight needs with none"
                 f" late ({self.any_none_late:.2f})"]
        for minutes, late_bound, none_bound in self.windows:
            if t < late_bound:
                parts.append(f"excluded for a scale-in after {minutes} idle min ({late_bound:.2f} with {m} late)")
            elif t < none_bound:
                parts.append(f"a scale-in after {minutes} idle min needs requests later than {d:.0f} s ({none_bound:.2f} with"
                             " none late)")
            else:
                parts.append(f"not excluded after {minutes} idle min ({none_bound:.2f} with none late)")
        return "; ".join(parts)


def _reach(work: list[Work], batching: Batching, cold_s: float, anchor: SimulationResult, windows: list[int]) -> _Reach:
    deadline = _p95(anchor) or 0.0
    late = late_allowance(len(work))

    def bound(idle_s: float, late_requests: int) -> float:
        return deadline_bound(work, batching, cold_s, deadline, idle_s=idle_s, late=late_requests).gpu_hours

    per_window = tuple((minutes, bound(minutes * 60.0, late), bound(minutes * 60.0, 0)) for minutes in windows)
    cycles = () if deadline < shortest_deadline_s(in_arrival_order(work, batching), cold_s) else tuple(
        (minutes, best_gated_cycle(work, batching, cold_s, deadline, idle_s=minutes * 60.0)) for minutes in [0, *windows])
    return _Reach(anchor.name, deadline, ANCHOR_FRACTION * anchor.gpu_hours, late, bound(0.0, late), bound(0.0, 0),
                  per_window, cycles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="sandbox")
    parser.add_argument("--template", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--traces", nargs="+", default=list(TRACES), choices=TRACES)
    parser.add_argument("--no-sweep", action="store_true", help="skip the idle-window sweep (and the recommended-window rows)")
    args = parser.parse_args()
    template = json.loads(args.template.read_text()) if args.template else synthesize_stage(args.stage)
    ours = read_scaling_model(template)
    params = SimulationParameters(seed=args.seed)
    exact = dataclasses.replace(params, provisioning_jitter=0)
    start = start_time(None, ours)
    batching = params.batching(ours)
    cold = params.cold_start(ours)
    window = idle_policy(ours).alarm.evaluation_periods
    print(f"{ours.instance_type} at ${ours.usd_per_hour}/h, capacity {ours.min_capacity}–{ours.max_capacity},"
          f" {ours.concurrency_per_instance} requests per instance, idle window {window} min, cold start {cold.total_s:.0f} s,"
          f" t = 0 at {start.isoformat()}, seed {args.seed}\n")

    header = ("trace", "policy", "GPU h", "cost $", "cost vs ours", "first result s", "TTR p95 s", "expired", "scale events",
              "vs bound")
    rows: list[tuple[str, ...]] = [header]
    goals: list[str] = []
    recommendations: list[tuple[str, ...]] = [("trace", "idle gaps", "ski rental min", "histogram min", "recommended min",
                                               "GPU h at it", "p95 s at it", "why")]
    bounds: list[tuple[str, ...]] = [("trace", "bound GPU h", "one instance", "by work", "ours GPU h", "ours ÷ bound")]
    reach_windows = sorted({1, window})  # the least idle window the construct takes, and ours
    online: list[tuple[str, ...]] = [("trace", "0.7 × anchor's GPU h", "its p95 s", "released as its work drains",
                                      *[f"after {m} idle min" for m in reach_windows])]
    reaches: list[tuple[str, ...]] = [("trace", "anchor", "its p95 s", "0.7 × its GPU h", "late allowed", "any policy",
                                       "none late",
                                       *[c for m in reach_windows for c in (f"idle {m} min", "none late")], "verdict")]
    shapes: list[tuple[str, ...]] = [("trace", "mean request (prompt + output)", "tokens/s at concurrency", "roofline there",
                                      "largest batch", "its roofline", "share")]
    for name in args.traces:
        trace = read_trace(ROOT / "benchmarks" / "traces" / f"{name}.csv")
        results = [simulate(model, trace, params, start=start) for model in [ours, *anchor_policies(ours)]]
        work = [work_of(r, params, batching) for r in trace]
        bound = offline_bound(work, batching, cold.total_s)
        for result in results:
            rows.append((name, result.name, f"{result.gpu_hours:.2f}", f"{result.cost_usd:.2f}",
                         ratio(result.cost_usd, results[0].cost_usd), _s(result.first_ttr_s), _s(_p95(result)),
                         str(result.expired), str(result.scale_events), f"{result.gpu_hours / bound.gpu_hours:.2f}×"))
        bounds.append((name, f"{bound.gpu_hours:.2f}", f"{bound.single_instance_gpu_hours:.2f}", f"{bound.work_gpu_hours:.2f}",
                       f"{results[0].gpu_hours:.2f}", f"{results[0].gpu_hours / bound.gpu_hours:.2f}×"))
        anchor = cheapest_clean_anchor(results[1:])
        ok, text = _anchor_goal(results[0], anchor)
        reach = _reach(work, batching, cold.total_s, anchor, reach_windows) if anchor else None
        if reach:
            reaches.append((name, reach.anchor, f"{reach.deadline_s:.0f}", f"{reach.target_gpu_hours:.2f}", str(reach.late),
                            f"{reach.any_late:.2f}", f"{reach.any_none_late:.2f}",
                            *[f"{b:.2f}" for _, late_bound, none_bound in reach.windows for b in (late_bound, none_bound)],
                            reach.verdict))
            if reach.cycles:
                online.append((name, f"{reach.target_gpu_hours:.2f}", f"{reach.deadline_s:.0f}",
                               *[f"{c.gpu_hours:.2f} (gate {c.gate_s:.0f} s, {c.sessions} cycles)" for _, c in reach.cycles]))
        goals.append(f"- {name}, ours ({window} min): anchors {_met(ok)}: {text}"
                     + (f"; at the anchor's p95, {reach.verdict}; {reach.online}" if reach and not ok else ""))
        share = results[0].gpu_hours / bound.gpu_hours
        goals.append(f"- {name}, ours ({window} min): bound {_met(share <= BOUND_FACTOR)}: {share:.2f}× the offline bound"
                     f" {bound.gpu_hours:.2f} GPU h (goal ≤ {BOUND_FACTOR}×)")
        if not args.no_sweep:
            swept, chosen = sweep(ours, trace, params, start=start)
            best = next(r for r in swept if r.idle_minutes == chosen.idle_minutes)
            recommendations.append((name, str(chosen.gaps), str(chosen.ski_rental_minutes),
                                    "–" if chosen.histogram_minutes is None else str(chosen.histogram_minutes),
                                    str(chosen.idle_minutes), f"{best.result.gpu_hours:.2f}", _s(best.p95_s), chosen.reason))
            ok, text = _anchor_goal(best.result, anchor)
            goals.append(f"- {name}, ours at its recommended {chosen.idle_minutes} min: anchors {_met(ok)}: {text}")
            share = best.result.gpu_hours / bound.gpu_hours
            goals.append(f"- {name}, ours at its recommended {chosen.idle_minutes} min: bound {_met(share <= BOUND_FACTOR)}:"
                         f" {share:.2f}× the offline bound")
        prompt = sum(w.prompt_tokens for w in work) / len(work)
        output = sum(w.output_tokens for w in work) / len(work)
        capacity = instance_capacity(batching, ours.concurrency_per_instance, prompt, output)
        share = capacity.tokens_per_second / capacity.largest_batch_tokens_per_second
        shapes.append((name, f"{prompt:.0f} + {output:.0f}", f"{capacity.tokens_per_second:.0f}",
                       f"{capacity.roofline_tokens_per_second:.0f}", str(capacity.largest_batch),
                       f"{capacity.largest_batch_tokens_per_second:.0f}", f"{share:.2f}"))
        within = capacity.tokens_per_second <= capacity.roofline_tokens_per_second
        goals.append(f"- {name}, tokens/s at concurrency {capacity.concurrency}: roofline {_met(within)}"
                     f" ({capacity.tokens_per_second:.0f} ≤ {capacity.roofline_tokens_per_second:.0f}); largest batch"
                     f" {_met(share >= LARGEST_BATCH_SHARE)} ({share:.2f} of the {capacity.largest_batch_tokens_per_second:.0f}"
                     f" tokens/s of {capacity.largest_batch} sequences; goal ≥ {LARGEST_BATCH_SHARE})")

    print(markdown_table(rows))
    print("\nOffline bound (docs/simulator.md):\n")
    print(markdown_table(bounds))
    print("\nWhat a policy could reach at the anchor's p95 (bound.deadline_bound, GPU h, on average over the cold start's"
          " jitter): any policy, with foresight, and one whose instances each sit an idle window before they are released,"
          " with the requests the p95 lets be later and with none:\n")
    print(markdown_table(reaches))
    print("\nAn online policy counted with the bound's relaxations (cycle.best_gated_cycle, GPU h, none late): requests held and"
          " dispatched in cycles, each instance launched as late as the anchor's p95 allows and released as its work"
          " drains or after an idle window; the cheapest gate, chosen on the trace itself:\n")
    print(markdown_table(online))
    if not args.no_sweep:
        print("\nIdle-window sweep (python -m llm_async_tools.simulate --sweep):\n")
        print(markdown_table(recommendations))
    print("\nOne instance with every slot busy, for each trace's mean request:\n")
    print(markdown_table(shapes))
    sized = instance_capacity(batching, ours.concurrency_per_instance, batching.prompt_tokens, batching.new_tokens)
    print(f"\nAt requests of a typical prompt and the default budget ({batching.prompt_tokens:,} +"
          f" {batching.new_tokens:,} tokens), the sizing the construct"
          f" uses: the largest batch is {sized.largest_batch} sequences, {sized.largest_batch_tokens_per_second:.0f} tokens/s, and"
          f" {sized.concurrency} busy slots make {sized.tokens_per_second:.0f}"
          f" ({sized.tokens_per_second / sized.largest_batch_tokens_per_second:.2f}).")

    print("\nA wake after an idle hour (one request at t = 3600 s, service 20 s alone, no jitter), each answer to the"
          " undocumented questions:\n")
    wake_rows = [("capacity change while starting", "scale-out cooldown holds scale-in", "first result s", "limit s", "scale events", "goal")]
    limit = exact.cold_start(ours).total_s + exact.service_s + WAKE_SLACK_S
    for refuse in (True, False):
        for hold in (False, True):
            answer = dataclasses.replace(exact, refuse_while_updating=refuse, hold_scale_in_during_scale_out_cooldown=hold)
            result = simulate(ours, [TracedRequest(3600.0)], answer, start=start)
            ok = result.first_ttr_s is not None and result.first_ttr_s <= limit
            wake_rows.append(("refused" if refuse else "allowed", "yes" if hold else "no", _s(result.first_ttr_s),
                              f"{limit:.0f}", str(result.scale_events), _met(ok)))
            goals.append(f"- idle hour, change while starting {'refused' if refuse else 'allowed'}, hold {'yes' if hold else 'no'}:"
                         f" wake {_met(ok)}: first result {_s(result.first_ttr_s)} s (goal ≤ {limit:.0f} s)")
    print(markdown_table(wake_rows))
    print("\nThe residual risk: a request 15 s after an idle scale-in, while the idle alarm still sees its last idle minute:\n")
    race_rows = [("capacity change while starting", "scale-out cooldown holds scale-in", "first result s", "scale events")]
    for refuse in (True, False):
        for hold in (False, True):
            answer = dataclasses.replace(exact, refuse_while_updating=refuse, hold_scale_in_during_scale_out_cooldown=hold)
            scale_in_s = simulate(ours, [TracedRequest(3600.0)], answer, start=start).changes[-1].time_s
            result = simulate(ours, [TracedRequest(3600.0), TracedRequest(scale_in_s + 15.0)], answer, start=start)
            race_rows.append(("refused" if refuse else "allowed", "yes" if hold else "no", _s(result.ttr_s[1]),
                              str(result.scale_events)))
    print(markdown_table(race_rows))
    print("\nGoals (issue 15):\n")
    print("\n".join(goals))


if __name__ == "__main__":
    main()
