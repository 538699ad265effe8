"""Reading and scoring tools (SPEC §8): each one is the REST call of the same name."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from api.mcp.arguments import BatchItemArgument, CursorArg, FormatArg, Handle, LimitArg, TraitFilterArg
from api.mcp.bridge import Relay, model_path, path_segment

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# Scoring never changes the model unless feedback is given; extract reaches out to the web.
SCORING = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)


def _accept(fmt: str) -> str:
    return "text/plain" if fmt == "text" else "application/json"


def register(server: MCPServer, relay: Relay) -> None:
    @server.tool(annotations=READ_ONLY, description=(
        "List the models this key can read, ordered by handle, one page at a time. Without `namespace` "
        "the public catalog is listed. Archived models show up only when state='archived' is asked for."))
    async def list_models(
        ctx: Context,
        namespace: Annotated[str | None, Field(description="Only models in this namespace.")] = None,
        state: Annotated[str | None, Field(
            description="Only models in this state: draft, busy, ready, failed or archived.")] = None,
        kind: Annotated[str | None, Field(description="Only models of this kind (Assay builds `scoring`).")] = None,
        limit: LimitArg = None,
        cursor: CursorArg = None,
    ) -> CallToolResult:
        return await relay(ctx, "GET", "/v1/models", params={
            "namespace": namespace, "state": state, "kind": kind, "limit": limit, "cursor": cursor})

    @server.tool(annotations=READ_ONLY, description=(
        "One model's details: state, traits, serving version and its tags, and the newest asynchronous "
        "run with live progress while it is open."))
    async def get_model(ctx: Context, handle: Handle) -> CallToolResult:
        return await relay(ctx, "GET", model_path(handle))

    @server.tool(annotations=READ_ONLY, description=(
        "The model's traits with their pole labels and how many positive and negative samples each has."))
    async def list_traits(ctx: Context, handle: Handle) -> CallToolResult:
        return await relay(ctx, "GET", model_path(handle, "traits"))

    @server.tool(annotations=READ_ONLY, description=(
        "The model's labelled samples, oldest first, one page at a time. Only keys that own the model's "
        "namespace may list them."))
    async def list_samples(
        ctx: Context,
        handle: Handle,
        trait: Annotated[str | None, Field(description="Only samples of this trait (key or name).")] = None,
        limit: LimitArg = None,
        cursor: CursorArg = None,
    ) -> CallToolResult:
        return await relay(ctx, "GET", model_path(handle, "samples"),
                           params={"trait": trait, "limit": limit, "cursor": cursor})

    @server.tool(annotations=READ_ONLY, description=(
        "The model's trained versions, newest first, with their metrics and tags. Owner keys only."))
    async def list_versions(ctx: Context, handle: Handle, limit: LimitArg = None,
                            cursor: CursorArg = None) -> CallToolResult:
        return await relay(ctx, "GET", model_path(handle, "versions"), params={"limit": limit, "cursor": cursor})

    @server.tool(annotations=READ_ONLY, description=(
        "One trained version, by `vN` or by tag, including its snapshot (the snapshot is left out for "
        "scoring-scope keys). Owner keys only."))
    async def get_version(
        ctx: Context,
        handle: Handle,
        version: Annotated[str, Field(description="`v3` for version 3, or a tag name such as `stable`.")],
    ) -> CallToolResult:
        return await relay(ctx, "GET", model_path(handle, "versions", path_segment(version, field="version")))

    @server.tool(annotations=SCORING, description=(
        "Score a text against a ready model: a 0-100 score per trait with tier, band, confidence and "
        "headroom, and a composite. `content` may be a single http(s) URL, whose readable text is "
        "fetched and scored. `handle@vN` or `handle@tag` scores against that version. `feedback` "
        "stores the text as new labelled samples (owner authoring keys only)."))
    async def score(
        ctx: Context,
        handle: Handle,
        content: Annotated[str, Field(description="The text to score, or one http(s) URL.")],
        traits: TraitFilterArg = None,
        feedback: Annotated[dict[str, float | str] | None, Field(
            description="Trait (key or name) to the right label for this text: a number from 0 to 1 or "
                        "a label word such as good or poor.")] = None,
        format: FormatArg = "json",
    ) -> CallToolResult:
        body: dict[str, Any] = {"content": content, "traits": traits, "feedback": feedback}
        return await relay(ctx, "POST", model_path(handle, "score"),
                           body={k: v for k, v in body.items() if v is not None}, accept=_accept(format))

    @server.tool(annotations=SCORING, description=(
        "Score up to 256 texts (or URLs) with one model version in one call. Each item's `result` is the "
        "card `score` gives for it; an item that cannot be scored (a URL that fails to fetch, blank text) "
        "carries its own `error` and the others are still scored. No feedback."))
    async def score_batch(
        ctx: Context,
        handle: Handle,
        items: Annotated[list[BatchItemArgument], Field(
            description="1 to 256 items; results come back in this order.")],
        traits: TraitFilterArg = None,
    ) -> CallToolResult:
        body: dict[str, Any] = {"items": [item.model_dump(exclude_none=True) for item in items], "traits": traits}
        return await relay(ctx, "POST", model_path(handle, "score", "batch"),
                           body={k: v for k, v in body.items() if v is not None})

    @server.tool(annotations=SCORING, description=(
        "Score two texts (or URLs) with the same model and report b minus a, overall and per trait."))
    async def compare(
        ctx: Context,
        handle: Handle,
        a: Annotated[str, Field(description="The first text, or one http(s) URL.")],
        b: Annotated[str, Field(description="The second text, or one http(s) URL.")],
        traits: TraitFilterArg = None,
        format: FormatArg = "json",
    ) -> CallToolResult:
        body: dict[str, Any] = {"a": a, "b": b, "traits": traits}
        return await relay(ctx, "POST", model_path(handle, "compare"),
                           body={k: v for k, v in body.items() if v is not None}, accept=_accept(format))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True), description=(
        "Fetch a public web page and return its readable text (what scoring would use for that URL)."))
    async def extract(
        ctx: Context,
        url: Annotated[str, Field(description="An http or https address.")],
    ) -> CallToolResult:
        return await relay(ctx, "POST", "/v1/extract", body={"url": url})
