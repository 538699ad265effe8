"""The model/run state machine of store/runs.py on the real test database: every transition from
every model state, allowed (→ the new state) or refused (→ the state the model is in, unchanged)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from contracts.states import (
    ARCHIVABLE_STATES,
    DRAFT_ONLY,
    RETUNE_FROM,
    TRAIN_FROM,
    ModelState,
    OperationKind,
    RunStatus,
)
from store import runs
from store.tables import Model, Namespace, Operation, Version
from workflows.ids import new_run_id

STATES = list(ModelState)


def _model(session: Session, namespace: str, state: ModelState, *, with_version: bool = False) -> Model:
    if session.get(Namespace, namespace) is None:
        session.add(Namespace(name=namespace))
    name = f"m{len(session.new)}{new_run_id()[-6:].lower()}"
    model = Model(handle=f"{namespace}.{name}", namespace=namespace, name=name, state=state)
    session.add(model)
    session.flush()
    if with_version:
        version = Version(model_id=model.id, version_no=1, triggered_by="train", run_id=new_run_id(),
                          param_hash="x" * 64, sample_count=1, metrics={}, snapshot="{}")
        session.add(version)
        session.flush()
        model.active_version_id = version.id
        session.flush()
    return model


def _state(session: Session, model: Model) -> str:
    session.refresh(model)
    return model.state


def _claimed(session: Session, model: Model, kind: OperationKind = OperationKind.TRAIN) -> Operation:
    """The model busy for a new queued run (whatever state it was in)."""
    op = runs.claim(session, model.id, [model.state], new_run_id(), kind, None, {})
    assert _state(session, model) == ModelState.BUSY
    return op


@pytest.mark.parametrize("from_states", [TRAIN_FROM, RETUNE_FROM, DRAFT_ONLY], ids=["train", "retune", "draft-op"])
@pytest.mark.parametrize("state", STATES)
def test_claim_moves_an_allowed_state_to_busy_and_reports_any_other(session, namespace, from_states, state):
    model = _model(session, namespace, state)
    run_id = new_run_id()
    if state in from_states:
        op = runs.claim(session, model.id, from_states, run_id, OperationKind.TRAIN, "f" * 64, {})
        assert _state(session, model) == ModelState.BUSY and model.last_operation_id == op.id
        assert op.status == RunStatus.QUEUED
    else:
        with pytest.raises(runs.ClaimRefused) as refused:
            runs.claim(session, model.id, from_states, run_id, OperationKind.TRAIN, "f" * 64, {})
        assert refused.value.state == state
        assert _state(session, model) == state and runs.run_by_id(session, run_id) is None


@pytest.mark.parametrize("state", STATES)
def test_archive_from_each_state(session, namespace, state):
    model = _model(session, namespace, state)
    blocking = runs.archive(session, model.id)
    if state in ARCHIVABLE_STATES or state == ModelState.ARCHIVED:
        assert blocking is None and _state(session, model) == ModelState.ARCHIVED
    else:
        assert blocking == state and _state(session, model) == state
    assert runs.archive(session, model.id + 10_000_000) == runs.MISSING


def test_undo_claim_restores_the_state_before_it(session, namespace):
    for state in TRAIN_FROM:
        model = _model(session, namespace, state)
        op = _claimed(session, model)
        runs.undo_claim(session, op.run_id, state, None)
        session.flush()
        assert _state(session, model) == state and model.last_operation_id is None
        assert runs.run_by_id(session, op.run_id) is None


def test_mark_running_only_from_queued(session, namespace):
    op = _claimed(session, _model(session, namespace, ModelState.DRAFT))
    assert runs.mark_running(session, op.run_id) and runs.mark_running(session, op.run_id)  # idempotent
    assert runs.fail_run(session, op.run_id, "internal_error", "boom")
    assert not runs.mark_running(session, op.run_id)  # closed: it must not go on
    assert not runs.mark_running(session, "run_unknown")


# (kind, has a version, how the run ends) → the model's state afterwards.
ENDINGS = [
    (OperationKind.TRAIN, False, "publish", ModelState.READY),
    (OperationKind.RETUNE, True, "publish", ModelState.READY),
    (OperationKind.DISCOVER, False, "draft", ModelState.DRAFT),
    (OperationKind.SYNTHESIZE, False, "draft", ModelState.DRAFT),
    (OperationKind.TRAIN, False, "fail", ModelState.FAILED),
    (OperationKind.TRAIN, False, "cancel", ModelState.DRAFT),  # cancelled: back to the state it was claimed from
    (OperationKind.RETUNE, True, "fail", ModelState.READY),
    (OperationKind.RETRAIN, True, "cancel", ModelState.READY),
    (OperationKind.DISCOVER, False, "fail", ModelState.DRAFT),
    (OperationKind.SYNTHESIZE, False, "cancel", ModelState.DRAFT),
]


def _end(session: Session, model: Model, op: Operation, ending: str) -> bool:
    if ending == "publish":
        version = Version(model_id=model.id, version_no=session.query(Version).filter_by(model_id=model.id).count() + 1, triggered_by=op.kind, run_id=new_run_id(),
                          param_hash="y" * 64, sample_count=1, metrics={}, snapshot="{}")
        session.add(version)
        session.flush()
        return runs.finish_ready(session, op, version.id, version.version_no)
    if ending == "draft":
        return runs.finish_draft(session, op.run_id, 2)
    status = RunStatus.CANCELLED if ending == "cancel" else RunStatus.FAILED
    return runs.fail_run(session, op.run_id, "cancelled" if ending == "cancel" else "internal_error", "x", status)


@pytest.mark.parametrize(("kind", "with_version", "ending", "after"), ENDINGS,
                         ids=[f"{k}-{e}" for k, _, e, _ in ENDINGS])
def test_a_run_ends_busy_into_its_state_and_closes_once(session, namespace, kind, with_version, ending, after):
    start = ModelState.READY if with_version else ModelState.DRAFT
    model = _model(session, namespace, start, with_version=with_version)
    op = _claimed(session, model, kind)
    assert _end(session, model, op, ending)
    assert _state(session, model) == after
    session.refresh(op)
    assert op.status == {"fail": RunStatus.FAILED, "cancel": RunStatus.CANCELLED}.get(ending, RunStatus.SUCCEEDED)
    assert op.finished_at is not None
    assert not _end(session, model, op, ending)  # a retry, or the other side of a race: no change
    assert _state(session, model) == after


def test_a_cancelled_retry_of_a_failed_model_leaves_it_failed(session, namespace):
    model = _model(session, namespace, ModelState.FAILED)
    op = _claimed(session, model, OperationKind.TRAIN)
    assert runs.fail_run(session, op.run_id, "cancelled", "x", RunStatus.CANCELLED)
    assert _state(session, model) == ModelState.FAILED


@pytest.mark.parametrize("ending", ["publish", "draft", "fail", "cancel"])
@pytest.mark.parametrize("state", STATES)
def test_a_run_leaves_a_model_alone_unless_busy_for_that_run(session, namespace, ending, state):
    model = _model(session, namespace, ModelState.DRAFT)
    op = _claimed(session, model, OperationKind.TRAIN)
    if state == ModelState.BUSY:  # busy, but not for this run
        model.last_operation_id = None
    model.state = state
    session.flush()
    assert _end(session, model, op, ending)  # the run itself still closes
    assert _state(session, model) == state
