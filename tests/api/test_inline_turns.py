"""Inline scores take turns of the event loop: one per turn, in arrival order, and the loop runs
other tasks between them (api/inline_turns.py)."""

from __future__ import annotations

import asyncio

from api.inline_turns import InlineTurns, inline_turns
from api.lookup import parse_handle
from api.scoring_service import score_card, served_version
from store import catalog
from tests.api.test_inline_scoring import SHORT, model  # noqa: F401 (a fixture)


class Ticker:
    """Counts turns of the loop: a task that yields once per turn."""

    def __init__(self) -> None:
        self.turn = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.turn += 1

    def stop(self) -> None:
        self._task.cancel()


async def test_one_holder_per_turn_in_arrival_order():
    turns, ticker, seen = InlineTurns(asyncio.get_running_loop()), Ticker(), []

    async def score(name: str) -> None:
        async with turns:
            seen.append((name, ticker.turn))

    await asyncio.gather(*(score(str(index)) for index in range(6)))
    ticker.stop()
    assert [name for name, _ in seen] == [str(index) for index in range(6)]
    assert all(later > earlier for (_, earlier), (_, later) in zip(seen, seen[1:]))


async def test_a_cancelled_waiter_does_not_keep_the_turn():
    turns = InlineTurns(asyncio.get_running_loop())
    order: list[str] = []

    async def score(name: str) -> None:
        async with turns:
            order.append(name)

    first = asyncio.create_task(score("first"))
    waiting = asyncio.create_task(score("cancelled while waiting"))
    handed = asyncio.create_task(score("cancelled once handed the turn"))
    last = asyncio.create_task(score("last"))
    await asyncio.sleep(0)  # all four have entered; the first holds the turn
    waiting.cancel()
    await asyncio.sleep(0)  # the next turn hands over to `handed`: cancel it before it runs
    handed.cancel()
    await asyncio.wait_for(asyncio.gather(first, last), timeout=5)
    assert order == ["first", "last"]
    assert waiting.cancelled() and handed.cancelled()
    async with turns:  # free again
        order.append("after")
    assert order[-1] == "after"


async def test_concurrent_scores_leave_turns_for_other_tasks(http, model, sessionmaker_, settings):  # noqa: F811
    """Five short scores at once: each in its own turn of the loop, so a task that awaits (as a
    database read does) is not held up behind all five."""
    assert (await http.post(f"/v1/models/{model['handle']}/score", json={"content": SHORT},
                            headers=model["scorer"]["headers"])).status_code == 200
    handle = parse_handle(model["handle"], allow_pin=True)
    async with sessionmaker_() as session:
        served = await served_version(session, await catalog.model_by_handle(session, handle.full), handle,
                                      settings.embedder)
    ticker, turns_of_scores = Ticker(), []

    async def one() -> dict:
        turn = ticker.turn
        card = await score_card(served, SHORT, None, 1, single=True)
        turns_of_scores.append((turn, ticker.turn))
        return card

    try:
        cards = await asyncio.gather(*(one() for _ in range(5)))
    finally:
        ticker.stop()
    assert all(card == cards[0] for card in cards)
    assert len({started for started, _ in turns_of_scores}) == 1  # all five asked in the same turn
    assert sorted(done for _, done in turns_of_scores) == sorted({done for _, done in turns_of_scores})
    assert inline_turns() is inline_turns()  # one per loop
