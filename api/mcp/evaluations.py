"""Evaluation tools (SPEC §9.5): start an evaluation of labelled items against one or two versions,
then read its state and report. Each makes the REST call, so rules and errors are REST's."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from api.mcp.bridge import Relay, model_path, path_segment
from api.mcp.arguments import Handle

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
STARTS_EVALUATION = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                    open_world_hint=False)


def register(server: MCPServer, relay: Relay) -> None:
    @server.tool(annotations=STARTS_EVALUATION, description=(
        "Evaluate a model on labelled items in the background: each item is `content` plus one field per "
        "trait (key or name) holding a number in [0, 1] or a label word. Scores them against 1 or 2 versions "
        "(default: the active one). Returns the evaluation id at once; follow it with get_evaluation."))
    async def start_evaluation(
        ctx: Context,
        handle: Handle,
        items: Annotated[list[dict[str, Any]], Field(description='Labelled items, e.g. `{"content": "…", "tone": "good"}`; '
                                                                "`id` is optional.")],
        versions: Annotated[list[str] | None, Field(description="1 or 2 versions (`vN` or a tag) to evaluate "
                                                               "and compare; default: the active one.")] = None,
    ) -> CallToolResult:
        body: dict[str, Any] = {"items": items, **({"versions": versions} if versions is not None else {})}
        return await relay(ctx, "POST", model_path(handle, "evaluations"), body=body)

    @server.tool(annotations=READ_ONLY, description=(
        "An evaluation: state, progress, and once it succeeded per version and trait n, AUC with its 95 % "
        "interval, Spearman's rho, break shares and calibration; with two versions the paired ΔAUC, SE and p."))
    async def get_evaluation(ctx: Context, evaluation_id: Annotated[str, Field(
            description="The id start_evaluation returned (`eval_…`).")]) -> CallToolResult:
        return await relay(ctx, "GET", "/v1/evaluations/" + path_segment(evaluation_id, field="evaluation_id"))
