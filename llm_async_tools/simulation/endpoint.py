"""SageMaker's side of an async endpoint: a FIFO queue, instances that start, serve, drain and stop.

Modelled (SageMaker async inference guide, CreateEndpointConfig and InvokeEndpointAsync references):
- Requests wait in arrival order; each in-service instance runs up to MaxConcurrentInvocationsPerInstance
  at once, each for its own service time (assumption: no slowdown from sharing the GPU).
- A request still queued RequestTTLSeconds after it arrived expires and never runs.
- A new instance serves after a cold start drawn for it (parameters.py: provisioning, weights, engine start);
  it is billed from launch.
- Capacity lowered: not-yet-serving instances stop first, then idle ones; a busy instance drains
  (takes no new request, stops when its last one finishes).
- While instances are starting the endpoint is Updating, and (unless `refuse_while_updating` is off) a
  further capacity change is refused, as SageMaker refuses to update an endpoint whose update is in progress.
Assumptions, documented in docs/simulator.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    index: int
    arrival_s: float
    service_s: float
    started_s: float | None = None
    finished_s: float | None = None
    expired: bool = False


@dataclass
class Instance:
    launched_s: float
    ready_s: float
    serving: bool = False
    draining: bool = False
    stopped_s: float | None = None
    running: list[Request] = field(default_factory=list)


class AsyncEndpoint:
    def __init__(
        self,
        *,
        concurrency: int,
        ttl_s: float,
        provisioning_s: Callable[[], float],
        schedule: Callable[[float, str, object], None],
        refuse_while_updating: bool = True,
    ) -> None:
        self._concurrency, self._ttl_s, self._refuse_while_updating = concurrency, ttl_s, refuse_while_updating
        self._provisioning_s, self._schedule = provisioning_s, schedule
        self._queue: deque[Request] = deque()
        self.instances: list[Instance] = []
        self.queued = 0
        self.running = 0
        self.expired = 0

    @property
    def backlog(self) -> int:
        """ApproximateBacklogSize: queued or being processed."""
        return self.queued + self.running

    @property
    def in_service(self) -> int:
        return sum(1 for i in self.instances if i.serving and i.stopped_s is None)

    def start_serving(self, count: int) -> None:
        """Instances already in service when the trace starts (the minimum capacity)."""
        self.instances.extend(Instance(launched_s=0.0, ready_s=0.0, serving=True) for _ in range(count))

    @property
    def updating(self) -> bool:
        return any(not i.serving and i.stopped_s is None for i in self.instances)

    def set_capacity(self, now: float, capacity: int) -> bool:
        """UpdateEndpointWeightsAndCapacities: False if refused because an update is in progress."""
        if self._refuse_while_updating and self.updating:
            return False
        active = [i for i in self.instances if i.stopped_s is None and not i.draining]
        for _ in range(capacity - len(active)):
            instance = Instance(launched_s=now, ready_s=now + self._provisioning_s())
            self.instances.append(instance)
            self._schedule(instance.ready_s, "ready", instance)
        surplus = len(active) - capacity
        # Cheapest to give up first: still starting (newest first), then idle, then busy (drains).
        for instance in sorted(active, key=lambda i: (i.serving, len(i.running), -i.launched_s))[: max(surplus, 0)]:
            if instance.running:
                instance.draining = True
            else:
                instance.stopped_s = now
        return True

    def instance_ready(self, now: float, instance: Instance) -> None:
        if instance.stopped_s is None:
            instance.serving = True
            self._dispatch(now)

    def arrive(self, now: float, request: Request) -> None:
        self._queue.append(request)
        self.queued += 1
        self._schedule(request.arrival_s + self._ttl_s, "expire", request)
        self._dispatch(now)

    def expire(self, now: float, request: Request) -> None:
        if request.started_s is None and not request.expired:
            request.expired = True
            self.queued -= 1
            self.expired += 1

    def finish(self, now: float, payload: tuple[Instance, Request]) -> None:
        instance, request = payload
        instance.running.remove(request)
        request.finished_s = now
        self.running -= 1
        if instance.draining and not instance.running:
            instance.stopped_s = now
        self._dispatch(now)

    def _dispatch(self, now: float) -> None:
        while self._queue:
            if self._queue[0].expired:
                self._queue.popleft()
                continue
            free = [i for i in self.instances if i.serving and not i.draining and i.stopped_s is None and len(i.running) < self._concurrency]
            if not free:
                return
            instance = min(free, key=lambda i: len(i.running))
            request = self._queue.popleft()
            request.started_s = now
            instance.running.append(request)
            self.queued -= 1
            self.running += 1
            self._schedule(now + request.service_s, "finish", (instance, request))

    def instance_seconds(self, end_s: float) -> float:
        return sum((i.stopped_s if i.stopped_s is not None else end_s) - i.launched_s for i in self.instances)
