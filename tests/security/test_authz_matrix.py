"""Who may call what (SPEC §1.1, §1.2, §3): every endpoint × every kind of caller.

Read a row as a sentence: "<request>: no key → 401, …, owner → 2xx". Reads of a model the key cannot
read are 404 (its existence is not revealed); owner-only reads (samples, versions, runs) are 403 for any
other key even on a public model, and a run addressed by its id is 404 to any key but an owner's; writes by a non-owner are 403 once the model is readable.
The catalog rows of tests/api/test_authz_catalog.py are repeated here so that this one table covers
every endpoint; its helpers are reused.

Also here: keys are stored hashed, the secret never appears in a log line or in any response, and
secrets are compared in constant time."""

from __future__ import annotations

import hmac
import logging
import uuid

import pytest
from sqlalchemy import select

from store import keys
from store.tables import ApiKey
from tests.api.local_site import fetching_http, local_site  # noqa: F401 (fixtures)
from tests.api.trained import create_model
from tests.security.test_hostile_inputs import state_of

CALLERS = ["no_key", "malformed_header", "revoked_key", "scoring_key_of_namespace", "author_of_other_namespace",
           "scoring_key_elsewhere_on_public_model", "owner"]

# One row per request, sent in this order; one column per caller, in the order of CALLERS.
MATRIX = [
    #  request                     none  bad  revoked scoring other-author public-scorer owner
    ("GET health",                 200, 200, 200,    200,    200,         200,          200),
    ("GET models",                 401, 401, 401,    200,    200,         200,          200),
    ("POST models",                401, 401, 401,    403,    403,         403,          201),
    ("GET model",                  401, 401, 401,    200,    404,         200,          200),
    ("PATCH model",                401, 401, 401,    403,    404,         403,          200),
    ("GET traits",                 401, 401, 401,    200,    404,         200,          200),
    ("POST traits",                401, 401, 401,    403,    404,         403,          200),
    ("GET trait",                  401, 401, 401,    200,    404,         200,          200),
    ("PATCH trait",                401, 401, 401,    403,    404,         403,          200),
    ("POST samples",               401, 401, 401,    403,    404,         403,          200),
    ("GET samples",                401, 401, 401,    200,    404,         403,          200),
    ("DELETE sample",              401, 401, 401,    403,    404,         403,          200),
    ("DELETE trait",               401, 401, 401,    403,    404,         403,          200),
    ("POST discover",              401, 401, 401,    403,    404,         403,          202),
    ("POST synthesize",            401, 401, 401,    403,    404,         403,          202),
    ("POST train",                 401, 401, 401,    403,    404,         403,          202),
    ("POST score",                 401, 401, 401,    200,    404,         200,          200),
    ("POST score with feedback",   401, 401, 401,    403,    404,         403,          200),
    ("POST compare",               401, 401, 401,    200,    404,         200,          200),
    ("POST extract",               401, 401, 401,    200,    200,         200,          200),
    ("GET versions",               401, 401, 401,    200,    404,         403,          200),
    ("GET version",                401, 401, 401,    200,    404,         403,          200),
    ("POST version tag",           401, 401, 401,    403,    404,         403,          201),
    ("DELETE version tag",         401, 401, 401,    403,    404,         403,          200),
    ("PUT active version",         401, 401, 401,    403,    404,         403,          200),
    ("GET runs",                   401, 401, 401,    200,    404,         403,          200),
    ("GET run",                    401, 401, 401,    200,    404,         404,          200),
    ("POST run cancel",            401, 401, 401,    403,    404,         404,          202),
    ("DELETE model",               401, 401, 401,    403,    404,         403,          200),
    ("POST webhook",               401, 401, 401,    403,    403,         403,          201),
    ("GET webhooks",               401, 401, 401,    200,    200,         200,          200),
    ("GET webhook deliveries",     401, 401, 401,    200,    404,         404,          200),
    ("DELETE webhook",             401, 401, 401,    403,    404,         404,          200),
    ("POST score batch",           401, 401, 401,    200,    404,         200,          200),
    ("POST score job",             401, 401, 401,    202,    404,         202,          202),
    ("GET score job",              401, 401, 401,    200,    404,         404,          200),
    ("GET model score jobs",       401, 401, 401,    200,    404,         200,          200),
]
# Registered by the owner before the requests; its only event is one nothing here emits.
SILENT_WEBHOOK = {"url": "http://8.8.8.8/never-called", "events": ["score_job.failed"]}
CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found"}


async def headers_for(caller: str, world, make_key, sessionmaker_) -> dict:
    if caller == "no_key":
        return {}
    if caller == "malformed_header":
        return {"Authorization": f"Basic {world.owner['secret']}"}
    if caller == "revoked_key":
        issued = await make_key(world.namespace, scope="authoring")
        async with sessionmaker_() as session:
            await keys.revoke(session, issued["prefix"])
            await session.commit()
        return issued["headers"]
    if caller in ("scoring_key_of_namespace", "scoring_key_elsewhere_on_public_model"):
        # On the public model the namespace is "public"; the scorer owns a namespace of its own.
        namespace = world.namespace if caller == "scoring_key_of_namespace" else f"o{uuid.uuid4().hex[:10]}"
        return (await make_key(namespace, scope="scoring"))["headers"]
    if caller == "author_of_other_namespace":
        return (await make_key(f"o{uuid.uuid4().hex[:10]}", scope="authoring"))["headers"]
    return world.owner["headers"]


async def operation_drafts(http, world) -> dict[str, str]:
    """Separate trained-able drafts for discover, synthesize and train, so each starts from a draft."""
    handles = {}
    for purpose in ("discover", "synthesize", "train"):
        handles[purpose] = f"{world.draft}-{purpose}"
        await create_model(http, world.owner["headers"], handles[purpose])
    return handles


async def send_all(http, fetching_http, site, world, drafts: dict, headers: dict) -> list:
    draft, ready = f"/v1/models/{world.draft}", f"/v1/models/{world.ready}"
    sample = {"trait": "clarity", "text": "new", "quality": 1}
    hook = {**SILENT_WEBHOOK, "namespace": world.namespace}
    webhook = (await http.post("/v1/webhooks", json=hook, headers=world.owner["headers"])).json()["id"]
    job = {"items": [{"content": "Click Save to keep it."}]}
    owners_job = (await http.post(f"{ready}/score-jobs", json=job, headers=world.owner["headers"])).json()["job_id"]
    return [
        await http.get("/v1/health", headers=headers),
        await http.get("/v1/models", params={"namespace": world.namespace}, headers=headers),
        await http.post("/v1/models", json={"handle": f"{world.namespace}.newcomer-{uuid.uuid4().hex[:6]}"},
                        headers=headers),
        await http.get(draft, headers=headers),
        await http.patch(draft, json={"description": "changed"}, headers=headers),
        await http.get(f"{draft}/traits", headers=headers),
        await http.post(f"{draft}/traits", json={"traits": [{"name": "Added"}]}, headers=headers),
        await http.get(f"{draft}/traits/clarity", headers=headers),
        await http.patch(f"{draft}/traits/clarity", json={"description": "edited"}, headers=headers),
        await http.post(f"{draft}/samples", json={"samples": [sample]}, headers=headers),
        await http.get(f"{draft}/samples", headers=headers),
        await http.delete(f"{draft}/samples/{world.sample_ids[0]}", headers=headers),
        await http.delete(f"{draft}/traits/warmth", headers=headers),
        await http.post(f"/v1/models/{drafts['discover']}/traits/discover", json={"effort": "low"}, headers=headers),
        await http.post(f"/v1/models/{drafts['synthesize']}/samples/synthesize",
                        json={"synth_type": "from_traits", "effort": "low"}, headers=headers),
        await http.post(f"/v1/models/{drafts['train']}/train", json={"effort": "low"}, headers=headers),
        await http.post(f"{ready}/score", json={"content": "Click Save to keep it."}, headers=headers),
        await http.post(f"{ready}/score", json={"content": "Click Save.", "feedback": {"clarity": "good"}},
                        headers=headers),
        await http.post(f"{ready}/compare", json={"a": "It is what it is.", "b": "Click Save."}, headers=headers),
        await fetching_http.post("/v1/extract", json={"url": site.url("/plain")}, headers=headers),
        await http.get(f"{ready}/versions", headers=headers),
        await http.get(f"{ready}/versions/v1", headers=headers),
        await http.post(f"{ready}/versions/beta", headers=headers),
        await http.delete(f"{ready}/versions/{world.tag}", headers=headers),
        await http.put(f"{ready}/versions/active", json={"version": "v1"}, headers=headers),
        await http.get(f"{draft}/runs", headers=headers),
        await http.get(f"/v1/runs/{world.run_id}", headers=headers),
        await http.post(f"/v1/runs/{world.run_id}/cancel", headers=headers),  # cancelled already: 202 again
        await http.delete(draft, headers=headers),
        await http.post("/v1/webhooks", json=hook, headers=headers),
        await http.get("/v1/webhooks", headers=headers),
        await http.get(f"/v1/webhooks/{webhook}/deliveries", headers=headers),
        await http.delete(f"/v1/webhooks/{webhook}", headers=headers),
        await http.post(f"{ready}/score/batch", json={"items": [{"content": "Click Save."}]}, headers=headers),
        await http.post(f"{ready}/score-jobs", json=job, headers=headers),
        await http.get(f"/v1/score-jobs/{owners_job}", headers=headers),  # jobs belong to their starter's namespaces
        await http.get(f"{ready}/score-jobs", headers=headers),
    ]


@pytest.mark.parametrize("column, caller", list(enumerate(CALLERS)))
async def test_every_endpoint_answers_each_caller_as_the_spec_says(
        http, fetching_http, local_site, worker, make_world, make_key, sessionmaker_, column, caller):
    public = caller == "scoring_key_elsewhere_on_public_model"
    world = await make_world("public" if public else None)
    drafts = await operation_drafts(http, world)
    headers = await headers_for(caller, world, make_key, sessionmaker_)
    before = await state_of(http, world)

    responses = await send_all(http, fetching_http, local_site, world, drafts, headers)

    assert len(responses) == len(MATRIX)
    got = [(row[0], response.status_code) for row, response in zip(MATRIX, responses)]
    assert got == [(row[0], row[column + 1]) for row in MATRIX]
    for response in responses:
        if response.status_code in CODES:
            assert response.json()["error"]["code"] == CODES[response.status_code]
        if response.status_code == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    secret = world.owner["secret"]
    assert not [r for r in responses if secret in r.text or secret in str(r.headers)]

    version = responses[[row[0] for row in MATRIX].index("GET version")]
    if version.status_code == 200:  # the snapshot is for authoring keys only
        assert ("snapshot" in version.json()) == (caller == "owner")
    listed = responses[1].json()["items"] if responses[1].status_code == 200 else []
    if caller == "author_of_other_namespace":
        assert listed == []  # not theirs: an empty page, not a hint that the namespace exists
    if caller != "owner":
        assert await state_of(http, world) == before


async def test_keys_are_stored_only_as_hashes(make_key, sessionmaker_, namespace):
    issued = await make_key(namespace, scope="authoring")
    secret_part = issued["secret"].split("_")[-1]
    async with sessionmaker_() as session:
        rows = (await session.execute(select(ApiKey))).scalars().all()
    dump = repr([{column.name: getattr(row, column.name) for column in ApiKey.__table__.columns} for row in rows])
    assert issued["prefix"] in dump  # the dump really holds this key's row
    assert issued["secret"] not in dump and secret_part not in dump


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__!r}")


async def test_the_secret_never_reaches_a_log_line(http, make_world):
    world = await make_world()
    collector = Collect()
    loggers = [logging.getLogger(name) for name in ("assay", "assay.access", "assay.api")]
    loggers += [logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("assay")]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(collector)
        logger.setLevel(logging.DEBUG)
    try:
        secret = world.owner["secret"]
        await http.get(f"/v1/models/{world.ready}", headers=world.owner["headers"])
        await http.post(f"/v1/models/{world.ready}/score", json={"content": "x"}, headers=world.owner["headers"])
        await http.get("/v1/models", headers={"Authorization": f"Bearer {secret}x"})  # a wrong key, logged as refused
        await http.get("/v1/models", headers={"Authorization": f"Basic {secret}"})
        await http.post("/v1/models/nope/score", content=b"{", headers=world.owner["headers"])
    finally:
        for logger, level in levels:
            logger.removeHandler(collector)
            logger.setLevel(level)
    assert len(collector.lines) >= 5  # the requests were logged at all
    assert not [line for line in collector.lines if secret in line or secret.split("_")[-1] in line]


async def test_secrets_are_compared_in_constant_time(make_key, sessionmaker_, namespace, monkeypatch):
    issued = await make_key(namespace, scope="scoring")
    compared = []
    original = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(keys.hmac, "compare_digest", spy)
    async with sessionmaker_() as session:
        assert (await keys.verify(session, issued["secret"])) is not None
        assert await keys.verify(session, issued["secret"][:-1] + "x") is None
        assert await keys.verify(session, f"assay_{'0' * 12}_{'x' * 43}") is None  # unknown prefix still compares
    assert len(compared) == 3
