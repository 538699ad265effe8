"""The soak's memory verdict: warm-up is left out, a steady climb is caught, noise around a level is not,
and the Temporal breakdown keeps its units."""

import os

from bench.soak_report import MB, component_trend, memory_trend
from bench.soak_stack import proc_status_bytes


def _samples(minutes: int, rss_mb_at) -> list[tuple[float, dict[str, int]]]:
    """One sample every 5 s for `minutes`, with the MB values `rss_mb_at(minute)` gives per label."""
    return [(t, {label: int(mb * MB) for label, mb in rss_mb_at(t / 60).items()})
            for t in range(0, minutes * 60 + 1, 5)]


def test_warmup_growth_is_left_out_and_a_level_with_noise_is_flat():
    # 100 MB climbing to 300 MB during the first tenth, then ±2 MB around 300 MB.
    def level(minute):
        return {"api": 100 + 200 * minute / 2 if minute < 2 else 300 + (2 if int(minute * 12) % 2 else -2)}

    trend = memory_trend(_samples(20, level))
    assert trend["flat"] is True
    assert abs(trend["processes"]["api"]["slope_mb_per_min"]) < 0.1


def test_a_steady_climb_after_warmup_is_growing():
    # 1.25 MB/min over a 16-minute steady window projects 20 MB: over the 10 MB bar.
    trend = memory_trend(_samples(20, lambda minute: {"temporal": 200 + 1.25 * minute, "worker": 290.0}))
    assert trend["flat"] is False
    temporal = trend["processes"]["temporal"]
    assert temporal["flat"] is False and round(temporal["slope_mb_per_min"], 2) == 1.25
    assert 19 < temporal["projected_growth_mb"] < 21
    assert trend["processes"]["worker"]["flat"] is True
    assert trend["assay_flat"] is True  # only the Temporal server grows


def test_a_growing_assay_process_fails_the_assay_verdict():
    trend = memory_trend(_samples(20, lambda minute: {"temporal": 200.0, "worker-1": 290 + 2 * minute}))
    assert trend["flat"] is False and trend["assay_flat"] is False


def test_too_few_samples_give_no_verdict():
    assert memory_trend(_samples(0, lambda minute: {"api": 1.0}))["flat"] is None


def test_component_trend_reports_bytes_in_mb_and_goroutines_as_a_count():
    samples = [(t, {"go_heap_inuse": (40 + t / 60) * MB, "goroutines": 3000 + t})
               for t in range(0, 601, 10)]
    trend = component_trend(samples)
    assert trend["go_heap_inuse"]["unit"] == "MB"
    assert round(trend["go_heap_inuse"]["slope_per_min"], 2) == 1.0
    assert trend["go_heap_inuse"]["last"] == 50.0
    assert trend["goroutines"] == {"unit": "count", "first": 3120.0, "last": 3600.0, "slope_per_min": 60.0}


def test_proc_status_of_this_process_has_anonymous_pages_and_of_a_gone_one_nothing():
    mine = proc_status_bytes(os.getpid())
    assert mine["rss_anon"] > 10 * MB
    assert set(mine) == {"rss_anon", "rss_file", "rss_shmem"}
    assert proc_status_bytes(2**22 + 1) == {}

