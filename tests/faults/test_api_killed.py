"""The API process SIGKILLed in the middle of a stream of sample batches: every batch that was
acknowledged is there in full, and no batch is there in part (SPEC §1.8: a batch is all or nothing).

Several senders keep batches in flight, so the kill lands while requests are being handled; the
check then reads the samples through a freshly started API process on the same database."""

from __future__ import annotations

import asyncio
import re

import httpx

from tests.faults.api_process import ApiProcess
from tests.workflows.support import make_model

BATCH_SIZE = 120
SENDERS = 4
ACKED_BEFORE_KILL = 12
BATCH_TAG = re.compile(r"\[batch (\d+)\]")


def _batch(number: int) -> list[dict]:
    return [{"trait": "warmth" if i % 2 else "clarity", "text": f"stream sample {i} [batch {number}]",
             "quality": (i % 3) / 2} for i in range(BATCH_SIZE)]


async def _all_samples(client: httpx.AsyncClient, headers: dict, handle: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/v1/models/{handle}/samples", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_api_killed_mid_stream_keeps_every_acknowledged_batch_whole(settings, http, owner, namespace,
                                                                        tmp_path):
    handle = f"{namespace}.stream"
    await make_model(http, owner["headers"], handle, per_pole=0)
    api = ApiProcess(settings, tmp_path)
    await api.start()

    acked: dict[int, list[int]] = {}   # batch number → ids from its 200
    sent: set[int] = set()
    in_flight: set[int] = set()
    numbers = iter(range(10_000))
    enough = asyncio.Event()

    async def sender(client: httpx.AsyncClient) -> None:
        for number in numbers:
            sent.add(number)
            in_flight.add(number)
            try:
                response = await client.post(f"/v1/models/{handle}/samples", json={"samples": _batch(number)},
                                             headers=owner["headers"])
            except httpx.TransportError:
                return  # the process died under this request: its outcome is unknown to the client
            in_flight.discard(number)
            assert response.status_code == 200, response.text
            acked[number] = response.json()["ids"]
            if len(acked) >= ACKED_BEFORE_KILL:
                enough.set()

    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            senders = [asyncio.create_task(sender(client)) for _ in range(SENDERS)]
            await asyncio.wait_for(enough.wait(), 45)
            unanswered_at_kill = len(in_flight)
            api.kill()
            await asyncio.wait_for(asyncio.gather(*senders), 30)
        assert unanswered_at_kill >= 1  # the kill really landed while batches were being handled

        restarted = ApiProcess(settings, tmp_path)
        await restarted.start()
        try:
            async with httpx.AsyncClient(base_url=restarted.base_url, timeout=30) as client:
                stored = await _all_samples(client, owner["headers"], handle)
        finally:
            restarted.stop()
    finally:
        api.kill()

    by_batch: dict[int, list[int]] = {}
    for item in stored:
        by_batch.setdefault(int(BATCH_TAG.search(item["text"]).group(1)), []).append(item["id"])
    for number, ids in acked.items():
        assert by_batch.get(number) == ids, f"acknowledged batch {number} is not stored exactly as answered"
    for number, ids in by_batch.items():
        assert number in sent
        assert len(ids) == BATCH_SIZE, f"batch {number} is half-written: {len(ids)} of {BATCH_SIZE} rows"
    assert len(acked) >= ACKED_BEFORE_KILL
