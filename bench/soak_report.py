"""After the soak: memory trend per process, the check that every acknowledged write is present,
and the readable report.

Decisions (SPEC is silent):
- Memory is judged after warm-up (the first `WARMUP_FRACTION` of the soak window is left out: model
  caches, the embedder and connection pools fill then). A least-squares slope in MB/min is fitted
  per process; a process counts as flat when the growth the slope projects over the steady window
  is under max(`FLAT_MB` MB, `FLAT_FRACTION` of its mean RSS).
- A write is acknowledged when the API answered it 2xx; a sample batch whose response never
  arrived (connection dropped) may be present or absent, but only whole.
"""

from __future__ import annotations

import asyncio
import re
import statistics

import httpx

from bench.soak_load import Ledger

WARMUP_FRACTION = 0.2
FLAT_MB = 10.0
FLAT_FRACTION = 0.03
BATCH_TAG = re.compile(r"\[batch (\d+)\]")
MB = 1024 * 1024
COUNTS = {"goroutines"}  # components that are counts, not bytes
THIRD_PARTY = {"temporal"}  # judged and shown like the rest, but not Assay's own code


def _steady_series(samples: list[tuple[float, dict[str, int]]]) -> dict[str, list[tuple[float, float]]]:
    """label → (minutes since the window began, value) for the samples after warm-up."""
    start, end = samples[0][0], samples[-1][0]
    series: dict[str, list[tuple[float, float]]] = {}
    for t, values in samples:
        if t >= start + (end - start) * WARMUP_FRACTION:
            for label, value in values.items():
                series.setdefault(label, []).append(((t - start) / 60, value))
    return {label: points for label, points in sorted(series.items()) if len(points) >= 3}


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope per minute."""
    minutes, values = zip(*points)
    return statistics.linear_regression(minutes, values).slope


def memory_trend(samples: list[tuple[float, dict[str, int]]]) -> dict:
    """samples: (seconds, {process label: rss bytes}) taken during the soak window."""
    if len(samples) < 4:
        return {"processes": {}, "flat": None, "note": "too few samples"}
    processes = {}
    for label, points in _steady_series(samples).items():
        points = [(minute, rss / MB) for minute, rss in points]
        megabytes = [mb for _, mb in points]
        slope = _slope(points)
        mean = statistics.fmean(megabytes)
        projected = slope * (points[-1][0] - points[0][0])
        processes[label] = {
            "samples": len(points), "rss_mb_first": round(megabytes[0], 1), "rss_mb_last": round(megabytes[-1], 1),
            "rss_mb_mean": round(mean, 1), "rss_mb_max": round(max(megabytes), 1),
            "slope_mb_per_min": round(slope, 3), "projected_growth_mb": round(projected, 1),
            "flat": projected < max(FLAT_MB, FLAT_FRACTION * mean),
        }
    ours = [trend["flat"] for label, trend in processes.items() if label not in THIRD_PARTY]
    return {"processes": processes, "flat": all(p["flat"] for p in processes.values()),
            "assay_flat": all(ours), "warmup_fraction": WARMUP_FRACTION, "samples": len(samples)}


def component_trend(samples: list[tuple[float, dict[str, int]]]) -> dict:
    """Where one process's memory goes, after warm-up: first, last and slope per component.

    samples: (seconds, {component: bytes, or a plain count for `goroutines`}). Reported, not judged:
    it explains a growing RSS, the process verdict stays with `memory_trend`.
    """
    if len(samples) < 4:
        return {}
    trend = {}
    for label, points in _steady_series(samples).items():
        scale = 1 if label in COUNTS else MB
        points = [(minute, value / scale) for minute, value in points]
        trend[label] = {"unit": "count" if scale == 1 else "MB", "first": round(points[0][1], 1),
                        "last": round(points[-1][1], 1), "slope_per_min": round(_slope(points), 3)}
    return trend


async def all_samples(client: httpx.AsyncClient, headers: dict, handle: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/v1/models/{handle}/samples", params=params, headers=headers, timeout=60)
        response.raise_for_status()
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def versions(client: httpx.AsyncClient, headers: dict, handle: str) -> list[dict]:
    response = await client.get(f"/v1/models/{handle}/versions", params={"limit": 250}, headers=headers, timeout=60)
    response.raise_for_status()
    return response.json()["items"]


async def wait_settled(client: httpx.AsyncClient, headers: dict, handle: str, limit: float = 600.0) -> dict:
    """The model once it is no longer busy (or as last seen when `limit` runs out)."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        response = await client.get(f"/v1/models/{handle}", headers=headers, timeout=30)
        body = response.json() if response.status_code == 200 else {"state": f"http {response.status_code}"}
        if body.get("state") != "busy" or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(1)


async def verify_writes(client: httpx.AsyncClient, headers: dict, ledger: Ledger, namespace: str) -> dict:
    acknowledged = missing = 0
    for handle, ids in ledger.sample_ids.items():
        stored = {item["id"] for item in await all_samples(client, headers, handle)}
        acknowledged += len(ids)
        missing += sum(1 for sample_id in ids if sample_id not in stored)

    batches_acked = batches_wrong = half_written = 0
    for handle, acked in ledger.batches.items():
        grouped: dict[int, list[int]] = {}
        for item in await all_samples(client, headers, handle):
            tag = BATCH_TAG.search(item["text"])
            if tag:
                grouped.setdefault(int(tag.group(1)), []).append(item["id"])
        sizes = {len(ids) for ids in acked.values()}
        batches_acked += len(acked)
        batches_wrong += sum(1 for number, ids in acked.items() if grouped.get(number) != ids)
        half_written += sum(1 for ids in grouped.values() if len(ids) not in sizes)

    trained_ready = trained_not_ready = wrong_version_count = 0
    not_ready = {}
    for handle in ledger.trained:
        body = await wait_settled(client, headers, handle)
        if body.get("state") == "ready":
            trained_ready += 1
        else:
            trained_not_ready += 1
            not_ready[handle] = {"state": body.get("state"), "last_operation": body.get("last_operation")}
        if body.get("state") == "ready" and len(await versions(client, headers, handle)) < 1:
            wrong_version_count += 1

    refused_left_busy = 0
    for handle in ledger.refused_trains:  # a train Temporal did not take must leave the model as it was
        if (await client.get(f"/v1/models/{handle}", headers=headers)).json().get("state") == "busy":
            refused_left_busy += 1

    states: dict[str, int] = {}
    listing = await client.get("/v1/models", params={"namespace": namespace, "limit": 250}, headers=headers)
    for item in listing.json()["items"]:
        settled = await wait_settled(client, headers, item["handle"], limit=300)
        states[settled.get("state", "?")] = states.get(settled.get("state", "?"), 0) + 1
    return {
        "acknowledged_sample_ids": acknowledged, "missing_sample_ids": missing,
        "acknowledged_batches": batches_acked, "batches_not_stored_as_answered": batches_wrong,
        "half_written_batches": half_written,
        "trainings_acknowledged": len(ledger.trained), "trained_ready": trained_ready,
        "trained_not_ready": trained_not_ready, "not_ready": not_ready,
        "ready_without_version": wrong_version_count,
        "trains_refused_503": len(ledger.refused_trains), "refused_left_busy": refused_left_busy,
        "model_states_after_settling": states,
        "all_present": missing == 0 and batches_wrong == 0 and half_written == 0 and trained_not_ready == 0
                       and refused_left_busy == 0,
    }


def _row(kind: str, stats: dict) -> str:
    codes = ", ".join(f"{code}: {n}" for code, n in stats.get("error_codes", {}).items()) or "—"
    return (f"| {kind} | {stats['requests']} | {stats.get('req_per_s')} | {stats.get('p50_ms')} | "
            f"{stats.get('p99_ms')} | {stats.get('max_ms')} | {stats['errors']} | {codes} |")


def _table(summary: dict) -> list[str]:
    lines = [f"Failures spanned {summary.get('failure_window_s', 0)} s of the phase.", "",
             "| kind | requests | req/s | p50 ms | p99 ms | max ms | errors | error codes |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for kind, stats in summary.get("by_kind", {}).items():
        lines.append(_row(kind, stats))
    if summary.get("requests"):
        lines.append(_row("**all**", summary))
    return lines


def markdown(results: dict) -> str:
    config = results["config"]
    soak = results["soak"]
    memory = soak["memory"]
    lines = [
        "# Soak and fault drills", "",
        f"`make soak` — {config['minutes']} min of mixed traffic against the `assay up` stack "
        f"({config['api_workers']} API processes, {config['workers']} workers, {config['database']}, "
        f"embedder {config['embedder']}, {config['clients']} closed-loop clients, {config['cpus']} CPUs, "
        f"load generator on the same machine), then {len(results['faults'])} fault drills with the traffic "
        f"still running. Code: `{config.get('commit_at_start')}`"
        f"{'' if config.get('commit_at_start') == config.get('commit_at_end') else ' → `' + str(config.get('commit_at_end')) + '` (changed during the run)'}. "
        f"Run on {config['finished_at']}.", "",
        *([f"Note: {config['note']}.", ""] if config.get("note") else []),
        "## Sustained load", "",
        f"Error rate **{soak['traffic']['error_rate']:.3%}** over {soak['traffic']['requests']} requests, "
        f"{soak['traffic']['req_per_s']} req/s; {soak['trainings_started']} trainings started, "
        f"{soak['background_retrains']} background retrains.", "",
        *_table(soak["traffic"]), "",
        f"Memory after warm-up: **{'flat' if memory['flat'] else 'growing'}**; Assay's own processes "
        f"**{'flat' if memory.get('assay_flat', memory['flat']) else 'growing'}** "
        f"(slope per process, {memory.get('samples')} samples; flat = projected growth under "
        f"max({FLAT_MB:.0f} MB, {FLAT_FRACTION:.0%}) of its mean).", "",
        "| process | RSS first MB | RSS last MB | max MB | slope MB/min | flat |", "|---|---:|---:|---:|---:|---|",
    ]
    for label, trend in memory["processes"].items():
        lines.append(f"| {label} | {trend['rss_mb_first']} | {trend['rss_mb_last']} | {trend['rss_mb_max']} | "
                     f"{trend['slope_mb_per_min']} | {'yes' if trend['flat'] else 'no'} |")
    if soak.get("temporal_memory"):
        lines += ["", "What the Temporal server's memory is made of, after warm-up (from /proc and its Go runtime "
                  "gauges; not judged):", "", "| component | first | last | slope per min |", "|---|---:|---:|---:|"]
        for label, trend in soak["temporal_memory"].items():
            unit = "" if trend["unit"] == "count" else " MB"
            lines.append(f"| {label} | {trend['first']}{unit} | {trend['last']}{unit} | {trend['slope_per_min']}{unit} |")
    lines += ["", "## Fault drills", ""]
    for name, fault in results["faults"].items():
        lines += [f"### {name}", ""]
        lines += [f"- {key}: `{value}`" for key, value in fault.items() if key != "traffic"]
        if "traffic" in fault:
            lines += ["", *_table(fault["traffic"])]
        lines.append("")
    verification = results["verification"]
    lines += ["## Acknowledged writes", ""]
    lines += [f"- {key}: `{value}`" for key, value in verification.items()]
    return "\n".join(lines) + "\n"
