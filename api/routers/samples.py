"""Sample routes: append a batch, list (owner-only), delete one (SPEC §1.8).

Decisions where the spec is silent:
- A batch is checked whole before anything is written. Unknown traits win over bad labels: if any
  `trait` is unknown the answer is 422 `unknown_trait` with `details.indexes` (0-based positions) and
  `details.traits` (the unknown values); otherwise bad qualities give 422 `invalid_label` with
  `details.indexes`.
- `content_sha256` is stored lowercased; `text` must contain something besides whitespace.
- Listing by an unknown `trait` filter → 422 `unknown_trait` (the owner may see every trait anyway).
- Listing order is ascending sample id; the cursor is the last id shown, so samples appended while
  a client pages appear at the end and nothing is skipped or repeated.
- Deleting a sample id that does not belong to this model → 404 `not_found`.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from api.deps import KeyDep, SessionDep
from api.errors import ApiError, not_found, validation_error
from api.labels import invalid_label_error
from api.lookup import load_model, load_model_for_write
from api.pagination import decode_cursor, page
from api.routers.models import begin_edit
from api.schemas.models import DeleteResponse
from api.schemas.samples import AddSamplesResponse, SamplePage, SamplesRequest
from api.views import sample_record
from domain.labels import InvalidLabel, parse_quality
from store import catalog

router = APIRouter(tags=["samples"])

MAX_ROW_ID = 2**63 - 1  # ids beyond BIGINT cannot exist; reject them before they reach SQL


def unknown_trait_error(indexes: list[int], values: list[str]) -> ApiError:
    return ApiError(422, "unknown_trait", "Some samples name a trait this model does not have.",
                    {"indexes": indexes, "traits": sorted(set(values))})


@router.post("/models/{handle}/samples", response_model=AddSamplesResponse,
             summary="Append labelled examples, all or none")
async def add_samples(handle: str, body: SamplesRequest, principal: KeyDep, session: SessionDep) -> dict:
    model = await load_model_for_write(session, principal, handle)
    await begin_edit(session, model, draft_only=True)
    traits = await catalog.list_traits(session, model.id)
    batch: list[catalog.NewSample] = []
    unknown_indexes, unknown_values, bad_labels = [], [], []
    for index, item in enumerate(body.samples):
        trait = catalog.match_trait(traits, item.trait)
        if trait is None:
            unknown_indexes.append(index)
            unknown_values.append(item.trait[:200])
            continue
        try:
            quality = parse_quality(item.quality, trait)
        except InvalidLabel:
            bad_labels.append(index)
            continue
        batch.append(catalog.NewSample(
            trait_id=trait.id, text=item.text, quality=quality, source_url=item.source_url,
            content_sha256=item.content_sha256.lower() if item.content_sha256 else None,
        ))
    if unknown_indexes:
        raise unknown_trait_error(unknown_indexes, unknown_values)
    if bad_labels:
        raise invalid_label_error({"indexes": bad_labels})
    ids = await catalog.insert_samples(session, model.id, batch)
    await session.commit()
    return {"ids": ids}


@router.get("/models/{handle}/samples", response_model=SamplePage,
            summary="Page through a model's samples (owners only)")
async def list_samples(
    handle: str,
    principal: KeyDep,
    session: SessionDep,
    trait: str | None = Query(None, description="Only samples of this trait, by key or name."),
    limit: int = Query(100, ge=1, le=500, description="Page size, 1 to 500."),
    cursor: str | None = Query(None, description="`next_cursor` from the previous page."),
) -> dict:
    model = await load_model(session, principal, handle)
    principal.require_owner(model.namespace)
    after = decode_cursor(cursor, int)
    if after is not None and not 0 <= after <= MAX_ROW_ID:
        raise validation_error("The cursor is not one this API issued.", {"cursor": cursor})
    trait_id = None
    if trait is not None:
        found = await catalog.find_trait(session, model.id, trait)
        if found is None:
            raise ApiError(422, "unknown_trait", "This model has no trait by that key or name.",
                           {"trait": trait[:200]})
        trait_id = found.id
    rows = await catalog.list_samples(session, model.id, trait_id=trait_id, after_id=after, limit=limit)
    result = page(rows, limit, lambda row: row[0].id)
    result["items"] = [sample_record(sample, key) for sample, key in result["items"]]
    return result


@router.delete("/models/{handle}/samples/{sample_id}", response_model=DeleteResponse,
               summary="Remove one sample from a draft")
async def delete_sample(handle: str, principal: KeyDep, session: SessionDep,
                        sample_id: int = Path(..., ge=1, le=MAX_ROW_ID)) -> dict:
    model = await load_model_for_write(session, principal, handle)
    await begin_edit(session, model, draft_only=True)
    sample = await catalog.get_sample(session, model.id, sample_id)
    if sample is None:
        raise not_found("sample")
    await catalog.delete_sample(session, sample.id)
    await session.commit()
    return {"handle": model.handle, "deleted": True}
