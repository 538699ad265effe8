"""Optional per-key rate limiting (ASSAY_RATE_LIMIT, e.g. `100/10s`).

Counters live in Redis when ASSAY_REDIS_URL is set, so every API process shares them; otherwise
in this process's memory. The `limits` library does the windowing.
"""

from __future__ import annotations

import math
import re
import time

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from api.errors import ApiError

_SPEC = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]*)\s*(s|sec|second|seconds|m|min|minute|minutes|h|hour|hours)\s*")
_UNITS = {"s": RateLimitItemPerSecond, "m": RateLimitItemPerMinute, "h": RateLimitItemPerHour}


class InvalidRateLimit(ValueError):
    pass


def parse_rate_limit(spec: str) -> RateLimitItem:
    """`100/10s` → 100 requests per 10 seconds; `5/m` → 5 per minute."""
    match = _SPEC.fullmatch(spec)
    if not match or int(match.group(1)) < 1:
        raise InvalidRateLimit(f"rate limit {spec!r} is not like '100/10s', '5/m' or '1000/1h'")
    amount, multiples, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)[0]
    if multiples < 1:
        raise InvalidRateLimit(f"rate limit {spec!r} has an empty window")
    return _UNITS[unit](amount, multiples)


class KeyRateLimiter:
    def __init__(self, spec: str, redis_url: str | None) -> None:
        self.item = parse_rate_limit(spec)
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            storage = RedisStorage(uri, implementation="redispy", key_prefix="assay-ratelimit")
        else:
            storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(storage)

    async def check(self, key_prefix: str) -> None:
        # The key's random public prefix, not its row id: deployments sharing one Redis never collide.
        identity = f"key:{key_prefix}"
        if await self.limiter.hit(self.item, identity):
            return
        stats = await self.limiter.get_window_stats(self.item, identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            429,
            "rate_limited",
            "Too many requests for this key; slow down and retry later.",
            {"limit": str(self.item), "retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
