"""The blocking client against the real app served by uvicorn over TCP."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.authoring import load_model_spec
from cli.ports import free_port
from client import AssayClient, AssayError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support-reply" / "model.yaml"


@pytest.fixture
def client(threaded_base_url, owner) -> AssayClient:
    with AssayClient(threaded_base_url + "/v1", owner["secret"]) as assay:
        yield assay


def test_health_needs_no_key(threaded_base_url):
    with AssayClient(threaded_base_url) as anonymous:
        assert anonymous.health()["status"] == "ok"


def test_an_authored_example_goes_in_and_comes_back_page_by_page(client, namespace):
    spec = load_model_spec(EXAMPLE)
    handle = f"{namespace}.support-reply"
    created = client.create_model(handle, **spec.model_fields())
    assert (created["handle"], created["state"]) == (handle, "draft")

    traits = client.upsert_traits(handle, spec.traits)["traits"]
    assert [t["key"] for t in traits] == ["warmth", "clarity"]
    ids = [i for batch in spec.sample_batches(size=50) for i in client.add_samples(handle, batch)["ids"]]
    assert len(ids) == len(spec.samples) == len(set(ids))

    listed = list(client.iter_samples(handle, page_size=17))
    assert sorted(s["id"] for s in listed) == sorted(ids)
    assert {(s["trait"], s["text"], s["quality"]) for s in listed} == {
        (s["trait"], s["text"], s["quality"]) for s in spec.samples}
    warm_only = list(client.iter_samples(handle, trait="warmth", page_size=25))
    assert len(warm_only) == sum(1 for s in spec.samples if s["trait"] == "warmth")

    assert client.get_trait(handle, "Warmth")["positive_samples"] == spec.pole_counts()["warmth"][0]
    assert [m["handle"] for m in client.iter_models(namespace=namespace, page_size=1)] == [handle]


def test_wire_errors_arrive_as_assay_errors_with_their_codes(client, namespace, threaded_base_url):
    handle = f"{namespace}.errors"
    client.create_model(handle)
    with pytest.raises(AssayError) as taken:
        client.create_model(handle)
    assert (taken.value.status, taken.value.code) == (409, "handle_taken")
    assert taken.value.request_id and taken.value.request_id.startswith("req_")

    with pytest.raises(AssayError) as bad_handle:
        client.get_model("Not A Handle")
    assert (bad_handle.value.status, bad_handle.value.code) == (422, "invalid_handle")

    with pytest.raises(AssayError) as unknown_trait:
        client.add_samples(handle, [{"trait": "nope", "text": "x", "quality": 1}])
    assert unknown_trait.value.code == "unknown_trait"

    with pytest.raises(AssayError) as missing:
        client.get_model(f"{namespace}.absent")
    assert (missing.value.status, missing.value.code) == (404, "not_found")

    with AssayClient(threaded_base_url, "not-a-real-key") as stranger, pytest.raises(AssayError) as unauthorized:
        stranger.list_models()
    assert (unauthorized.value.status, unauthorized.value.code) == (401, "unauthorized")

    with pytest.raises(AssayError) as forbidden:
        client.create_model("someone-else.model")
    assert (forbidden.value.status, forbidden.value.code) == (403, "forbidden")


def test_archiving_through_the_client(client, namespace):
    handle = f"{namespace}.short-lived"
    client.create_model(handle, description="gone soon")
    assert client.update_model(handle, description="still here")["description"] == "still here"
    assert client.delete_model(handle) == {"handle": handle, "deleted": True}
    assert client.delete_model(handle)["deleted"] is True
    with pytest.raises(AssayError) as archived:
        client.score(handle, "hello")
    assert (archived.value.status, archived.value.code) == (409, "model_archived")


def test_an_unreachable_server_is_an_assay_error():
    with AssayClient(f"http://127.0.0.1:{free_port()}", "k", timeout=5) as client, \
            pytest.raises(AssayError) as caught:
        client.health()
    assert (caught.value.status, caught.value.code) == (0, "connection_failed")


def test_pushing_a_definition_twice_writes_nothing_the_second_time(client, namespace, tmp_path):
    from client.push import push_definition

    handle = f"{namespace}.pushed"
    spec = load_model_spec(EXAMPLE)
    first = push_definition(client, handle, spec)
    assert (first.created, first.samples_added) == (True, len(spec.samples))
    again = push_definition(client, handle, spec)
    assert not again.changed
    assert len(list(client.iter_samples(handle))) == len(spec.samples)

    # Edit the definition: drop the clarity trait, relabel one warmth sample, add a new one.
    warmth = [s for s in spec.samples if s["trait"] == "warmth"]
    edited_samples = [{**warmth[0], "quality": 0.5}, *warmth[1:],
                      {"trait": "warmth", "text": "Lovely to hear from you!", "quality": 1.0}]
    edited = type(spec)(**{**spec.__dict__, "traits": [t for t in spec.traits if t["key"] == "warmth"],
                           "samples": edited_samples})
    result = push_definition(client, handle, edited)
    assert (result.traits_removed, result.samples_removed, result.samples_added) == (1, 1, 2)
    remote = sorted((s["trait"], s["text"], s["quality"]) for s in client.iter_samples(handle))
    assert remote == sorted((s["trait"], s["text"], s["quality"]) for s in edited_samples)
    assert [t["key"] for t in client.list_traits(handle)["traits"]] == ["warmth"]


def test_pushing_to_a_model_that_is_not_a_draft_leaves_it_alone(client, namespace):
    from client.push import push_definition

    handle = f"{namespace}.archived"
    client.create_model(handle)
    client.delete_model(handle)
    result = push_definition(client, handle, load_model_spec(EXAMPLE))
    assert (result.created, result.state, result.changed) == (False, "archived", False)
