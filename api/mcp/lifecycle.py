"""Lifecycle tools (SPEC §8): start asynchronous runs and manage versions. A started run returns
at once with its `run_id`; follow it with get_model (`last_operation`)."""

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from api.mcp.arguments import EffortArg, Handle
from api.mcp.bridge import Relay, model_path, path_segment, without_nones

STARTS_RUN = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                             open_world_hint=False)
REPOINTS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                           open_world_hint=False)
TagName = Annotated[str, Field(description="Tag name: lowercase letters, digits, '.', '_' or '-'; not `vN`.")]


def register(server: MCPServer, relay: Relay) -> None:
    @server.tool(annotations=STARTS_RUN, description=(
        "Train the model. From draft or failed: first training. From ready: a no-op unless "
        "reoptimize_params is true, which re-tunes. Every trait needs at least one positive and one "
        "negative sample. Asking again for a run that is already going answers run_exists."))
    async def train(
        ctx: Context,
        handle: Handle,
        effort: EffortArg = None,
        reoptimize_params: Annotated[bool | None, Field(
            description="On a ready model, search the configuration again (re-tune).")] = None,
    ) -> CallToolResult:
        body = without_nones({"effort": effort, "reoptimize_params": reoptimize_params})
        return await relay(ctx, "POST", model_path(handle, "train"), body=body)

    @server.tool(annotations=STARTS_RUN, description=(
        "Find trait axes in a draft model's samples: a fixed-direction version of every existing trait "
        "plus a few new axes, added as intrinsic traits."))
    async def discover_traits(ctx: Context, handle: Handle, effort: EffortArg = None) -> CallToolResult:
        return await relay(ctx, "POST", model_path(handle, "traits", "discover"),
                           body=without_nones({"effort": effort}))

    @server.tool(annotations=STARTS_RUN, description=(
        "Generate samples for a draft model: `from_traits` writes examples of each pole from the trait "
        "definitions, `diversify` writes variations of existing samples that keep their label."))
    async def synthesize_samples(
        ctx: Context,
        handle: Handle,
        synth_type: Annotated[str | None, Field(
            description="`from_traits` (the default) or `diversify`.")] = None,
        effort: EffortArg = None,
    ) -> CallToolResult:
        return await relay(ctx, "POST", model_path(handle, "samples", "synthesize"),
                           body=without_nones({"synth_type": synth_type, "effort": effort}))

    @server.tool(annotations=REPOINTS, description=(
        "Put a tag on the version that is serving now (moving the tag if it was elsewhere)."))
    async def tag_version(ctx: Context, handle: Handle, name: TagName) -> CallToolResult:
        return await relay(ctx, "POST", model_path(handle, "versions", path_segment(name, field="name")))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False),
                 description="Remove a tag. The version it pointed at stays.")
    async def untag_version(ctx: Context, handle: Handle, name: TagName) -> CallToolResult:
        return await relay(ctx, "DELETE", model_path(handle, "versions", path_segment(name, field="name")))

    @server.tool(annotations=REPOINTS, description=(
        "Serve another stored version (roll back or pin), chosen by exactly one of `version` or `tag`. "
        "This pins the model: background retrains keep storing versions without activating them."))
    async def activate_version(
        ctx: Context,
        handle: Handle,
        version: Annotated[str | None, Field(description="`vN` of the version to serve.")] = None,
        tag: Annotated[str | None, Field(description="Tag of the version to serve.")] = None,
    ) -> CallToolResult:
        return await relay(ctx, "PUT", model_path(handle, "versions", "active"),
                           body=without_nones({"version": version, "tag": tag}))
