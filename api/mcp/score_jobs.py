"""Score-job tools (SPEC §9.2): start a background job over many texts, read its state, page its
results, cancel it. Each makes the REST call, so rules and errors are REST's."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from api.mcp.arguments import CursorArg, Handle, LimitArg, TraitFilterArg
from api.mcp.bridge import Relay, model_path, path_segment

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
STARTS_JOB = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                             open_world_hint=False)
JobId = Annotated[str, Field(description="The job id that start_score_job returned (`job_…`).")]


def _job_path(job_id: str, *rest: str) -> str:
    return "/".join(["/v1/score-jobs", path_segment(job_id, field="job_id"), *rest])


def register(server: MCPServer, relay: Relay) -> None:
    @server.tool(annotations=STARTS_JOB, description=(
        "Score many texts in the background against one version of a model, pinned now (`handle@vN` "
        "works). Returns the job id at once; follow it with get_score_job, then read score_job_results."))
    async def start_score_job(
        ctx: Context,
        handle: Handle,
        items: Annotated[list[dict[str, Any]], Field(description="`{id?, content}` objects; `id` defaults to "
                                                                "the item's index. Up to 1,000,000.")],
        traits: TraitFilterArg = None,
    ) -> CallToolResult:
        body: dict[str, Any] = {"items": items, **({"traits": traits} if traits is not None else {})}
        return await relay(ctx, "POST", model_path(handle, "score-jobs"), body=body)

    @server.tool(annotations=READ_ONLY, description=(
        "A score job: state (queued, running, succeeded, failed, cancelled), live progress with items per "
        "second and ETA, counts, and once it succeeded the per-trait summary."))
    async def get_score_job(ctx: Context, job_id: JobId) -> CallToolResult:
        return await relay(ctx, "GET", _job_path(job_id))

    @server.tool(annotations=READ_ONLY, description=(
        "A page of a finished job's results in input order: `{id, result}` (the score card) or `{id, error}`."))
    async def score_job_results(ctx: Context, job_id: JobId, limit: LimitArg = None,
                                cursor: CursorArg = None) -> CallToolResult:
        return await relay(ctx, "GET", _job_path(job_id, "results"), params={"limit": limit, "cursor": cursor})

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                                             open_world_hint=False),
                 description="Cancel a queued or running score job; what was scored stays readable.")
    async def cancel_score_job(ctx: Context, job_id: JobId) -> CallToolResult:
        return await relay(ctx, "POST", _job_path(job_id, "cancel"))
