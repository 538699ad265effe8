"""Python client for the Assay `/v1` API (sync `AssayClient`, asyncio `AsyncAssayClient`), plus
`push_definition` to bring a draft in line with an authored model."""

from client.aio import AsyncAssayClient
from client.core import UNSET
from client.errors import AssayError
from client.push import PushResult, push_definition
from client.sync import AssayClient

__all__ = ["UNSET", "AssayClient", "AssayError", "AsyncAssayClient", "PushResult", "push_definition"]
