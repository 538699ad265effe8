"""Fixtures for the security tests: a "world" of real models in a namespace of its own.

A world is an owner key plus a draft (traits and samples, never trained, with one cancelled run) and
a ready model whose active version was produced by the real engine. Training happens once per session; later worlds get
a copy of that snapshot as their version (it is self-contained, so scoring against it is real)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from api.lookup_cache import forget_all
from contracts.states import ModelState, OperationKind, RunStatus
from store import runs
from store.tables import Model, Version, VersionTag
from workflows.ids import new_run_id
from tests.api.trained import create_model, train_now


@dataclass
class World:
    namespace: str
    owner: dict
    draft: str
    ready: str
    sample_ids: list[int] = field(default_factory=list)
    trait_keys: tuple[str, ...] = ("clarity", "warmth")
    tag: str = "stable"
    run_id: str = ""  # a cancelled discovery run of the draft (cancelling it again answers 202)
    job_ids: list[str] = field(default_factory=list)  # score jobs, made by the tests that need them


@pytest.fixture(scope="session")
async def trained_source(http, make_key, sessionmaker_) -> str:
    """One model trained by the real engine; its version is the template for every world."""
    namespace = f"src{uuid.uuid4().hex[:10]}"
    owner = await make_key(namespace)
    handle = f"{namespace}.source"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    return handle


async def copy_active_version(sessionmaker_, source: str, target: str, tag: str) -> None:
    """Gives ``target`` the source's active version as its v1, tagged ``tag``, and makes it ready."""
    async with sessionmaker_() as session:
        source_model = await session.scalar(select(Model).where(Model.handle == source))
        original = await session.get(Version, source_model.active_version_id)
        model = await session.scalar(select(Model).where(Model.handle == target))
        version = Version(model_id=model.id, version_no=1, triggered_by="train",
                          run_id=f"run_copy_{uuid.uuid4().hex[:20]}", param_hash=original.param_hash,
                          sample_count=original.sample_count, max_sample_id=None,
                          metrics=original.metrics, snapshot=original.snapshot)
        session.add(version)
        await session.flush()
        session.add(VersionTag(model_id=model.id, tag=tag, version_id=version.id))
        model.active_version_id = version.id
        model.state = "ready"
        await session.commit()
    forget_all()  # written behind the API's back: its processes' lookup caches must not keep the draft row


async def cancelled_run(sessionmaker_, handle: str) -> str:
    """A discovery run of the draft, claimed and cancelled through the store's transitions."""
    run_id = new_run_id()
    async with sessionmaker_() as session:
        model_id = await session.scalar(select(Model.id).where(Model.handle == handle))
        await session.run_sync(lambda s: runs.claim(s, model_id, [ModelState.DRAFT], run_id, OperationKind.DISCOVER,
                                                    None, {"effort": "low"}))
        await session.run_sync(lambda s: runs.fail_run(s, run_id, "cancelled", "The run was cancelled.",
                                                       RunStatus.CANCELLED))
        await session.commit()
    return run_id


@pytest.fixture(scope="session")
def make_world(http, make_key, sessionmaker_, trained_source):
    async def _make(namespace: str | None = None) -> World:
        namespace = namespace or f"w{uuid.uuid4().hex[:12]}"
        owner = await make_key(namespace)
        suffix = uuid.uuid4().hex[:8]  # a shared namespace (the public one) holds many worlds
        world = World(namespace=namespace, owner=owner, draft=f"{namespace}.draft-{suffix}",
                      ready=f"{namespace}.ready-{suffix}")
        await create_model(http, owner["headers"], world.draft)
        await create_model(http, owner["headers"], world.ready)
        await copy_active_version(sessionmaker_, trained_source, world.ready, world.tag)
        response = await http.get(f"/v1/models/{world.draft}/samples", params={"limit": 500},
                                  headers=owner["headers"])
        world.sample_ids = [s["id"] for s in response.json()["items"]]
        world.run_id = await cancelled_run(sessionmaker_, world.draft)
        return world

    return _make
