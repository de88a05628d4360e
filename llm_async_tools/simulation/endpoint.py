"""SageMaker's side of an async endpoint: a FIFO queue, instances that start, serve, drain and stop.

Modelled (SageMaker async inference guide, CreateEndpointConfig and InvokeEndpointAsync references):
- Requests wait in arrival order; each in-service instance is sent up to MaxConcurrentInvocationsPerInstance at
  once, and its engine batches them continuously (batching.py: per-sequence speed falls as the batch grows).
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

from llm_async_tools.simulation.batching import Batching, InstanceBatch


@dataclass(eq=False)
class Request:
    index: int
    arrival_s: float
    prompt_tokens: float
    output_tokens: float
    started_s: float | None = None
    """When SageMaker sent it to an instance."""
    finished_s: float | None = None
    expired: bool = False


@dataclass(eq=False)
class Instance:
    launched_s: float
    ready_s: float
    batch: InstanceBatch
    serving: bool = False
    draining: bool = False
    stopped_s: float | None = None
    running: list[Request] = field(default_factory=list)
    """Requests SageMaker has sent it that have not finished (at most the concurrency per instance)."""


class AsyncEndpoint:
    def __init__(
        self,
        *,
        concurrency: int,
        ttl_s: float,
        batching: Batching,
        provisioning_s: Callable[[], float],
        schedule: Callable[[float, str, object], None],
        refuse_while_updating: bool = True,
    ) -> None:
        self._concurrency, self._ttl_s, self._refuse_while_updating = concurrency, ttl_s, refuse_while_updating
        self._batching = batching
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
        self.instances.extend(Instance(0.0, 0.0, self._batching.new_batch(), serving=True) for _ in range(count))

    @property
    def updating(self) -> bool:
        return any(not i.serving and i.stopped_s is None for i in self.instances)

    def set_capacity(self, now: float, capacity: int) -> bool:
        """UpdateEndpointWeightsAndCapacities: False if refused because an update is in progress."""
        if self._refuse_while_updating and self.updating:
            return False
        active = [i for i in self.instances if i.stopped_s is None and not i.draining]
        for _ in range(capacity - len(active)):
            instance = Instance(now, now + self._provisioning_s(), self._batching.new_batch())
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

    def progress(self, now: float, payload: tuple[Instance, int]) -> None:
        """An instance's engine reached its next event (a prefill ended, a request finished), unless since rescheduled."""
        instance, version = payload
        if version != instance.batch.version:
            return
        for done in instance.batch.progress(now):
            request = done.job
            instance.running.remove(request)  # type: ignore[arg-type]
            request.finished_s = now  # type: ignore[attr-defined]
            self.running -= 1
        if instance.draining and not instance.running:
            instance.stopped_s = now
        self._reschedule(instance)
        self._dispatch(now)

    def _reschedule(self, instance: Instance) -> None:
        instance.batch.version += 1
        when = instance.batch.next_event_s()
        if when is not None:
            self._schedule(when, "progress", (instance, instance.batch.version))

    def _dispatch(self, now: float) -> None:
        while self._queue:
            if self._queue[0].expired:
                self._queue.popleft()
                continue
            free = [i for i in self.instances if i.serving and not i.draining and i.stopped_s is None and len(i.running) < self._concurrency]
            if not free:
                return
            # Least loaded first (the endpoint spreads invocations over its instances).
            instance = min(free, key=lambda i: len(i.running))
            request = self._queue.popleft()
            request.started_s = now
            instance.running.append(request)
            self.queued -= 1
            self.running += 1
            instance.batch.add(now, request)
            self._reschedule(instance)

    def tokens(self) -> float:
        """Output tokens generated by every instance."""
        return sum(i.batch.tokens for i in self.instances)

    def instance_seconds(self, end_s: float) -> float:
        return sum((i.stopped_s if i.stopped_s is not None else end_s) - i.launched_s for i in self.instances)
