"""Evaluations (SPEC §9.5) on the real stack: API, Temporal dev server, in-process worker, database, MiniLM.

A one-trait sentiment model gets two versions trained on human-rated VADER tweets — v1 on 8 tweets
per pole, v2 on 60 — and is evaluated on 160 other tweets with their mean human rating as the label
(q = (rating + 4) / 8, a number, so Spearman's ρ is reported). Every number of the report is
recomputed here from the evaluation's own score jobs: AUC with scikit-learn, the DeLong errors and
the paired test with an O(n²) implementation written below, ρ with scipy.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid

import numpy as np
import pytest
from scipy.stats import norm, spearmanr
from sklearn.metrics import roc_auc_score
from sqlalchemy import func, select

from bench.vader_data import load_domains
from store.tables import Evaluation, Model, Sample, ScoreJob, Trait
from tests.api.test_models import read_all_pages
from tests.api.trained import train_now
from tests.cli.cli_runner import cli_env, run_cli
from workflows.search_attributes import MODEL_HANDLE, OPERATION_KIND

SMALL_PER_POLE, LARGE_PER_POLE, EVALUATED = 8, 60, 160


@pytest.fixture(scope="module")
def tweets() -> dict:
    """Disjoint tweets: clear poles for training (interleaved), and rated ones to evaluate on."""
    domain = load_domains()["tweets"]
    order = np.random.default_rng(2026).permutation(len(domain.texts))
    pos = [domain.texts[i] for i in order if domain.sentiment[i] >= 1.0][:LARGE_PER_POLE]
    neg = [domain.texts[i] for i in order if domain.sentiment[i] <= -1.0][:LARGE_PER_POLE]
    used = set(pos) | set(neg)
    held_out = [(domain.texts[i], float(domain.quality[i])) for i in order if domain.texts[i] not in used]
    training = [pair for a, b in zip(pos, neg) for pair in ((a, 1.0), (b, 0.0))]
    return {"training": training, "evaluate": held_out[:EVALUATED]}


@pytest.fixture(scope="module")
async def vader(make_key, http, sessionmaker_, worker, tweets) -> dict:
    """A model whose v1 was trained on 8 tweets per pole and whose active v2 on 60."""
    namespace = f"ev{uuid.uuid4().hex[:12]}"
    owner = await make_key(namespace)
    handle, headers = f"{namespace}.tweets", owner["headers"]
    assert (await http.post("/v1/models", json={"handle": handle}, headers=headers)).status_code == 201
    traits = await http.post(f"/v1/models/{handle}/traits", headers=headers, json={"traits": [
        {"key": "sentiment", "name": "Sentiment", "positive_label": "upbeat", "negative_label": "downbeat"}]})
    assert traits.status_code == 200, traits.text
    small = tweets["training"][:2 * SMALL_PER_POLE]
    added = await http.post(f"/v1/models/{handle}/samples", headers=headers, json={"samples": [
        {"trait": "sentiment", "text": text, "quality": quality} for text, quality in small]})
    assert added.status_code == 200, added.text
    assert await train_now(sessionmaker_, handle) == 1
    async with sessionmaker_() as session:  # the model is ready now: more samples go in as the store holds them
        model = await session.scalar(select(Model).where(Model.handle == handle))
        trait_id = await session.scalar(select(Trait.id).where(Trait.model_id == model.id))
        session.add_all([Sample(model_id=model.id, trait_id=trait_id, text=text, quality=quality,
                                provenance="authored") for text, quality in tweets["training"][2 * SMALL_PER_POLE:]])
        await session.commit()
    assert await train_now(sessionmaker_, handle) == 2
    items = [{"id": f"t{i}", "content": text, "sentiment": quality} for i, (text, quality) in enumerate(tweets["evaluate"])]
    return {"handle": handle, "owner": owner, "namespace": namespace, "items": items}


async def finished(http, evaluation_id: str, headers, bound: float = 180.0) -> dict:
    deadline = time.monotonic() + bound
    while True:
        response = await http.get(f"/v1/evaluations/{evaluation_id}", headers=headers)
        assert response.status_code == 200, response.text
        evaluation = response.json()
        if evaluation["state"] not in ("queued", "running"):
            return evaluation
        assert time.monotonic() < deadline, f"evaluation still {evaluation['state']} after {bound} s"
        await asyncio.sleep(0.2)


async def job_scores(http, job_id: str, headers) -> dict[str, int]:
    results = await read_all_pages(http, f"/v1/score-jobs/{job_id}/results", {"headers": headers}, limit=1000)
    return {item["id"]: item["result"]["scores"]["sentiment"] for item in results if "result" in item}


def delong(x_pos: np.ndarray, x_neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The structural components, pair by pair (O(m·n)), independent of engine/evaluation.py."""
    psi = (x_pos[:, None] > x_neg[None, :]).astype(float) + 0.5 * (x_pos[:, None] == x_neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def auc_se(scores: np.ndarray, q: np.ndarray) -> float:
    v10, v01 = delong(scores[q > 0.5], scores[q < 0.5])
    return math.sqrt(np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size)


def paired(a: np.ndarray, b: np.ndarray, q: np.ndarray) -> tuple[float, float, float]:
    a10, a01 = delong(a[q > 0.5], a[q < 0.5])
    b10, b01 = delong(b[q > 0.5], b[q < 0.5])
    s10, s01 = np.cov(np.vstack([a10, b10])), np.cov(np.vstack([a01, b01]))
    variance = ((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / a10.size
                + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / a01.size)
    delta, se = b10.mean() - a10.mean(), math.sqrt(variance)
    return delta, se, 2 * norm.sf(abs(delta / se))


@pytest.fixture(scope="module")
async def two_version_run(http, vader) -> dict:
    headers = vader["owner"]["headers"]
    response = await http.post(f"/v1/models/{vader['handle']}/evaluations", headers=headers,
                               json={"items": vader["items"], "versions": ["v1", "v2"]})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["state"] == "queued" and accepted["evaluation_id"].startswith("eval_")
    assert [j["version_id"] for j in accepted["jobs"]] == ["v1", "v2"]
    return {"accepted": accepted, "evaluation": await finished(http, accepted["evaluation_id"], headers)}


async def test_report_matches_scikit_learn_scipy_and_an_independent_delong(http, vader, two_version_run):
    headers, evaluation = vader["owner"]["headers"], two_version_run["evaluation"]
    assert evaluation["state"] == "succeeded", evaluation
    assert evaluation["progress"] == {"done": 2 * EVALUATED, "total": 2 * EVALUATED, "fraction": 1.0}
    report = evaluation["report"]
    assert report["items"] == {"total": EVALUATED, "scored": EVALUATED}
    labels = {item["id"]: item["sentiment"] for item in vader["items"]}
    ids = sorted(labels)
    q = np.array([labels[i] for i in ids])
    columns = {}
    for job, block in zip(evaluation["jobs"], report["versions"]):
        assert job["version_id"] == block["version_id"]
        scores = await job_scores(http, job["job_id"], headers)
        s = np.array([scores[i] for i in ids], dtype=float)
        columns[job["version_id"]] = s
        trait = block["traits"]["sentiment"]
        poles = q != 0.5
        assert trait["n"] == EVALUATED
        assert trait["auc"]["n_positive"] == int(np.sum(q > 0.5)) and trait["auc"]["n_negative"] == int(np.sum(q < 0.5))
        assert abs(trait["auc"]["auc"] - roc_auc_score(q[poles] > 0.5, s[poles])) < 1e-9
        se = auc_se(s, q)
        assert abs(trait["auc"]["se"] - se) < 1e-9
        assert abs(trait["auc"]["low"] - max(0.0, trait["auc"]["auc"] - norm.ppf(0.975) * se)) < 1e-9
        assert abs(trait["auc"]["high"] - min(1.0, trait["auc"]["auc"] + norm.ppf(0.975) * se)) < 1e-9
        assert abs(trait["spearman"] - spearmanr(s, q).statistic) < 1e-9
        assert sum(cell["n"] for cell in trait["calibration"].values()) == int(np.sum(poles))
        for cut in trait["breaks"].values():
            assert 0.0 <= cut["positives_above"] <= 1.0 and 0.0 <= cut["negatives_below"] <= 1.0
    delta, se, p = paired(columns["v1"], columns["v2"], q)
    block = report["paired"]["traits"]["sentiment"]
    print(f"v1 AUC {report['versions'][0]['traits']['sentiment']['auc']['auc']:.4f}, "
          f"v2 AUC {report['versions'][1]['traits']['sentiment']['auc']['auc']:.4f}, ΔAUC {delta:+.4f} ± {se:.4f}, "
          f"p {p:.3g}")
    assert report["paired"]["a"] == "v1" and report["paired"]["b"] == "v2" and block["n"] == EVALUATED
    assert np.sign(block["delta_auc"]) == np.sign(delta) != 0
    assert abs(block["delta_auc"] - delta) < 1e-9 and abs(block["se"] - se) < 1e-9 and abs(block["p"] - p) < 1e-9


async def test_the_same_evaluation_twice_gives_the_same_bytes(http, vader, two_version_run):
    headers = vader["owner"]["headers"]
    again = await http.post(f"/v1/models/{vader['handle']}/evaluations", headers=headers,
                            json={"items": vader["items"], "versions": ["v1", "v2"]})
    assert again.status_code == 202, again.text
    second = await finished(http, again.json()["evaluation_id"], headers)
    assert second["state"] == "succeeded"
    first_text = (await http.get(f"/v1/evaluations/{two_version_run['accepted']['evaluation_id']}",
                                 headers=headers)).text
    second_text = (await http.get(f"/v1/evaluations/{second['evaluation_id']}", headers=headers)).text

    def report_bytes(text: str) -> str:
        return text[text.index('"report":'):text.index(',"error":')]

    assert len(report_bytes(first_text)) > 1000
    assert report_bytes(first_text) == report_bytes(second_text)


async def test_default_version_ndjson_upload_and_the_model_card(http, vader):
    headers, handle = vader["owner"]["headers"], vader["handle"]
    # Word labels (the trait's own pole words among them): poles only, so no Spearman's ρ.
    lines = [json.dumps({"content": item["content"], "Sentiment": "upbeat" if item["sentiment"] > 0.5 else
                         "downbeat" if item["sentiment"] < 0.5 else "mixed", "source_url": "https://x.example/"})
             for item in vader["items"][:60]]
    response = await http.post(f"/v1/models/{handle}/evaluations", content="\n".join(lines) + "\n",
                               headers={**headers, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 202, response.text
    assert response.json()["versions"] == ["v2"]
    evaluation = await finished(http, response.json()["evaluation_id"], headers)
    assert evaluation["state"] == "succeeded" and evaluation["report"]["paired"] is None
    trait = evaluation["report"]["versions"][0]["traits"]["sentiment"]
    assert trait["n"] == 60 and trait["spearman"] is None and trait["auc"]["auc"] is not None
    card = await http.get(f"/v1/models/{handle}", headers={**headers, "Accept": "text/markdown"})
    assert "## Latest evaluation" in card.text and evaluation["evaluation_id"] in card.text
    assert f"| `sentiment` | 60 | {trait['auc']['auc']:.3f} |" in card.text
    listed = (await http.get(f"/v1/models/{handle}/evaluations?limit=1", headers=headers)).json()
    assert [e["evaluation_id"] for e in listed["items"]] == [evaluation["evaluation_id"]] and listed["next_cursor"]


@pytest.mark.parametrize(("body", "content_type", "code", "details"), [
    ('{"content": "fine", "sentiment": 1}\n{"content": "a", "sentimnet": 0}\n', "application/x-ndjson",
     "unknown_trait", {"line": 2, "field": "sentimnet"}),
    ('{"content": "fine", "sentiment": 1}\n\n{"content": "a", "sentiment": "maybe"}\n', "application/x-ndjson",
     "invalid_label", {"line": 3, "field": "sentiment"}),
    ('{"content": "fine", "sentiment": 1.5}\n', "application/x-ndjson", "invalid_label", {"line": 1, "field": "sentiment"}),
    ('{"content": "   ", "sentiment": 1}\n', "application/x-ndjson", "validation_error",
     {"line": 1, "reason": "blank_content"}),
    (json.dumps({"items": [{"content": "a", "sentiment": 1}, {"content": "b", "sentiment": None}]}), "application/json",
     "validation_error", {"index": 1, "reason": "no_label"}),
    (json.dumps({"items": [{"content": "a", "sentiment": 1}], "versions": ["v9"]}), "application/json",
     "unknown_version", {"field": "versions", "version": "v9"}),
    (json.dumps({"items": [{"content": "a", "sentiment": 1}], "versions": ["v1", "v2", "v1"]}), "application/json",
     "validation_error", {"field": "versions"}),
    (json.dumps({"items": [{"content": "a", "sentiment": 1}], "versions": ["v2", "v2"]}), "application/json",
     "validation_error", {"field": "versions"}),
])
async def test_bad_input_is_refused_naming_the_item_and_nothing_is_stored(http, vader, sessionmaker_, body,
                                                                          content_type, code, details):
    async def counts():
        async with sessionmaker_() as session:
            return (await session.scalar(select(func.count()).select_from(Evaluation)),
                    await session.scalar(select(func.count()).select_from(ScoreJob)))

    before = await counts()
    response = await http.post(f"/v1/models/{vader['handle']}/evaluations", content=body,
                               headers={**vader["owner"]["headers"], "Content-Type": content_type})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["details"] == details
    assert await counts() == before


async def test_other_namespaces_see_nothing(http, vader, two_version_run, make_key):
    stranger = await make_key(f"x{vader['namespace']}")
    evaluation_id = two_version_run["accepted"]["evaluation_id"]
    hidden = await http.get(f"/v1/evaluations/{evaluation_id}", headers=stranger["headers"])
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    started = await http.post(f"/v1/models/{vader['handle']}/evaluations", headers=stranger["headers"],
                              json={"items": vader["items"][:2]})
    assert started.status_code == 404
    job_id = two_version_run["accepted"]["jobs"][0]["job_id"]
    assert (await http.get(f"/v1/score-jobs/{job_id}", headers=stranger["headers"])).status_code == 404
    reader = await make_key(vader["namespace"], scope="scoring")
    seen = await http.get(f"/v1/evaluations/{evaluation_id}", headers=reader["headers"])
    assert seen.status_code == 200 and seen.json()["report"] == two_version_run["evaluation"]["report"]


async def test_cli_eval_prints_the_table(served_url, vader, two_version_run, tmp_path):
    source = tmp_path / "labelled.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in vader["items"]))
    result = await run_cli("eval", vader["handle"], str(source), "--versions", "v1", "v2", "--url", served_url,
                           "--key", vader["owner"]["secret"], env=cli_env())
    assert result.exit_code == 0, result.stderr
    print(result.stdout)
    report = two_version_run["evaluation"]["report"]  # the same items and versions: the same numbers
    for block in report["versions"]:
        auc = block["traits"]["sentiment"]["auc"]
        row = next(line for line in result.stdout.splitlines() if line.split()[:2] == ["sentiment", block["version_id"]])
        assert row.split()[2:5] == [str(EVALUATED), f"{auc['auc']:.3f}", f"{auc['low']:.3f}–{auc['high']:.3f}"]
    delta = report["paired"]["traits"]["sentiment"]["delta_auc"]
    assert "paired: v2 against v1" in result.stdout and f"{delta:+.3f}" in result.stdout

    as_json = await run_cli("eval", vader["handle"], str(source), "--versions", "v1", "v2", "--json", "--url",
                            served_url, "--key", vader["owner"]["secret"], env=cli_env())
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["report"] == report

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": "x", "sentiment": "maybe"}\n')
    refused = await run_cli("eval", vader["handle"], str(bad), "--url", served_url, "--key",
                            vader["owner"]["secret"], env=cli_env())
    assert refused.exit_code == 1 and "invalid_label" in refused.stderr and '"line": 1' in refused.stderr


async def test_the_evaluation_and_its_jobs_are_findable_by_model_in_the_web_ui(app, vader, two_version_run):
    client = await app.state.temporal.client()
    evaluation_id = two_version_run["accepted"]["evaluation_id"]
    parent = await client.get_workflow_handle(evaluation_id).describe()
    assert parent.typed_search_attributes[MODEL_HANDLE] == vader["handle"]
    assert parent.typed_search_attributes[OPERATION_KIND] == "evaluation"
    for job in two_version_run["accepted"]["jobs"]:
        child = await client.get_workflow_handle(job["job_id"]).describe()
        assert child.parent_id == evaluation_id and child.workflow_type == "ScoreJobWorkflow"
        assert child.typed_search_attributes[OPERATION_KIND] == "score_job"
        assert child.typed_search_attributes[MODEL_HANDLE] == vader["handle"]


async def test_cancelling_one_of_its_jobs_cancels_the_evaluation_and_its_other_job(http, vader):
    headers = vader["owner"]["headers"]
    items = [{"content": f"{item['content']} Case {i}.", "sentiment": item["sentiment"]}
             for i, item in enumerate(vader["items"] * 15)]
    response = await http.post(f"/v1/models/{vader['handle']}/evaluations", headers=headers,
                               json={"items": items, "versions": ["v1", "v2"]})
    assert response.status_code == 202, response.text
    accepted = response.json()
    first, second = (job["job_id"] for job in accepted["jobs"])
    deadline = time.monotonic() + 120
    while (await http.get(f"/v1/evaluations/{accepted['evaluation_id']}", headers=headers)).json()["progress"]["done"] == 0:
        assert time.monotonic() < deadline, "nothing was scored in 120 s"
        await asyncio.sleep(0.1)
    assert (await http.post(f"/v1/score-jobs/{first}/cancel", headers=headers)).status_code == 200
    evaluation = await finished(http, accepted["evaluation_id"], headers)
    assert evaluation["state"] == "cancelled" and evaluation["error"]["code"] == "cancelled"
    assert evaluation["report"] is None
    other = (await http.get(f"/v1/score-jobs/{second}", headers=headers)).json()
    assert other["state"] == "cancelled" and other["progress"]["done"] < len(items)
