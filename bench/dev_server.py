"""A throwaway Temporal dev server for one benchmark run (in memory, on a free port, headless)."""

from __future__ import annotations

import asyncio
import signal
import subprocess

from temporalio.client import Client

from settings import temporal_cli_path
from cli.ports import free_port
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


async def start() -> tuple[subprocess.Popen, str, Client]:
    """(server process, address, connected client); the process is stopped if it never answers."""
    address = f"127.0.0.1:{free_port()}"
    attributes = [flag for key in SEARCH_ATTRIBUTES for flag in ("--search-attribute", f"{key.name}=Keyword")]
    server = subprocess.Popen(
        [temporal_cli_path(), "server", "start-dev", "--ip", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
         "--headless", "--log-level", "error", *attributes],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            return server, address, await Client.connect(address)
        except Exception:  # not listening yet
            await asyncio.sleep(0.3)
    stop(server)
    raise RuntimeError("Temporal dev server did not start")


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    server.wait(30)
