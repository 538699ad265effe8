"""At most one inline score per turn of the event loop, taken in arrival order.

Short content is scored on the event loop itself (``api.scoring_service.score_card``). A score never
awaits, so without a limit every request that is ready in one turn of the loop would be scored in
that turn, one after another, before the loop next polls its sockets or wakes a task whose database
read or page fetch has come back: under load such a task would wait ten or twenty scores per await.
Taking turns, the loop polls and runs those tasks between any two scores.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque


class InlineTurns:
    """``async with turns:`` waits for a turn of the loop that no other inline score has taken."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._taken = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self._taken or self._waiting:
            waiter = self._loop.create_future()
            self._waiting.append(waiter)
            try:
                await waiter  # the turn is handed over: still taken, now ours
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._loop.call_soon(self._next_turn)  # handed to us as we were cancelled: pass it on
                raise
        else:
            self._taken = True
        # Callbacks scheduled now run in the loop's next turn, after it has polled its sockets.
        self._loop.call_soon(self._next_turn)

    async def __aexit__(self, *exc_info) -> None:
        return None

    def _next_turn(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # skip the ones cancelled while waiting
                waiter.set_result(None)
                return
        self._taken = False


_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InlineTurns] = weakref.WeakKeyDictionary()


def inline_turns() -> InlineTurns:
    """The running loop's turns (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    turns = _turns.get(loop)
    if turns is None:
        turns = _turns[loop] = InlineTurns(loop)
    return turns
