"""Lambda's asynchronous event queue on reserved concurrency, for measuring: a few slots, a queue, one urgent call.

Used by ``benches/bench.py`` (the ``pause-storm`` scenario). Never used in production.

Model
    * One slot per concurrent execution Lambda allows the function (its reserved concurrency): each slot is a
      running function (in the bench, its own process under its own Runtime API) and a thread that hands it
      the next queued event as soon as it has answered the one before. That is how Lambda drains an
      asynchronous queue when every slot is busy.
    * An urgent call (``submit``): a synchronous invocation that a client retries until a slot frees (Lambda
      answers 429 while none is free). It takes the next free slot, ahead of the queued events. A real client
      also waits out its back-off between tries; this model does not, so what it gives is the wait for a slot.
    * A slot whose function raises (its process died, no response in time) stops; the others carry on. The
      error is kept and ``join`` raises it, so that a crashed storm is reported, never measured as if whole.

Times are ``time.monotonic()`` stamps, as ``runtime_api`` and ``wire_proxy`` take them.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Ticket:
    """One event (or the urgent call) and what its slot made of it."""

    index: int | None  # its place in the queue; None for an urgent call
    payload: Any
    submitted: float  # queued (the storm's start) or submitted (the urgent call)
    slot: int = -1
    taken: float = 0.0  # when a slot took it
    result: Any = None  # what the slot's invoke returned
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Slots:
    """``invokers[n]`` runs one event to its answer on slot ``n`` (blocking); ``events`` are queued in order."""

    def __init__(self, invokers: list[Callable[[Any], Any]], events: list):
        now = time.monotonic()
        self.tickets = [Ticket(i, payload, now) for i, payload in enumerate(events)]
        self._queue = collections.deque(self.tickets)
        self._urgent: collections.deque[Ticket] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._alive = len(invokers)
        self.handed = 0  # queued events handed to a slot so far
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._slot, args=(n, invoke), name=f"slot-{n}", daemon=True)
                         for n, invoke in enumerate(invokers)]

    def start(self) -> None:
        now = time.monotonic()
        for ticket in self.tickets:
            ticket.submitted = now
        for thread in self._threads:
            thread.start()

    def wait_handed(self, count: int, timeout: float) -> bool:
        """Until ``count`` queued events have been handed out (or every slot has stopped)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.handed >= count or not self._alive, timeout)

    def submit(self, payload) -> Ticket:
        """An urgent call: the next free slot takes it, ahead of the queue."""
        ticket = Ticket(None, payload, time.monotonic())
        with self._cond:
            if not self._alive:
                raise RuntimeError("every slot has stopped; nothing can take the urgent call")
            self._urgent.append(ticket)
            self._cond.notify_all()
        return ticket

    def close(self) -> None:
        """No more urgent calls: each slot stops once the queue is empty."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def join(self, timeout: float) -> None:
        """Waits for the slots (after ``close``); raises the first error a slot met."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            raise TimeoutError(f"the slots did not drain the queue within {timeout} s")
        if self.errors:
            raise self.errors[0]

    def _take(self, slot: int) -> Ticket | None:
        with self._cond:
            while True:
                if self._urgent:
                    ticket = self._urgent.popleft()
                elif self._queue:
                    ticket = self._queue.popleft()
                    self.handed += 1
                    self._cond.notify_all()
                elif self._closed:
                    return None
                else:
                    self._cond.wait()
                    continue
                ticket.slot, ticket.taken = slot, time.monotonic()
                return ticket

    def _slot(self, slot: int, invoke: Callable[[Any], Any]) -> None:
        try:
            while (ticket := self._take(slot)) is not None:
                try:
                    ticket.result = invoke(ticket.payload)
                except BaseException as error:  # noqa: BLE001  (kept, and raised by join)
                    ticket.error = error
                    with self._cond:
                        self.errors.append(error)
                    return
                finally:
                    ticket.done.set()
        finally:
            with self._cond:
                self._alive -= 1
                self._cond.notify_all()
