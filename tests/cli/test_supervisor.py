"""The restart rule of `assay up` (cli/supervisor.py), on a clock the test controls."""

from __future__ import annotations

from cli.supervisor import RestartPolicy


def test_restart_delays_double_up_to_the_burst_then_a_crash_loop_is_declared():
    tracker = RestartPolicy(burst=5, window=120.0, first_delay=1.0, max_delay=30.0).tracker()
    delays, now = [], 0.0
    while (delay := tracker.delay_after_death(now)) is not None:
        delays.append(delay)
        now += delay
        tracker.restarted(now)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_restarts_older_than_the_window_are_forgotten():
    tracker = RestartPolicy(burst=2, window=60.0, first_delay=1.0, max_delay=30.0).tracker()
    tracker.restarted(0.0)
    tracker.restarted(10.0)
    assert tracker.delay_after_death(30.0) is None
    # Sixty seconds after the first restart, it no longer counts: one restart in the window.
    assert tracker.delay_after_death(60.0) == 2.0


def test_the_delay_is_capped():
    tracker = RestartPolicy(burst=10, window=1000.0, first_delay=1.0, max_delay=5.0).tracker()
    for moment in range(6):
        tracker.restarted(float(moment))
    assert tracker.delay_after_death(6.0) == 5.0
