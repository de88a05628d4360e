"""What the template cannot say: how fast instances start and requests run, and how CloudWatch reports.

Every default here is listed in docs/simulator.md with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from llm_async.endpoint.config import PROVISIONING_MARGIN_S
from llm_async_tools.simulation.metrics import IDLE_METRICS

# Weights download + TGI shard load of a 7B model on one A10G: an estimate, not a measurement.
MODEL_LOAD_S = 120


@dataclass(frozen=True)
class SimulationParameters:
    provisioning_s: float = PROVISIONING_MARGIN_S + MODEL_LOAD_S
    """Mean time from a capacity increase to the new instance serving (instance + container + model load)."""
    provisioning_jitter: float = 0.15
    """Relative standard deviation of that time (normal, clipped to 0.5–2 × the mean); 0 makes it exact."""
    service_s: float = 20.0
    """Processing time of a request whose trace row gives neither service_s nor tokens."""
    tokens_per_second: float = 30.0
    """Per-request generation speed, to turn a trace's `tokens` into seconds."""
    metric_lag_s: float = 60.0
    """Delay from the end of a metric's minute to the alarm evaluation that first sees it."""
    idle_metrics: str = "zero"
    """What SageMaker publishes for a minute without backlog: 'zero' datapoints or 'missing' ones."""
    api_wake: bool = True
    """Requests come through the inference API, which forces the wake alarm (if the template has one)."""
    hold_scale_in_during_scale_out_cooldown: bool = False
    """Undocumented: does one policy's scale-out cooldown hold another policy's scale-in?"""
    refuse_while_updating: bool = True
    """A capacity change while instances are still starting fails (the endpoint is Updating)."""
    start: datetime | None = None
    """Wall-clock time of t = 0 (scheduled actions); None: the CLI's default."""
    duration_s: float | None = None
    """Simulated span; None: whole days covering the trace."""
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("provisioning_s", "service_s", "tokens_per_second"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")
        if not 0 <= self.provisioning_jitter <= 1:
            raise ValueError(f"provisioning_jitter must be 0–1 (got {self.provisioning_jitter})")
        if self.metric_lag_s < 0:
            raise ValueError(f"metric_lag_s must be ≥ 0 (got {self.metric_lag_s})")
        if self.idle_metrics not in IDLE_METRICS:
            raise ValueError(f"idle_metrics must be one of {', '.join(IDLE_METRICS)} (got {self.idle_metrics!r})")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError(f"duration_s must be > 0 (got {self.duration_s})")
