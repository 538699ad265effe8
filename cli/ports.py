"""Free ports for servers started side by side (tests and benches).

A port from `bind(("", 0))` comes from the kernel's ephemeral range, the same range a starting
server draws from when it picks its own "random free port" (the Temporal dev server does, for its
HTTP API and metrics when they are not given). A port chosen that way and released before the
server binds it can therefore be taken by the server itself: `bind: address already in use` at
random. Ports outside the ephemeral range are never handed out by the kernel, so that race is gone.
"""

from __future__ import annotations

import random
import socket

LOWEST = 10_000
DEFAULT_EPHEMERAL = (32_768, 60_999)
_handed_out: set[int] = set()  # never the same port twice from one process


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low, high = (int(value) for value in ports.read().split())
        return low, high
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL


def _bindable(port: int, host: str) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, outside the ephemeral range when the machine leaves room."""
    low, high = ephemeral_range()
    outside = [(LOWEST, low - 1), (high + 1, 65_535)]
    ranges = [(start, end) for start, end in outside if end >= start]
    for _ in range(200):
        if not ranges:
            break
        start, end = random.choice(ranges)
        port = random.randint(start, end)
        if port not in _handed_out and _bindable(port, host):
            _handed_out.add(port)
            return port
    with socket.socket() as probe:  # no room outside the range: fall back to the kernel's pick
        probe.bind((host, 0))
        return probe.getsockname()[1]
