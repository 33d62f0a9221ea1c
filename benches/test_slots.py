"""Tests for benches/slots.py: `.venv/bin/python -m unittest benches/test_slots.py -v`.

The slots' functions are played by gates (threading.Event) that the test opens one at a time, so that which
slot takes what, and when, is decided by the test and not by timing. No timing is asserted.
"""

from __future__ import annotations

import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slots import Slots  # noqa: E402

WAIT = 10  # seconds: a bound for a test that hangs, never a figure


class Gated:
    """A slot's function: each call waits until the test lets it answer."""

    def __init__(self, crash: bool = False):
        self.crash = crash
        self.started = threading.Semaphore(0)
        self.gate = threading.Semaphore(0)
        self.seen: list = []

    def __call__(self, payload):
        self.seen.append(payload)
        self.started.release()
        if not self.gate.acquire(timeout=WAIT):
            raise TimeoutError("the test never let this call answer")
        if self.crash:
            raise RuntimeError("the process died")
        return f"answer to {payload}"

    def answer(self) -> None:
        """Lets the call in progress answer (the slot then takes its next one, or stops)."""
        self.gate.release()

    def wait_started(self) -> None:
        if not self.started.acquire(timeout=WAIT):
            raise AssertionError("the slot took nothing")


class SlotsTest(unittest.TestCase):
    def test_each_slot_takes_the_next_event_as_soon_as_it_has_answered_and_every_event_is_handled_once(self):
        one, two = Gated(), Gated()
        slots = Slots([one, two], list(range(6)))
        slots.start()
        one.wait_started(), two.wait_started()
        self.assertEqual(slots.handed, 2)  # two slots, two events taken; the rest wait in the queue
        for _ in range(4):
            one.answer()
            one.wait_started()
        self.assertEqual(one.seen[1:], [2, 3, 4, 5])  # slot two is still busy with its first event
        one.answer(), two.answer()
        slots.close()
        slots.join(WAIT)
        self.assertEqual(sorted(t.index for t in slots.tickets), list(range(6)))
        self.assertEqual([t.result for t in slots.tickets], [f"answer to {n}" for n in range(6)])
        self.assertTrue(all(t.done.is_set() and t.taken >= t.submitted for t in slots.tickets))

    def test_an_urgent_call_takes_the_next_free_slot_ahead_of_the_queued_events(self):
        one, two = Gated(), Gated()
        slots = Slots([one, two], ["a", "b", "c", "d"])
        slots.start()
        one.wait_started(), two.wait_started()
        self.assertTrue(slots.wait_handed(2, WAIT))
        urgent = slots.submit("pause")
        self.assertFalse(urgent.done.is_set())  # both slots busy: it waits for one
        two.answer()
        two.wait_started()
        self.assertEqual(two.seen[1:], ["pause"])  # not "c": the urgent call went first
        self.assertEqual(slots.handed, 2)
        two.answer()
        self.assertTrue(urgent.done.wait(WAIT))
        self.assertEqual((urgent.index, urgent.slot, urgent.result), (None, 1, "answer to pause"))
        self.assertGreaterEqual(urgent.taken, urgent.submitted)
        two.wait_started()  # "c": slot one is still busy with its first event
        one.answer()
        one.wait_started()  # "d"
        one.answer(), two.answer()
        slots.close()
        slots.join(WAIT)
        self.assertEqual(sorted(one.seen[:1] + two.seen[:1]), ["a", "b"])
        self.assertEqual((two.seen[2:], one.seen[1:]), (["c"], ["d"]))  # then the queue, in order

    def test_slots_wait_for_an_urgent_call_until_closed_even_once_the_queue_is_empty(self):
        one = Gated()
        slots = Slots([one], ["a"])
        slots.start()
        one.wait_started()
        one.answer()
        self.assertTrue(slots.tickets[0].done.wait(WAIT))
        urgent = slots.submit("pause")
        one.wait_started()
        one.answer()
        self.assertTrue(urgent.done.wait(WAIT))
        slots.close()
        slots.join(WAIT)
        self.assertEqual(one.seen, ["a", "pause"])

    def test_a_slot_whose_function_fails_stops_the_others_carry_on_and_join_raises_its_error(self):
        one, two = Gated(crash=True), Gated()
        slots = Slots([one, two], ["a", "b", "c", "d"])
        slots.start()
        one.wait_started(), two.wait_started()
        one.answer()  # its process dies: slot one stops
        for _ in range(2):
            two.answer()
            two.wait_started()
        two.answer()
        slots.close()
        with self.assertRaisesRegex(RuntimeError, "the process died"):
            slots.join(WAIT)
        self.assertEqual(len(one.seen), 1)
        self.assertEqual(sorted(one.seen + two.seen), ["a", "b", "c", "d"])
        failed = next(t for t in slots.tickets if t.payload == one.seen[0])
        self.assertIsInstance(failed.error, RuntimeError)
        self.assertTrue(failed.done.is_set())
        with self.assertRaisesRegex(RuntimeError, "every slot has stopped"):
            slots.submit("pause")


if __name__ == "__main__":
    unittest.main()
