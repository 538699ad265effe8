"""The store side of runs, against the real test database: publishing is idempotent, pruning follows
the retention policy, and failure finalization applies the lifecycle rules (with the ZDR purge)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import runs
from store.db import make_sync_engine
from store.publish import prune_versions, publish, stage_fit
from store.tables import Model, Namespace, Operation, Sample, Trait, Version, VersionTag
from workflows.ids import new_run_id


def _model(session: Session, namespace: str, name: str, **fields) -> Model:
    if session.get(Namespace, namespace) is None:
        session.add(Namespace(name=namespace))
    model = Model(handle=f"{namespace}.{name}", namespace=namespace, name=name, **fields)
    session.add(model)
    session.flush()
    trait = Trait(model_id=model.id, key="warmth", name="Warmth")
    session.add(trait)
    session.flush()
    session.add_all([Sample(model_id=model.id, trait_id=trait.id, text=f"text {n}", quality=n % 2)
                     for n in range(4)])
    session.flush()
    return model


def _claimed(session: Session, model: Model, kind: str, from_states=("draft", "failed")) -> str:
    run_id = new_run_id()
    runs.claim(session, model.id, from_states, run_id, kind, None, {})
    session.refresh(model)
    return run_id


def test_publish_twice_stores_one_version_and_readies_the_model(database_url, namespace):
    engine = make_sync_engine(database_url)
    with Session(engine) as session, session.begin():
        model = _model(session, namespace, "pub")
        run_id = _claimed(session, model, "train")
        stage_fit(session, run_id, model.id, '{"format": 1}', "a" * 64, {"traits": {}}, 4, 99)
        first = publish(session, run_id)
        again = publish(session, run_id)  # a retried activity after its commit
        assert (first.version_id, first.version_no) == (again.version_id, again.version_no) == (first.version_id, 1)
        session.refresh(model)
        assert model.state == "ready" and model.active_version_id == first.version_id
        op = session.scalar(select(Operation).where(Operation.run_id == run_id))
        assert op.status == "succeeded" and op.version_id == first.version_id and op.finished_at is not None
        count = session.scalar(select(func.count(Version.id)).where(Version.model_id == model.id))
        assert count == 1
    engine.dispose()


def test_prune_keeps_tagged_active_newest_and_first_of_month(database_url, namespace):
    engine = make_sync_engine(database_url)
    with Session(engine) as session, session.begin():
        model = _model(session, namespace, "prune",
                       version_retention_policy={"keep_unnamed": 2, "keep_first_of_month": True})
        base = datetime(2026, 3, 10, tzinfo=timezone.utc)
        versions = []
        for n in range(1, 8):  # v1 in February, v2..v7 in March
            created = base - timedelta(days=30) if n == 1 else base + timedelta(hours=n)
            version = Version(model_id=model.id, version_no=n, triggered_by="train", run_id=new_run_id(),
                              param_hash="x" * 64, sample_count=1, metrics={}, snapshot="{}", created_at=created)
            session.add(version)
            session.flush()
            versions.append(version)
        session.add(VersionTag(model_id=model.id, tag="stable", version_id=versions[2].id))  # v3
        model.active_version_id = versions[3].id  # v4
        session.flush()
        prune_versions(session, model)
        left = sorted(session.scalars(select(Version.version_no).where(Version.model_id == model.id)))
        # v1 first of February, v2 first of March, v3 tagged, v4 active, v6 v7 newest untagged.
        assert left == [1, 2, 3, 4, 6, 7]
    engine.dispose()


def test_failure_rules_and_zdr_purge(database_url, namespace):
    engine = make_sync_engine(database_url)
    with Session(engine) as session, session.begin():
        first = _model(session, namespace, "first", zero_data_retention=True)
        run_id = _claimed(session, first, "train")
        assert runs.fail_run(session, run_id, "insufficient_samples", "not enough")
        assert not runs.fail_run(session, run_id, "terminated", "again")  # already closed: no change
        session.refresh(first)
        assert first.state == "failed"
        assert session.scalar(select(func.count(Sample.id)).where(Sample.model_id == first.id)) == 0

        draft = _model(session, namespace, "draft")
        run_id = _claimed(session, draft, "discover", ("draft",))
        assert runs.fail_run(session, run_id, "cancelled", "stopped", status="cancelled")
        session.refresh(draft)
        assert draft.state == "draft"
        op = session.scalar(select(Operation).where(Operation.run_id == run_id))
        assert op.status == "cancelled" and op.error == {"code": "cancelled", "message": "stopped"}
        assert session.scalar(select(func.count(Sample.id)).where(Sample.model_id == draft.id)) == 4
    engine.dispose()
