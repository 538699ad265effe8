"""Run tools (SPEC §9.3): list a model's runs, read one with its progress and events, cancel one.
Each is the REST call of the same name, so owner rules and errors are REST's."""

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from api.mcp.arguments import CursorArg, Handle, LimitArg
from api.mcp.bridge import Relay, model_path, path_segment

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# Cancelling stops work that cannot be resumed; asking twice is harmless.
CANCELS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
RunId = Annotated[str, Field(description="A run id `run_<ULID>`, as train, discover_traits and "
                                         "synthesize_samples return it.")]


def _run_path(run_id: str, *rest: str) -> str:
    return "/".join(["/v1/runs", path_segment(run_id, field="run_id"), *rest])


def register(server: MCPServer, relay: Relay) -> None:
    @server.tool(annotations=READ_ONLY, description=(
        "Every run of a model (train, retune, background retrain, discovery, synthesis), newest first, with "
        "its status, effort and the version it stored. Owner keys only."))
    async def list_runs(ctx: Context, handle: Handle, limit: LimitArg = None,
                        cursor: CursorArg = None) -> CallToolResult:
        return await relay(ctx, "GET", model_path(handle, "runs"), params={"limit": limit, "cursor": cursor})

    @server.tool(annotations=READ_ONLY, description=(
        "One run: live progress while it is open, and its timeline of events (queued, started, phases, "
        "retries with their reason, cancellation, end). Owner keys only."))
    async def get_run(ctx: Context, run_id: RunId) -> CallToolResult:
        return await relay(ctx, "GET", _run_path(run_id))

    @server.tool(annotations=CANCELS, description=(
        "Cancel a queued or running run. The model goes back to where it was before the run: a draft stays "
        "a draft, a ready model keeps serving its previous version. A finished run answers run_finished."))
    async def cancel_run(ctx: Context, run_id: RunId) -> CallToolResult:
        return await relay(ctx, "POST", _run_path(run_id, "cancel"))
