"""bench/embed_floor.py: bare embeddings in arrival order, pinned to one queue per process or shared."""

from __future__ import annotations

from bench import embed_floor, http_scoring


def test_both_layouts_embed_every_arrival_and_queueing_shows_in_the_tail():
    light = embed_floor.floor(rate=20, seconds=1.5, servers=2, layout="pinned")
    # Far more arrivals than two embedders keep up with: the last ones wait behind the rest.
    heavy = embed_floor.floor(rate=2000, seconds=0.1, servers=2, layout="shared")
    assert light["layout"] == "pinned" and heavy["layout"] == "shared"
    assert light["requests"] > 10 and heavy["requests"] > 100
    assert 0 < light["p50_ms"] <= light["p99_ms"]
    assert heavy["p99_ms"] > 10 * light["p50_ms"]


def test_the_ratios_carry_the_floor_of_the_half_load_run():
    runs = {"short": {"clients": 20, "req_per_s": 250, "errors": 0},
            "short_open_62": {"offered_req_per_s": 62, "share_of_ceiling": 0.25, "p99_ms": 20.0, "errors": 0},
            "short_open_125": {"offered_req_per_s": 125, "share_of_ceiling": 0.5, "p99_ms": 40.0, "errors": 0},
            "embed_floor": {"pinned": {"p99_ms": 25.0}, "shared": {"p99_ms": 15.0}}}
    half = http_scoring.ratios(runs, api_workers=2, cores=2, embed_ms=5.0)["open_loop_50_p99"]
    assert half["offered_req_per_s"] == 125 and half["ratio"] == 8.0 and not half["met"]
    assert (half["embed_floor_pinned_ratio"], half["embed_floor_shared_ratio"]) == (5.0, 3.0)
