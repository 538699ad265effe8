"""Bring a model on the server in line with a declared definition (what `assay build` and the catalog
seeding need before they train).

Decisions where the spec is silent:
- Only a draft (or a model that does not exist yet) is edited: traits and samples are draft-only on
  the server. Any other state is reported back untouched, so the caller decides (train is a no-op on a
  ready model; a failed one can simply be retrained).
- Re-running converges instead of duplicating: traits are upserted by key and traits the definition no
  longer has are deleted; a sample is identified by (trait, text, quality, source_url), missing ones are
  added in batches, extra ones deleted. So a second push of an unchanged definition writes nothing.
- Model metadata (description, readme…) of an existing draft is patched to the definition's values.
- Sample batches fit the body limit the server advertises (`X-Max-Body-Bytes`, learnt from the first
  answer); a server that does not advertise one gets the definition's default batch size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from client.errors import AssayError
from client.sync import AssayClient


class ModelDefinition(Protocol):
    """What `cli.authoring.ModelSpec` provides."""

    traits: list[dict[str, Any]]
    samples: list[dict[str, Any]]

    def model_fields(self) -> dict[str, Any]: ...

    def sample_batches(self, *, max_bytes: int | None = None) -> Iterator[list[dict[str, Any]]]: ...


@dataclass(frozen=True)
class PushResult:
    created: bool
    state: str
    samples_added: int = 0
    samples_removed: int = 0
    traits_removed: int = 0

    @property
    def changed(self) -> bool:
        return self.created or bool(self.samples_added or self.samples_removed or self.traits_removed)


def _identity(sample: dict[str, Any]) -> tuple:
    return sample["trait"], sample["text"], float(sample["quality"]), sample.get("source_url")


def push_definition(client: AssayClient, handle: str, definition: ModelDefinition) -> PushResult:
    try:
        model = client.get_model(handle)
    except AssayError as error:
        if error.code != "not_found":
            raise
        client.create_model(handle, **definition.model_fields())
        client.upsert_traits(handle, definition.traits)
        added = 0
        for batch in definition.sample_batches(max_bytes=client.max_body_bytes):
            added += len(client.add_samples(handle, batch)["ids"])
        return PushResult(created=True, state="draft", samples_added=added)
    if model["state"] != "draft":
        return PushResult(created=False, state=model["state"])

    client.update_model(handle, **definition.model_fields())
    wanted_keys = {trait["key"] for trait in definition.traits}
    stale_traits = [t["key"] for t in client.list_traits(handle)["traits"] if t["key"] not in wanted_keys]
    for key in stale_traits:  # deleting a trait deletes its samples too
        client.delete_trait(handle, key)
    client.upsert_traits(handle, definition.traits)

    # Multiset difference: a text labelled twice the same way is two samples on both sides.
    missing = Counter(_identity(sample) for sample in definition.samples)
    extra_ids: list[int] = []
    for record in client.iter_samples(handle, page_size=500):
        identity = _identity(record)
        if missing[identity] > 0:
            missing[identity] -= 1
        else:
            extra_ids.append(record["id"])
    for sample_id in extra_ids:
        client.delete_sample(handle, sample_id)

    added = 0
    for batch in definition.sample_batches(max_bytes=client.max_body_bytes):  # a subset of a batch stays within the batch limits
        to_add = []
        for sample in batch:
            if missing[_identity(sample)] > 0:
                missing[_identity(sample)] -= 1
                to_add.append(sample)
        if to_add:
            added += len(client.add_samples(handle, to_add)["ids"])
    return PushResult(created=False, state="draft", samples_added=added, samples_removed=len(extra_ids),
                      traits_removed=len(stale_traits))
