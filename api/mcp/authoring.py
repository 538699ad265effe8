"""Authoring tools (SPEC §8): create and edit a model's definition. Trait and sample edits work
only while the model is a draft; REST enforces that and the other rules."""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from api.mcp.arguments import Aggregation, Handle, SampleArgument, TraitArgument, body_of
from api.mcp.bridge import Relay, model_path, path_segment, without_nones

WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
REMOVES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

# PATCH fields whose null means "remove"; a tool argument left out cannot say that, so `clear` does.
ClearableField = Literal["additional_terms", "upstream_sources", "readme_markdown", "version_retention_policy"]

Description = Annotated[str | None, Field(description="Free text shown on the model card.")]
MaxDepth = Annotated[int | None, Field(
    description="Long content: 0 scores only the first window, 1 (default) splits it into windows.")]
AdditionalTerms = Annotated[str | None, Field(description="Usage terms that travel with the model.")]
UpstreamSources = Annotated[list[dict[str, Any]] | None, Field(
    description="Where the training material came from, as free-form objects.")]
Readme = Annotated[str | None, Field(description="Markdown notes included in the model card.")]
ZeroDataRetention = Annotated[bool | None, Field(
    description="When true, samples are dropped after every training run and scored text is never stored.")]
RetrainGate = Annotated[bool | None, Field(
    description="When true (the default), a background retrain is activated only if it passes the quality gate "
                "on held-out feedback.")]
TraitKey = Annotated[str, Field(description="The trait's key or its name.")]


def register(server: MCPServer, relay: Relay) -> None:
    @server.tool(annotations=WRITES, description=(
        "Create an empty draft model. The key must have the authoring scope and own the handle's "
        "namespace. Next: add_traits, add_samples, then train."))
    async def create_model(
        ctx: Context,
        handle: Handle,
        description: Description = None,
        scoring_method: Annotated[str | None, Field(
            description="Fitting method; `balanced_cosine` (the default) is the only one.")] = None,
        max_depth: MaxDepth = None,
        kind: Annotated[str | None, Field(description="Model kind; only `scoring` (the default) is built.")] = None,
        additional_terms: AdditionalTerms = None,
        upstream_sources: UpstreamSources = None,
        readme_markdown: Readme = None,
        zero_data_retention: ZeroDataRetention = None,
        retrain_gate: RetrainGate = None,
    ) -> CallToolResult:
        body = without_nones({
            "handle": handle, "description": description, "scoring_method": scoring_method,
            "max_depth": max_depth, "kind": kind, "additional_terms": additional_terms,
            "upstream_sources": upstream_sources, "readme_markdown": readme_markdown,
            "zero_data_retention": zero_data_retention, "retrain_gate": retrain_gate,
        })
        return await relay(ctx, "POST", "/v1/models", body=body)

    @server.tool(annotations=WRITES, description=(
        "Change a model's metadata. Arguments left out keep their value; list fields in `clear` to "
        "remove them (for version_retention_policy: go back to the built-in pruning rule). Turning "
        "zero_data_retention on deletes the stored samples."))
    async def update_model(
        ctx: Context,
        handle: Handle,
        description: Description = None,
        scoring_method: Annotated[str | None, Field(description="Only `balanced_cosine` exists.")] = None,
        max_depth: MaxDepth = None,
        additional_terms: AdditionalTerms = None,
        upstream_sources: UpstreamSources = None,
        readme_markdown: Readme = None,
        zero_data_retention: ZeroDataRetention = None,
        retrain_gate: RetrainGate = None,
        version_retention_policy: Annotated[dict[str, Any] | None, Field(
            description="Which old versions survive pruning: {keep_unnamed: int, keep_first_of_month: bool}."
        )] = None,
        clear: Annotated[list[ClearableField] | None, Field(
            description="Fields to set to null.")] = None,
    ) -> CallToolResult:
        body: dict[str, Any] = without_nones({
            "description": description, "scoring_method": scoring_method, "max_depth": max_depth,
            "additional_terms": additional_terms, "upstream_sources": upstream_sources,
            "readme_markdown": readme_markdown, "zero_data_retention": zero_data_retention,
            "version_retention_policy": version_retention_policy, "retrain_gate": retrain_gate,
        })
        for name in clear or []:
            body[name] = None
        return await relay(ctx, "PATCH", model_path(handle), body=body)

    @server.tool(annotations=REMOVES, description=(
        "Archive a model: it stops serving, its samples and versions are kept, and the handle cannot be "
        "reused. Deleting an archived model again succeeds."))
    async def delete_model(ctx: Context, handle: Handle) -> CallToolResult:
        return await relay(ctx, "DELETE", model_path(handle))

    @server.tool(annotations=WRITES, description=(
        "Add traits to a draft model, or replace the ones whose key already exists. Returns every trait "
        "of the model."))
    async def add_traits(
        ctx: Context,
        handle: Handle,
        traits: Annotated[list[TraitArgument], Field(description="At least one trait.")],
    ) -> CallToolResult:
        return await relay(ctx, "POST", model_path(handle, "traits"),
                           body={"traits": [body_of(trait) for trait in traits]})

    @server.tool(annotations=WRITES, description=(
        "Edit one trait of a draft model; arguments left out keep their value. Returns every trait."))
    async def update_trait(
        ctx: Context,
        handle: Handle,
        key: TraitKey,
        name: Annotated[str | None, Field(description="New human name.")] = None,
        description: Annotated[str | None, Field(description="New description.")] = None,
        positive_label: Annotated[str | None, Field(description="New word for the high pole.")] = None,
        negative_label: Annotated[str | None, Field(description="New word for the low pole.")] = None,
        aggregation: Annotated[Aggregation | None, Field(
            description="How window scores of long content combine.")] = None,
    ) -> CallToolResult:
        body = without_nones({"name": name, "description": description, "positive_label": positive_label,
                              "negative_label": negative_label, "aggregation": aggregation})
        return await relay(ctx, "PATCH", model_path(handle, "traits", path_segment(key, field="key")), body=body)

    @server.tool(annotations=REMOVES, description="Remove a trait, and its samples, from a draft model.")
    async def delete_trait(ctx: Context, handle: Handle, key: TraitKey) -> CallToolResult:
        return await relay(ctx, "DELETE", model_path(handle, "traits", path_segment(key, field="key")))

    @server.tool(annotations=WRITES, description=(
        "Append 1 to 500 labelled examples to a draft model. All are stored or none: one unknown trait "
        "or bad label rejects the whole batch. Returns the new sample ids in input order."))
    async def add_samples(
        ctx: Context,
        handle: Handle,
        samples: Annotated[list[SampleArgument], Field(description="1 to 500 samples.")],
    ) -> CallToolResult:
        return await relay(ctx, "POST", model_path(handle, "samples"),
                           body={"samples": [body_of(sample) for sample in samples]})

    @server.tool(annotations=REMOVES, description="Remove one sample from a draft model.")
    async def delete_sample(
        ctx: Context,
        handle: Handle,
        sample_id: Annotated[int, Field(description="The sample's id, as returned by add_samples.")],
    ) -> CallToolResult:
        return await relay(ctx, "DELETE", model_path(handle, "samples", str(sample_id)))
