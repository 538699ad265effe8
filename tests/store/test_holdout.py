"""Held-out feedback (store/feedback.held_out) never reaches a training set, on SQLite and PostgreSQL."""

from __future__ import annotations

from contracts.states import ModelState
from store.feedback import FEEDBACK, HOLDOUT_SHARE, held_out
from store.tables import Model, Sample, Trait
from store.training_set import load_label_sets, load_labels


def _texts(wanted: bool, count: int) -> list[str]:
    found = (f"feedback text {n}" for n in range(10_000))
    return [t for t in found if held_out(t) == wanted][:count]


def test_the_hold_out_share_is_about_a_fifth():
    share = sum(held_out(f"feedback text {n}") for n in range(10_000)) / 10_000
    assert abs(share - HOLDOUT_SHARE) < 0.02


def test_held_out_feedback_is_split_off_and_still_moves_the_watermark(session, namespace):
    model = Model(handle=f"{namespace}.split", namespace=namespace, name="split", state=ModelState.READY)
    session.add(model)
    session.flush()
    tone = Trait(model_id=model.id, key="tone", name="Tone")
    axis = Trait(model_id=model.id, key="axis_1", name="Axis 1", kind="intrinsic")
    session.add_all([tone, axis])
    session.flush()
    kept, held = _texts(False, 2), _texts(True, 2)
    authored = [Sample(model_id=model.id, trait_id=tone.id, text=held[0], quality=1.0, provenance="upload"),
                Sample(model_id=model.id, trait_id=tone.id, text="authored negative", quality=0.0, provenance="upload")]
    session.add_all(authored)
    session.flush()
    axis.anchor_sample_ids = {"positive": [authored[0].id], "negative": [authored[1].id]}
    feedback = [Sample(model_id=model.id, trait_id=tone.id, text=text, quality=quality, provenance=FEEDBACK)
                for text, quality in ((kept[0], 1.0), (held[0], 0.0), (kept[1], 0.0), (held[1], 1.0))]
    session.add_all(feedback)
    session.flush()

    sets = load_label_sets(session, model.id)
    # An authored sample always trains, even when its text hashes into the hold-out.
    assert sets.training["tone"] == sorted([(authored[0].id, 1.0), (authored[1].id, 0.0),
                                            (feedback[0].id, 1.0), (feedback[2].id, 0.0)])
    assert sets.held_out["tone"] == [(feedback[1].id, 0.0), (feedback[3].id, 1.0)]
    # Anchors calibrate the extra axis in training; they are not held-out feedback.
    assert sets.training["axis_1"] == [(authored[0].id, 1.0), (authored[1].id, 0.0)]
    assert sets.held_out["axis_1"] == []
    assert sets.max_sample_id == feedback[3].id
    assert load_labels(session, model.id)[1] == sets.training
