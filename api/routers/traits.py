"""Trait routes: list, batch upsert, read one, patch one, delete one (SPEC §1.7).

Decisions where the spec is silent:
- Keys, given or derived from the name, follow `domain.traits`. A name from which no key can be
  derived (say, only punctuation or only non-Latin script) needs an explicit `key` → 422 `validation_error`.
- Two entries of one batch with the same (given or derived) key → 422 `validation_error`, nothing written.
- Upserting an existing key replaces its authored fields (name, description, labels, aggregation);
  discovery results on that trait (kind, discrimination, axis) are kept.
- `{key}` in the path matches a key first, then a name (the oldest trait with that name).
- TraitDetail also carries `description` and `aggregation`.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import KeyDep, SessionDep
from api.errors import not_found, validation_error
from api.lookup import load_model, load_model_for_write
from api.routers.models import begin_edit
from api.schemas.models import DeleteResponse
from api.schemas.traits import TraitDetail, TraitsRequest, TraitsResponse, UpdateTraitRequest
from api.views import trait_detail, trait_details
from domain.traits import derive_key
from store import catalog

router = APIRouter(tags=["traits"])

def batch_fields(body: TraitsRequest) -> list[catalog.TraitFields]:
    """The batch with every key settled; 422 if a key cannot be derived or appears twice."""
    fields, underivable, seen, duplicates = [], [], set(), set()
    for index, item in enumerate(body.traits):
        key = item.key or derive_key(item.name)
        if not key:
            underivable.append(index)
            continue
        if key in seen:
            duplicates.add(key)
        seen.add(key)
        fields.append(catalog.TraitFields(
            key=key, name=item.name, description=item.description, positive_label=item.positive_label,
            negative_label=item.negative_label, aggregation=item.aggregation,
        ))
    if underivable:
        raise validation_error("No key can be made from these trait names; give each one a `key`.",
                               {"indexes": underivable})
    if duplicates:
        raise validation_error("The same trait key appears more than once in the batch.",
                               {"duplicate_keys": sorted(duplicates)})
    return fields


@router.get("/models/{handle}/traits", response_model=TraitsResponse, summary="Every trait of a model")
async def list_traits(handle: str, principal: KeyDep, session: SessionDep) -> dict:
    model = await load_model(session, principal, handle)
    return {"traits": await trait_details(session, model.id)}


@router.post("/models/{handle}/traits", response_model=TraitsResponse,
             summary="Add traits, or replace the ones whose key already exists")
async def upsert_traits(handle: str, body: TraitsRequest, principal: KeyDep, session: SessionDep) -> dict:
    model = await load_model_for_write(session, principal, handle)
    await begin_edit(session, model, draft_only=True)
    fields = batch_fields(body)
    await catalog.upsert_traits(session, model.id, fields)
    await session.commit()
    return {"traits": await trait_details(session, model.id)}


@router.get("/models/{handle}/traits/{key}", response_model=TraitDetail, summary="One trait, by key or name")
async def get_trait(handle: str, key: str, principal: KeyDep, session: SessionDep) -> dict:
    model = await load_model(session, principal, handle)
    trait = await catalog.find_trait(session, model.id, key)
    if trait is None:
        raise not_found("trait")
    counts = await catalog.sample_counts(session, model.id)
    return trait_detail(trait, counts.get(trait.id))


@router.patch("/models/{handle}/traits/{key}", response_model=TraitsResponse,
              summary="Edit one trait's name, description, labels or aggregation")
async def update_trait(handle: str, key: str, body: UpdateTraitRequest, principal: KeyDep,
                       session: SessionDep) -> dict:
    model = await load_model_for_write(session, principal, handle)
    await begin_edit(session, model, draft_only=True)
    trait = await catalog.find_trait(session, model.id, key)
    if trait is None:
        raise not_found("trait")
    changes = {name: value for name, value in body.model_dump(exclude_unset=True).items() if value is not None}
    await catalog.update_trait(session, trait, changes)
    await session.commit()
    return {"traits": await trait_details(session, model.id)}


@router.delete("/models/{handle}/traits/{key}", response_model=DeleteResponse,
               summary="Remove a trait together with its samples")
async def delete_trait(handle: str, key: str, principal: KeyDep, session: SessionDep) -> dict:
    model = await load_model_for_write(session, principal, handle)
    await begin_edit(session, model, draft_only=True)
    trait = await catalog.find_trait(session, model.id, key)
    if trait is None:
        raise not_found("trait")
    await catalog.delete_trait(session, trait)
    await session.commit()
    return {"handle": model.handle, "deleted": True}
