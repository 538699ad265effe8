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


def test_the_cpu_floor_counts_every_process_embedding_at_once():
    one, two = embed_floor.cpu_floor(seconds=0.6, servers=1), embed_floor.cpu_floor(seconds=0.6, servers=2)
    assert (one["servers"], len(one["per_process_ms"])) == (1, 1)
    assert (two["servers"], len(two["per_process_ms"])) == (2, 2)
    assert one["embeds_per_s"] > 20 and two["embeds_per_s"] > 20
    # One process: the CPU per embedding is its own time per embedding.
    assert abs(one["cpu_ms_per_embed"] - one["per_process_ms"][0]) < 0.02
    # Two: cores ÷ the summed rate, which lies between the two processes' own times per embedding.
    assert min(two["per_process_ms"]) - 0.02 <= two["cpu_ms_per_embed"] <= max(two["per_process_ms"]) + 0.02


def test_the_cpu_ratio_carries_its_floor_and_the_report_shows_it(tmp_path, monkeypatch):
    runs = {"short_1_client": {"clients": 1, "req_per_s": 120, "p50_ms": 6.0, "p99_ms": 7.0, "errors": 0},
            "short": {"clients": 20, "req_per_s": 250, "p50_ms": 80.0, "p99_ms": 90.0, "errors": 0},
            "embed_cpu_floor": {"servers": 2, "embeds_per_s": 320.0, "cpu_ms_per_embed": 6.25,
                                "per_process_ms": [6.2, 6.3]}}
    cpu = http_scoring.ratios(runs, api_workers=2, cores=2, embed_ms=5.0)["cpu_per_request"]
    assert (cpu["cpu_ms"], cpu["ratio"], cpu["met"]) == (8.0, 1.6, False)
    assert (cpu["embed_cpu_floor_ms"], cpu["embed_cpu_floor_ratio"], cpu["over_floor"]) == (6.25, 1.25, 1.28)

    monkeypatch.setattr(http_scoring, "RESULTS", tmp_path)
    host = {"cpu": "test cpu", "cpu_count": 2, "avx512": True, "int8_dot_product_instructions": True,
            "embed_short_p50_ms": 5.0}
    http_scoring.write_results({"2": runs}, clients=20, seconds=1, host=host)
    report = (tmp_path / "http_scoring.md").read_text()
    assert "| 2 | 8.0 ms | 6.25 ms | 1.25 | 1.28 |" in report
    assert "embed_cpu_floor" not in report  # not listed as a closed-loop run
