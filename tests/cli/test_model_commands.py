"""`assay compare`, `feedback`, `versions`, `runs`, `follow` and the default listing of `models`, as
subprocesses against a served app, on models trained by the real worker."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.cli.cli_runner import REPO_ROOT, cli_env, run_cli

COMMIT_MESSAGE = REPO_ROOT / "examples" / "commit-message" / "model.yaml"
BUILD_WAIT = 300  # seconds; bounds the subprocess, not a speed assertion

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture(scope="module")
async def two_versions(served_url, make_key, worker) -> dict:
    """A model trained twice (v1 at effort low, v2 re-tuned at medium): v2 serves."""
    namespace = f"t{uuid.uuid4().hex[:12]}"
    key = await make_key(namespace, scope="authoring")
    handle = f"{namespace}.commits"
    for effort in ("low", "medium"):
        built = await run_cli("build", str(COMMIT_MESSAGE), "--handle", handle, "--effort", effort,
                              "--url", served_url, "--key", key["secret"], env=cli_env(), timeout=BUILD_WAIT)
        assert built.exit_code == 0, built.stderr
    return {"handle": handle, "namespace": namespace, **key}


async def assay(url: str, key: str, *args: str, env: dict | None = None):
    return await run_cli(*args, "--url", url, "--key", key, env=env or cli_env(), timeout=BUILD_WAIT)


async def test_compare_prints_the_chart_and_the_json_differences(served_url, two_versions):
    a, b = "wip", "Fix race in worker shutdown when a task is still heartbeating"

    chart = await assay(served_url, two_versions["secret"], "compare", two_versions["handle"], a, b)
    as_json = await assay(served_url, two_versions["secret"], "compare", two_versions["handle"], a, b, "--json",
                          "--traits", "specificity", "--traits", "professional_tone")

    assert chart.exit_code == 0, chart.stderr
    assert "specificity" in chart.stdout and "professional_tone" in chart.stdout
    assert as_json.exit_code == 0, as_json.stderr
    comparison = json.loads(as_json.stdout)
    assert set(comparison["a"]["scores"]) == set(comparison["b"]["scores"]) == {"specificity", "professional_tone"}
    # The vague message scores lower on specificity than the precise one.
    assert comparison["b"]["scores"]["specificity"] > comparison["a"]["scores"]["specificity"]


async def test_repeated_traits_add_up_on_score(served_url, two_versions):
    result = await assay(served_url, two_versions["secret"], "score", two_versions["handle"], "--json",
                         "--traits", "specificity", "--traits", "professional_tone", "Bump version")

    assert result.exit_code == 0, result.stderr
    assert set(json.loads(result.stdout)["scores"]) == {"specificity", "professional_tone"}


async def test_versions_lists_tags_activates_and_untags(served_url, two_versions):
    handle, secret = two_versions["handle"], two_versions["secret"]

    listed = await assay(served_url, secret, "versions", handle)
    assert listed.exit_code == 0, listed.stderr
    header, newest, oldest = listed.stdout.splitlines()
    assert header.split()[:2] == ["VERSION", "ACTIVE"]
    assert newest.split()[:3] == ["v2", "*", "retune"] and oldest.split()[:2] == ["v1", "train"]

    tagged = await assay(served_url, secret, "versions", "tag", handle, "stable")
    assert tagged.exit_code == 0, tagged.stderr
    assert tagged.stdout.strip() == f"Tagged {handle} v2 as stable."

    to_v1 = await assay(served_url, secret, "versions", "activate", handle, "v1", "--json")
    assert to_v1.exit_code == 0, to_v1.stderr
    assert json.loads(to_v1.stdout)["version_no"] == 1
    versions = json.loads((await assay(served_url, secret, "versions", handle, "--json")).stdout)
    assert [(v["version_no"], v["tags"]) for v in versions] == [(2, ["stable"]), (1, [])]

    by_tag = await assay(served_url, secret, "versions", "activate", handle, "stable")
    assert by_tag.exit_code == 0, by_tag.stderr
    assert by_tag.stdout.strip() == f"{handle} now serves v2."

    untagged = await assay(served_url, secret, "versions", "untag", handle, "stable")
    assert untagged.exit_code == 0, untagged.stderr
    again = await assay(served_url, secret, "versions", "untag", handle, "stable")
    assert again.exit_code == 1
    assert again.stderr.startswith("assay: not_found: ")


async def test_models_without_namespace_lists_the_keys_own_models_and_the_catalog(
        served_url, settings, two_versions, tmp_path):
    # The key is looked up in the data dir's database: point the CLI at the served app's.
    env = cli_env(ASSAY_DATABASE_URL=settings.database_url)

    listed = await assay(served_url, two_versions["secret"], "models", "--json", "--data-dir", str(tmp_path),
                         env=env)

    assert listed.exit_code == 0, listed.stderr
    assert two_versions["handle"] in [m["handle"] for m in json.loads(listed.stdout)]


async def test_follow_shows_the_run_until_it_ends_and_runs_reports_it(served_url, http, owner, namespace):
    handle = f"{namespace}.followed"
    draft = await assay(served_url, owner["secret"], "build", str(COMMIT_MESSAGE), "--handle", handle, "--no-train")
    assert draft.exit_code == 0, draft.stderr
    before = await assay(served_url, owner["secret"], "runs", handle)
    assert before.stdout.strip() == f"{handle} has had no runs yet."

    started = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=owner["headers"])
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    followed = await assay(served_url, owner["secret"], "follow", handle)

    assert followed.exit_code == 0, followed.stderr
    assert f"run       {run_id}" in followed.stdout
    assert "status    succeeded" in followed.stdout
    # Whatever of the run the bar saw, it closes complete (nothing is drawn if it ended before the first poll).
    bar_lines = [line for line in followed.stderr.splitlines() if line.startswith("train ")]
    assert not bar_lines or re.fullmatch(r"train +\[█{30}\] 100%  done", bar_lines[-1]), followed.stderr
    runs = await assay(served_url, owner["secret"], "runs", handle, "--json")
    assert runs.exit_code == 0, runs.stderr
    assert [(r["run_id"], r["kind"], r["status"], r["version_no"]) for r in json.loads(runs.stdout)] == [
        (run_id, "train", "succeeded", 1)]
    table = await assay(served_url, owner["secret"], "runs", handle)
    assert table.stdout.splitlines()[0].split() == ["RUN", "KIND", "STATUS", "EFFORT", "VERSION", "STARTED",
                                                    "FINISHED"]
    assert table.stdout.splitlines()[1].split()[:5] == [run_id, "train", "succeeded", "low", "v1"]
    shown = await assay(served_url, owner["secret"], "runs", "show", run_id)
    assert shown.exit_code == 0, shown.stderr
    assert "status    succeeded" in shown.stdout and "queued: " in shown.stdout and "succeeded: " in shown.stdout
    late = await assay(served_url, owner["secret"], "runs", "cancel", run_id)
    assert late.exit_code == 1 and late.stderr.startswith("assay: run_finished: "), late.stderr


async def test_follow_of_an_unknown_model_prints_the_envelope_code(served_url, owner, namespace):
    result = await assay(served_url, owner["secret"], "follow", f"{namespace}.nothing")

    assert result.exit_code == 1
    assert result.stderr.startswith("assay: not_found: ")


# Last in the module: feedback buffers samples for a background retrain of this model.
async def test_feedback_stores_the_labels_as_samples(served_url, http, two_versions):
    text = f"Refactor the scheduler loop {uuid.uuid4().hex[:6]}"

    result = await assay(served_url, two_versions["secret"], "feedback", two_versions["handle"], text,
                         "--label", "specificity=specific", "--label", "professional_tone=0.9")

    assert result.exit_code == 0, result.stderr
    stored = re.search(r"Stored 2 feedback sample\(s\) for \S+ \(ids (\d+), (\d+)\)\.", result.stdout)
    assert stored, result.stdout
    samples = [s for s in (await http.get(f"/v1/models/{two_versions['handle']}/samples", params={"limit": 500},
                                          headers=two_versions["headers"])).json()["items"]
               if s["text"] == text]
    assert {(s["id"], s["trait"], s["provenance"]) for s in samples} == {
        (int(stored[1]), "specificity", "score_feedback"), (int(stored[2]), "professional_tone", "score_feedback")}
    assert {s["trait"]: s["quality"] for s in samples} == {"specificity": 1.0, "professional_tone": 0.9}
