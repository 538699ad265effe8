"""How the API combines the workflow's phase-level progress with the running activity's heartbeat."""

from __future__ import annotations

from contracts.payloads import EmbedResult
from contracts.progress import Progress

WORKFLOW_SEARCH = EmbedResult("run_x", 100, 40, 60).progress()


def test_embedding_done_leaves_the_run_where_the_embedding_ended():
    assert (WORKFLOW_SEARCH.phase, WORKFLOW_SEARCH.done, WORKFLOW_SEARCH.total, WORKFLOW_SEARCH.fraction) == \
           ("search", 40, 100, 0.4)
    assert EmbedResult("run_x", 0, 0, 0).progress().fraction == 0.0


def test_a_heartbeat_further_on_refines_the_workflow_progress():
    heartbeat = Progress("search", 55, 100, 0.55, "trait warmth: 15/60 configurations")
    assert WORKFLOW_SEARCH.refined_by(heartbeat) == heartbeat
    assert WORKFLOW_SEARCH.refined_by(Progress("publish", 1, 1, 0.99, "staging")).phase == "publish"


def test_a_heartbeat_behind_the_workflow_is_ignored():
    assert WORKFLOW_SEARCH.refined_by(None) is WORKFLOW_SEARCH
    # The fit reading its embeddings from the cache, or the last heartbeat of the finished embed step.
    assert WORKFLOW_SEARCH.refined_by(Progress("embed", 40, 100, 0.4, "embedding samples 0/0")) is WORKFLOW_SEARCH
    assert WORKFLOW_SEARCH.refined_by(Progress("search", 30, 100, 0.3, "retried attempt")) is WORKFLOW_SEARCH
