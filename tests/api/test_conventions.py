"""HTTP conventions on the catalog endpoints (SPEC §2): bad framing, bad types, oversized bodies,
unknown fields and bad handles each get their status and envelope code, and nothing is written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.api.test_models import add_samples, add_traits, assert_error, create_model, read_all_pages

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "u22a8-openapi.json"


@pytest.fixture
async def draft(http, owner, namespace) -> str:
    handle = f"{namespace}.conv"
    await create_model(http, owner, handle)
    await add_traits(http, owner, handle, {"name": "Warmth"})
    await add_samples(http, owner, handle, {"trait": "warmth", "text": "hello", "quality": 1})
    return handle


async def snapshot(http, owner, namespace, handle) -> tuple:
    """Everything a write could have changed, as the owner sees it."""
    models = await read_all_pages(http, "/v1/models", owner, namespace=namespace)
    traits = (await http.get(f"/v1/models/{handle}/traits", headers=owner["headers"])).json()
    samples = await read_all_pages(http, f"/v1/models/{handle}/samples", owner)
    return models, traits, samples


def writes(handle: str) -> list[tuple[str, str]]:
    return [("POST", "/v1/models"), ("PATCH", f"/v1/models/{handle}"), ("POST", f"/v1/models/{handle}/traits"),
            ("PATCH", f"/v1/models/{handle}/traits/warmth"), ("POST", f"/v1/models/{handle}/samples")]


@pytest.mark.parametrize("body", ['{"handle": ', "not json at all", "{'single': 'quotes'}", "\xff\xfe"])
async def test_malformed_json_is_bad_request_and_writes_nothing(http, owner, namespace, draft, body):
    before = await snapshot(http, owner, namespace, draft)
    for method, path in writes(draft):
        response = await http.request(method, path, content=body.encode("latin-1"),
                                      headers={**owner["headers"], "Content-Type": "application/json"})
        assert_error(response, 400, "bad_request")
    assert await snapshot(http, owner, namespace, draft) == before


async def test_an_empty_body_where_one_is_required_is_bad_request(http, owner, namespace, draft):
    before = await snapshot(http, owner, namespace, draft)
    for method, path in writes(draft):
        response = await http.request(method, path, headers={**owner["headers"], "Content-Type": "application/json"})
        assert_error(response, 400, "bad_request")
    assert await snapshot(http, owner, namespace, draft) == before


@pytest.mark.parametrize("index, body", [
    (0, {"handle": 12}), (0, []), (0, "acme.x"),
    (1, {"description": 5}), (1, {"upstream_sources": "somewhere"}),
    (2, {"traits": "Warmth"}), (2, {"traits": [{"name": ["Warmth"]}]}),
    (3, {"name": 3}), (3, ["name"]),
    (4, {"samples": {"trait": "warmth"}}), (4, {"samples": [{"trait": "warmth", "text": "x", "quality": [1]}]}),
])
async def test_wrong_types_are_validation_errors_and_write_nothing(http, owner, namespace, draft, index, body):
    before = await snapshot(http, owner, namespace, draft)
    method, path = writes(draft)[index]
    response = await http.request(method, path, json=body, headers=owner["headers"])
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["errors"], "the envelope says which field was wrong"
    assert await snapshot(http, owner, namespace, draft) == before


@pytest.mark.parametrize("index, body", [
    (0, {"handle": "x.y", "owner": "me"}),
    (1, {"state": "ready"}),
    (2, {"traits": [{"name": "Calm", "weight": 2}]}),
    (3, {"key": "renamed"}),
    (4, {"samples": [{"trait": "warmth", "text": "x", "quality": 1, "provenance": "synthesized"}]}),
    (4, {"samples": [{"trait": "warmth", "text": "x", "quality": 1}], "dry_run": True}),
])
async def test_unknown_fields_are_rejected_and_write_nothing(http, owner, namespace, draft, index, body):
    before = await snapshot(http, owner, namespace, draft)
    method, path = writes(draft)[index]
    response = await http.request(method, path, json=body, headers=owner["headers"])
    assert_error(response, 422, "validation_error")
    assert await snapshot(http, owner, namespace, draft) == before


async def test_oversized_bodies_are_payload_too_large_and_write_nothing(http, owner, namespace, draft):
    before = await snapshot(http, owner, namespace, draft)
    huge_text = "x" * (1024 * 1024 + 10)
    bodies = [
        {"handle": f"{namespace}.huge", "description": huge_text},
        {"description": huge_text},
        {"traits": [{"name": "Huge", "description": huge_text}]},
        {"description": huge_text},
        {"samples": [{"trait": "warmth", "text": huge_text, "quality": 1}]},
    ]
    for (method, path), body in zip(writes(draft), bodies):
        response = await http.request(method, path, json=body, headers=owner["headers"])
        assert_error(response, 413, "payload_too_large")
    assert await snapshot(http, owner, namespace, draft) == before


async def test_an_oversized_body_without_content_length_is_also_refused(http, owner, namespace, draft):
    before = await snapshot(http, owner, namespace, draft)
    payload = json.dumps({"samples": [{"trait": "warmth", "text": "y" * (1024 * 1024), "quality": 1}]}).encode()

    async def chunks():
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start:start + 64 * 1024]

    response = await http.post(f"/v1/models/{draft}/samples", content=chunks(),
                               headers={**owner["headers"], "Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")
    assert await snapshot(http, owner, namespace, draft) == before


@pytest.mark.parametrize("bad", ["nodot", "UPPER.case", "ns.with space", "ns..double", "-ns.x", "ns.x@v1"])
async def test_bad_handles_in_the_path_are_invalid_handle_on_every_endpoint(http, owner, namespace, bad):
    handle = bad.replace("ns", namespace, 1) if bad.startswith("ns") else bad
    requests = [
        ("GET", f"/v1/models/{handle}", None), ("PATCH", f"/v1/models/{handle}", {"description": "x"}),
        ("DELETE", f"/v1/models/{handle}", None), ("GET", f"/v1/models/{handle}/traits", None),
        ("POST", f"/v1/models/{handle}/traits", {"traits": [{"name": "x"}]}),
        ("GET", f"/v1/models/{handle}/traits/x", None), ("PATCH", f"/v1/models/{handle}/traits/x", {"name": "y"}),
        ("DELETE", f"/v1/models/{handle}/traits/x", None),
        ("POST", f"/v1/models/{handle}/samples", {"samples": [{"trait": "x", "text": "y", "quality": 1}]}),
        ("GET", f"/v1/models/{handle}/samples", None), ("DELETE", f"/v1/models/{handle}/samples/1", None),
    ]
    for method, path, body in requests:
        response = await http.request(method, path, json=body, headers=owner["headers"])
        assert_error(response, 422, "invalid_handle")
    assert await read_all_pages(http, "/v1/models", owner, namespace=namespace) == []


async def test_error_envelopes_carry_a_message_and_the_request_id(http, owner, namespace):
    response = await http.get(f"/v1/models/{namespace}.none", headers={**owner["headers"], "X-Request-Id": "abc-1"})
    error = assert_error(response, 404, "not_found")
    assert error["request_id"] == "abc-1"
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)


# ---------------------------------------------------------------- the published contract

CATALOG_SCHEMAS = ["CreateModelRequest", "UpdateModelRequest", "RetentionPolicy", "ModelDetail", "ModelPage",
                   "TraitInput", "TraitsRequest", "UpdateTraitRequest", "TraitDetail", "TraitsResponse",
                   "SampleInput", "SamplesRequest", "AddSamplesResponse", "SampleRecordOut", "SamplePage"]


async def test_openapi_documents_every_request_field_in_our_own_words(http):
    spec = (await http.get("/v1/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for name in ["CreateModelRequest", "UpdateModelRequest", "TraitInput", "SampleInput"]:
        for field, prop in schemas[name]["properties"].items():
            assert prop.get("description"), f"{name}.{field} has no description"
    reference = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else None
    if reference is None:
        pytest.skip("reference OpenAPI not present on this machine")
    theirs = set()
    for text in _descriptions(reference):
        theirs.update(s for s in _sentences(text) if len(s) > 20)
    ours = [s for name in CATALOG_SCHEMAS for text in _descriptions(schemas[name]) for s in _sentences(text)]
    for item in spec["paths"].values():
        for operation in item.values():
            if set(operation.get("tags", [])) & {"models", "traits", "samples"}:
                ours.extend(s for text in _descriptions(operation) for s in _sentences(text))
    assert not [s for s in ours if s in theirs]


async def test_openapi_field_names_match_the_reference_wire_format(http):
    if not REFERENCE.exists():
        pytest.skip("reference OpenAPI not present on this machine")
    reference = json.loads(REFERENCE.read_text())["components"]["schemas"]
    ours = (await http.get("/v1/openapi.json")).json()["components"]["schemas"]
    pairs = {"CreateModelRequest": "CreateModelRequest", "UpdateModelRequest": "UpdateModelRequest",
             "ModelDetail": "ModelDetail", "TraitInput": "TraitInput", "TraitDetail": "TraitDetail",
             "UpdateTraitRequest": "UpdateTraitRequest", "SampleInput": "SampleInput",
             "SampleRecordOut": "SampleRecordOut", "AddSamplesResponse": "AddSamplesResponse",
             "SamplesRequest": "SamplesRequest", "TraitsRequest": "TraitsRequest", "DeleteResponse": "DeleteResponse"}
    for mine, theirs in pairs.items():
        missing = set(reference[theirs]["properties"]) - set(ours[mine]["properties"])
        assert not missing, f"{mine} lacks {missing}"


def _descriptions(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield value
            else:
                yield from _descriptions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _descriptions(value)


def _sentences(text: str) -> list[str]:
    return [s.strip().lower() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]
