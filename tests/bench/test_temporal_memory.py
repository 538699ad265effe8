"""The Temporal memory bench reads the live heap from the Go runtime's GC trace and pairs it with runs."""

from bench.temporal_memory import _gc_points, _runs_at


def test_gc_trace_lines_give_the_live_heap_after_marking():
    log = "\n".join([
        "Temporal Server:      localhost:7233",
        "gc 8 @7.858s 0%: 11+61+0.003 ms clock, 23+0.63/46/23+0.007 ms cpu, 58->59->39 MB, 68 MB goal, 5 MB stacks, 0 MB globals, 2 P",
        "gc 9 @118.312s 0%: 0.1+2+0.003 ms clock, 0.2+0/1/2+0.006 ms cpu, 57->57->37 MB, 80 MB goal, 5 MB stacks, 0 MB globals, 2 P",
    ])
    assert _gc_points(log) == [(7.858, 39), (118.312, 37)]
    timeline = [(5.0, 0), (6.0, 40), (7.0, 90), (8.0, 150)]
    assert _runs_at(timeline, 7.858) == 90
    assert _runs_at(timeline, 1.0) == 0
