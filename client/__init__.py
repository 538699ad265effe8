"""Python client for the Assay `/v1` API (sync `AssayClient`, asyncio `AsyncAssayClient`)."""

from client.aio import AsyncAssayClient
from client.core import UNSET
from client.errors import AssayError
from client.sync import AssayClient

__all__ = ["UNSET", "AssayClient", "AssayError", "AsyncAssayClient"]
