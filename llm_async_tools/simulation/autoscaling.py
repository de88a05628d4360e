"""Application Auto Scaling for one scalable target: step and target tracking policies, cooldowns, bounds.

Documented behaviour modelled (Application Auto Scaling API reference, StepScalingPolicyConfiguration.Cooldown
and TargetTrackingScalingPolicyConfiguration; user guide, "Step scaling" and "Target tracking"):
- A step is chosen from the aggregated metric minus the threshold; above the threshold a step's lower bound is
  inclusive and its upper bound exclusive, below it the other way round.
- During a policy's scale-out cooldown the capacity it added counts as already there: it scales out again
  only if the new step, applied to the capacity before that scale-out, asks for more.
- A policy's scale-in waits for its own scale-in cooldown; a scale-out is never held by a scale-in cooldown,
  and ends it.
- Policies that act at the same moment: the largest resulting capacity wins (PutScalingPolicy reference).
- Capacity is clamped to the target's current MinCapacity/MaxCapacity; a scheduled action that raises the
  minimum above the current capacity scales out to it at once.
Not documented, so a switch: whether a scale-out cooldown of one policy also holds another policy's
scale-in (`hold_scale_in_during_scale_out_cooldown`, off by default). A change the endpoint refuses (see
`AsyncEndpoint.set_capacity`) is a failed activity: no cooldown starts, and the alarm's next re-run tries again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from llm_async_tools.simulation.model import ScalingModel, StepPolicy, TargetTrackingPolicy

# Target tracking scales in below this fraction of its target ("usually more than 10 % lower", user guide).
SCALE_IN_FRACTION = 0.9


@dataclass(frozen=True)
class CapacityChange:
    time_s: float
    before: int
    after: int
    cause: str


@dataclass
class _PolicyState:
    cooldown_out_s: int
    cooldown_in_s: int
    scale_out_at: float | None = None
    capacity_before_scale_out: int = 0
    scale_in_at: float | None = None


@dataclass(frozen=True)
class Proposal:
    policy: str
    capacity: int


class ApplicationAutoScaling:
    def __init__(
        self,
        model: ScalingModel,
        *,
        desired: int,
        set_capacity: Callable[[float, int], bool],
        hold_scale_in_during_scale_out_cooldown: bool = False,
    ) -> None:
        self.min_capacity = model.min_capacity
        self.max_capacity = model.max_capacity
        self.desired = desired
        self.changes: list[CapacityChange] = []
        self.failed_activities = 0
        self._bounds_cause = "bounds"
        self._set_capacity = set_capacity
        self._hold = hold_scale_in_during_scale_out_cooldown
        self._policies = {p.name: _PolicyState(p.cooldown_s, p.cooldown_s) for p in model.step_policies}
        self._policies.update(
            {p.name: _PolicyState(p.scale_out_cooldown_s, p.scale_in_cooldown_s) for p in model.target_tracking}
        )

    def step(self, policy: StepPolicy, value: float, now: float) -> Proposal | None:
        """What the step policy would set the capacity to, given the alarm's aggregated metric value."""
        difference = value - policy.alarm.threshold
        step = next((s for s in policy.steps if _in_interval(s.lower_bound, s.upper_bound, difference, policy.alarm.scales_out)), None)
        if step is None:
            return None

        def adjusted(capacity: int) -> int:
            if policy.adjustment_type == "ExactCapacity":
                return step.scaling_adjustment
            if policy.adjustment_type == "PercentChangeInCapacity":
                change = int(capacity * step.scaling_adjustment / 100)
                floor = policy.min_adjustment_magnitude or 0
                if abs(change) < floor:
                    change = floor if step.scaling_adjustment > 0 else -floor
                return capacity + change
            return capacity + step.scaling_adjustment

        return self._propose(policy.name, adjusted, now)

    def track(self, policy: TargetTrackingPolicy, value: float, now: float, *, scale_out: bool) -> Proposal | None:
        """Target tracking's proportional answer to its scale-out (high) or scale-in (low) alarm."""
        if not scale_out and policy.disable_scale_in:
            return None

        def proportional(capacity: int) -> int:
            # From zero instances the per-instance metric is the whole backlog, so scale from one.
            base = max(capacity, 1) if scale_out else capacity
            return math.ceil(base * value / policy.target_value - 1e-9)

        proposal = self._propose(policy.name, proportional, now)
        if proposal is not None and (proposal.capacity > self.desired) != scale_out:
            return None
        return proposal

    def _propose(self, name: str, adjusted: Callable[[int], int], now: float) -> Proposal | None:
        current = self.desired
        state = self._policies[name]
        wanted = adjusted(current)
        if wanted > current and self._cooling_out(state, now):
            wanted = adjusted(state.capacity_before_scale_out)
        elif wanted < current and self._scale_in_held(state, now):
            return None
        wanted = min(max(wanted, self.min_capacity), self.max_capacity)
        return None if wanted == current else Proposal(name, wanted)

    def apply(self, proposals: list[Proposal], now: float) -> None:
        """Carries out the largest capacity among simultaneous proposals."""
        outs = [p for p in proposals if p.capacity > self.desired]
        candidates = outs or [p for p in proposals if p.capacity < self.desired]
        if not candidates:
            return
        chosen = max(candidates, key=lambda p: p.capacity)
        before = self.desired
        if not self._change(now, chosen.capacity, chosen.policy):
            return
        if outs:
            state = self._policies[chosen.policy]
            state.scale_out_at, state.capacity_before_scale_out = now, before
            for other in self._policies.values():
                other.scale_in_at = None
        else:
            self._policies[chosen.policy].scale_in_at = now

    def set_bounds(self, now: float, *, min_capacity: int | None, max_capacity: int | None, cause: str) -> None:
        """A scheduled action: new bounds, and capacity moved inside them at once."""
        self.min_capacity = self.min_capacity if min_capacity is None else min_capacity
        self.max_capacity = self.max_capacity if max_capacity is None else max_capacity
        self._bounds_cause = cause
        self.enforce_bounds(now)

    def enforce_bounds(self, now: float) -> None:
        """Moves capacity inside the bounds; retried at every evaluation while the endpoint refuses it."""
        bounded = min(max(self.desired, self.min_capacity), self.max_capacity)
        if bounded != self.desired:
            self._change(now, bounded, self._bounds_cause)

    @staticmethod
    def _cooling_out(state: _PolicyState, now: float) -> bool:
        return state.scale_out_at is not None and now < state.scale_out_at + state.cooldown_out_s

    def _scale_in_held(self, state: _PolicyState, now: float) -> bool:
        if state.scale_in_at is not None and now < state.scale_in_at + state.cooldown_in_s:
            return True
        return self._hold and any(self._cooling_out(s, now) for s in self._policies.values())

    def _change(self, now: float, capacity: int, cause: str) -> bool:
        """False when the endpoint refuses the change: the activity fails and starts no cooldown."""
        if not self._set_capacity(now, capacity):
            self.failed_activities += 1
            return False
        self.changes.append(CapacityChange(now, self.desired, capacity, cause))
        self.desired = capacity
        return True


def _in_interval(lower: float | None, upper: float | None, difference: float, above: bool) -> bool:
    low = -math.inf if lower is None else lower
    high = math.inf if upper is None else upper
    return low <= difference < high if above else low < difference <= high
