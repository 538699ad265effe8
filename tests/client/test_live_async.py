"""The asyncio client in-process against the app, through a whole model lifecycle: the shipped
commit-message example is authored, trained by the real worker (Temporal dev server, MiniLM), scored,
versioned and archived — the same path `assay build` and `assay score` take."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cli.authoring import load_model_spec
from client import AssayError, AsyncAssayClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "commit-message" / "model.yaml"

pytestmark = pytest.mark.usefixtures("worker")


def connect(app, key: dict) -> AsyncAssayClient:
    # Opened and closed inside each test's own task (an async fixture would close it in another task).
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return AsyncAssayClient("http://assay.test", key["secret"], transport=transport, timeout=60)


async def build(client: AsyncAssayClient, handle: str) -> dict:
    spec = load_model_spec(EXAMPLE)
    await client.create_model(handle, **spec.model_fields())
    await client.upsert_traits(handle, spec.traits)
    for batch in spec.sample_batches():
        await client.add_samples(handle, batch)
    started = await client.train(handle, effort=spec.effort)
    assert started["state"] == "busy" and started["run_id"].startswith("run_")
    with pytest.raises(AssayError) as again:
        await client.train(handle, effort=spec.effort)
    assert again.value.code in {"run_exists", "model_busy"}
    if again.value.code == "run_exists":
        assert again.value.run_id == started["run_id"]
    return await client.wait_until_settled(handle, poll_interval=0.2, timeout=300)


async def test_the_commit_message_example_trains_and_scores_as_promised(app, owner, namespace):
    async with connect(app, owner) as client:
        await check_example_scores(client, f"{namespace}.commit-message")


async def check_example_scores(client: AsyncAssayClient, handle: str) -> None:
    model = await build(client, handle)
    assert model["state"] == "ready", model["last_operation"]
    assert model["version_no"] == 1 and model["traits"] == ["Specificity", "Professional tone"]

    good = await client.score(handle, "Fix race in worker shutdown")
    for vague in ("stuff", "wip"):
        bad = await client.score(handle, vague)
        assert good["composite"] > bad["composite"] + 30
        assert good["scores"]["specificity"] > bad["scores"]["specificity"] + 40
    assert good["metadata"]["version_id"] == "v1"

    # The curl convenience (text/plain body) scores the same text the same way.
    plain = await client.score_plain(handle, "Fix race in worker shutdown")
    assert (plain["scores"], plain["composite"]) == (good["scores"], good["composite"])

    rendered = await client.score_rendered(handle, "Fix race in worker shutdown")
    assert "specificity" in rendered and "Composite" in rendered

    compared = await client.compare(handle, "wip", "Fix race in worker shutdown")
    assert compared["improvement"] == compared["b"]["composite"] - compared["a"]["composite"] > 0
    assert "specificity" in await client.compare_rendered(handle, "wip", "Fix race in worker shutdown")

    card = await client.model_card(handle)
    assert "Specificity" in card

    with pytest.raises(AssayError) as unknown:
        await client.score(handle, "x", traits=["no_such_trait"])
    assert (unknown.value.status, unknown.value.code, unknown.value.details) == (
        422, "unknown_trait", {"traits": ["no_such_trait"]})


async def test_versions_through_the_client(app, owner, namespace):
    async with connect(app, owner) as client:
        await check_versions(client, f"{namespace}.commit-versions")


async def check_versions(client: AsyncAssayClient, handle: str) -> None:
    await build(client, handle)

    tagged = await client.tag_version(handle, "stable")
    assert tagged == {"handle": handle, "tag": "stable", "version_no": 1}
    versions = [v async for v in client.iter_versions(handle, page_size=1)]
    assert [(v["version_no"], v["tags"]) for v in versions] == [(1, ["stable"])]
    detail = await client.get_version(handle, "stable")
    assert detail["version_no"] == 1 and detail["snapshot"]

    pinned = await client.score(f"{handle}@stable", "Add retry to the webhook sender")
    assert pinned["metadata"]["version_id"] == "v1"
    assert await client.activate_version(handle, version="v1") == {"handle": handle, "version_no": 1}
    with pytest.raises(AssayError) as both:
        await client.activate_version(handle, version="v1", tag="stable")
    assert both.value.status == 422

    assert (await client.untag_version(handle, "stable"))["deleted"] is True
    with pytest.raises(AssayError) as gone:
        await client.untag_version(handle, "stable")
    assert (gone.value.status, gone.value.code) == (404, "not_found")

    with pytest.raises(AssayError) as not_draft:
        await client.upsert_traits(handle, [{"key": "extra", "name": "Extra"}])
    assert (not_draft.value.status, not_draft.value.code) == (409, "not_draft")
