"""Writes the three reference traces to benchmarks/traces/ from a fixed seed (re-running gives the same files).

- sparse_day.csv: a quiet day with four short bursts (3–8 requests each).
- business_hours.csv: requests from 08:00 to 18:00 (trace time), Poisson at ~1.5/min, busier mid-morning
  and mid-afternoon.
- spike.csv: a few requests, then 400 within ten minutes at 10:00, then a few more.
service_s: 10–40 s, the spread of a 7B model generating roughly 300–1200 tokens at ~30 tokens/s.
Usage: python benchmarks/make_reference_traces.py
"""

from __future__ import annotations

import math
import random
from pathlib import Path

TRACES = Path(__file__).resolve().parent / "traces"
HOUR = 3600


def _service(rng: random.Random) -> float:
    return round(rng.uniform(10, 40), 1)


def sparse_day(rng: random.Random) -> list[tuple[float, float]]:
    rows = []
    for burst_start in (2.2 * HOUR, 9.7 * HOUR, 13.1 * HOUR, 19.5 * HOUR):
        at = burst_start
        for _ in range(rng.randint(3, 8)):
            at += rng.uniform(2, 40)
            rows.append((at, _service(rng)))
    return rows


def business_hours(rng: random.Random) -> list[tuple[float, float]]:
    rows, at = [], 8 * HOUR
    while True:
        hour = at / HOUR
        per_minute = 1.5 * (1 + 0.5 * math.sin(2 * math.pi * (hour - 8) / 5))  # peaks ~09:15 and ~14:15
        at += rng.expovariate(per_minute / 60)
        if at >= 18 * HOUR:
            return rows
        rows.append((at, _service(rng)))


def spike(rng: random.Random) -> list[tuple[float, float]]:
    rows = [(rng.uniform(0, 10 * HOUR), _service(rng)) for _ in range(3)]
    rows += [(10 * HOUR + rng.uniform(0, 600), _service(rng)) for _ in range(400)]
    rows += [(rng.uniform(11 * HOUR, 24 * HOUR), _service(rng)) for _ in range(3)]
    return sorted(rows)


def main() -> None:
    TRACES.mkdir(exist_ok=True)
    for seed, make in enumerate((sparse_day, business_hours, spike), start=1):
        rows = make(random.Random(seed))
        lines = ["arrival_s,service_s", *(f"{arrival:.1f},{service}" for arrival, service in rows)]
        (TRACES / f"{make.__name__}.csv").write_text("\n".join(lines) + "\n")
        print(f"{make.__name__}.csv: {len(rows)} requests")


if __name__ == "__main__":
    main()
