"""A PNG timeline of a run: requests arriving, the backlog, and instances in service, one line a policy.

matplotlib is a dev requirement and is imported only when a plot is asked for (Agg: no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llm_async_tools.simulation.engine import SimulationResult
from llm_async_tools.simulation.trace import TracedRequest


def write_timeline(path: Path, trace: Sequence[TracedRequest], results: Sequence[SimulationResult], *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = max(len(r.instances_per_minute) for r in results)
    hours = [m / 60 for m in range(minutes)]
    arrivals = [0] * minutes
    for request in trace:
        minute = int(request.arrival_s // 60)
        if minute < minutes:
            arrivals[minute] += 1
    figure, (requests_ax, backlog_ax, instances_ax) = plt.subplots(3, 1, sharex=True, figsize=(11, 7.5))
    requests_ax.bar(hours, arrivals, width=1 / 60, color="tab:gray")
    requests_ax.set_ylabel("requests / min")
    for result in results:
        width = 2.2 if result is results[0] else 1.2
        backlog_ax.step(hours[: len(result.backlog_per_minute)], result.backlog_per_minute, where="post", linewidth=width, label=result.name)
        instances_ax.step(hours[: len(result.instances_per_minute)], result.instances_per_minute, where="post", linewidth=width, label=result.name)
    backlog_ax.set_ylabel("backlog (max / min)")
    instances_ax.set_ylabel("instances in service")
    instances_ax.set_xlabel("hours from trace start")
    instances_ax.legend(loc="upper right", fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
