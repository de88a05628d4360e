"""Writes the reference traces to benchmarks/traces/ from fixed seeds (re-running gives the same files).

- sparse_day.csv: a quiet day with four short bursts (3–8 requests each).
- business_hours.csv: requests from 08:00 to 18:00 (trace time), Poisson at ~1.5/min, busier mid-morning
  and mid-afternoon.
- spike.csv: a few requests, then 400 within ten minutes at 10:00, then a few more.
  These three give service_s: 10–40 s, the spread of a 7B model generating roughly 300–1200 tokens at ~30 tokens/s
  alone (the simulator turns it into the output tokens that take that long alone on an idle instance).
- bursty.csv: from 06:00 to 23:00, bursts of 2–15 requests within 1–3 minutes, the gaps between bursts
  log-normal around 20 minutes (from about 3 minutes to 2 hours): idle gaps on both sides of a cold start.
- saturating.csv: an hour (09:00–10:00) of Poisson arrivals at 2.5 requests a second, more than one instance's
  batch can serve, then a few stragglers.
  These two give tokens and prompt_tokens: output log-normal around 350 tokens and prompts around 400 (chat-sized
  requests: the ShareGPT sample of the batching calibration averages 233 prompt and 245 answer tokens, and the vLLM
  paper, Kwon et al., SOSP '23, gives 161 and 338 for its ShareGPT sample; ours are a little longer on purpose),
  clipped to the default preset's 4,096 input and 8,192 total tokens.
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


MAX_INPUT_TOKENS, MAX_TOTAL_TOKENS = 4096, 8192
"""The default preset's limits (llm_async/model/presets.py): the API refuses longer requests."""


def _sized(rng: random.Random, arrival: float) -> tuple[float, int, int]:
    """(arrival, output tokens, prompt tokens): log-normal sizes, clipped to what the API admits."""
    prompt = min(max(round(rng.lognormvariate(math.log(400), 0.8)), 8), MAX_INPUT_TOKENS)
    output = min(max(round(rng.lognormvariate(math.log(350), 0.7)), 8), MAX_TOTAL_TOKENS - prompt)
    return arrival, output, prompt


def bursty(rng: random.Random) -> list[tuple[float, int, int]]:
    rows, at = [], 6 * HOUR
    while at < 23 * HOUR:
        length = rng.uniform(60, 180)
        rows += [_sized(rng, at + rng.uniform(0, length)) for _ in range(rng.randint(2, 15))]
        at += length + rng.lognormvariate(math.log(20 * 60), 1.0)
    return sorted(rows)


def saturating(rng: random.Random) -> list[tuple[float, int, int]]:
    rows, at = [], 9 * HOUR
    while True:
        at += rng.expovariate(2.5)
        if at >= 10 * HOUR:
            break
        rows.append(_sized(rng, at))
    rows += [_sized(rng, rng.uniform(11 * HOUR, 20 * HOUR)) for _ in range(5)]
    return sorted(rows)


def main() -> None:
    TRACES.mkdir(exist_ok=True)
    for seed, make in enumerate((sparse_day, business_hours, spike), start=1):
        rows = make(random.Random(seed))
        lines = ["arrival_s,service_s", *(f"{arrival:.1f},{service}" for arrival, service in rows)]
        (TRACES / f"{make.__name__}.csv").write_text("\n".join(lines) + "\n")
        print(f"{make.__name__}.csv: {len(rows)} requests")
    for seed, make_sized in enumerate((bursty, saturating), start=4):
        sized = make_sized(random.Random(seed))
        lines = ["arrival_s,tokens,prompt_tokens", *(f"{arrival:.1f},{output},{prompt}" for arrival, output, prompt in sized)]
        (TRACES / f"{make_sized.__name__}.csv").write_text("\n".join(lines) + "\n")
        print(f"{make_sized.__name__}.csv: {len(sized)} requests")


if __name__ == "__main__":
    main()
