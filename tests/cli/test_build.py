"""`assay build` as a user runs it: a subprocess talking to a served app, training on the real worker
with the real embedder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.cli.cli_runner import REPO_ROOT, cli_env, run_cli

SUPPORT_REPLY = REPO_ROOT / "examples" / "support-reply" / "model.yaml"
BUILD_WAIT = 300  # seconds; bounds the subprocess, not a speed assertion

pytestmark = pytest.mark.usefixtures("worker")


async def build(*args: str, url: str, key: str):
    return await run_cli("build", *args, "--url", url, "--key", key, env=cli_env(), timeout=BUILD_WAIT)


async def versions_of(http, handle: str, headers: dict) -> list[dict]:
    response = await http.get(f"/v1/models/{handle}/versions", headers=headers)
    assert response.status_code == 200
    return response.json()["items"]


async def test_build_trains_the_example_and_a_second_run_changes_nothing(served_url, http, owner, namespace):
    handle = f"{namespace}.x"

    first = await build(str(SUPPORT_REPLY), "--handle", handle, url=served_url, key=owner["secret"])

    assert first.exit_code == 0, first.stderr
    assert f"Created draft {handle} with 2 trait(s) and 184 sample(s)." in first.stderr
    assert re.search(r"Training started: run run_[0-9A-Z]{26}", first.stderr)
    # The progress bar ends complete once the model is ready.
    assert re.search(r"^train +\[█{30}\] 100%  done$", first.stderr, re.MULTILINE), first.stderr
    assert f"{handle} is ready: v1 (effort high)" in first.stdout
    assert re.search(r"^  warmth +AUC 0\.\d{3}", first.stdout, re.MULTILINE)
    assert re.search(r"^  clarity +AUC 0\.\d{3}", first.stdout, re.MULTILINE)
    model = (await http.get(f"/v1/models/{handle}", headers=owner["headers"])).json()
    assert model["state"] == "ready" and model["version_no"] == 1
    assert model["traits"] == ["Warmth", "Clarity"]

    again = await build(str(SUPPORT_REPLY), "--handle", handle, url=served_url, key=owner["secret"])

    assert again.exit_code == 0, again.stderr
    assert "nothing changed" in again.stderr
    assert "Training started" not in again.stderr
    assert f"{handle} is ready: v1" in again.stdout
    assert len(await versions_of(http, handle, owner["headers"])) == 1


def _copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "support-reply"
    shutil.copytree(SUPPORT_REPLY.parent, target)
    return target / "model.yaml"


async def test_changed_samples_on_a_trained_model_are_refused_and_nothing_is_written(
        served_url, http, owner, namespace, tmp_path):
    handle = f"{namespace}.locked"
    model_file = _copy_example(tmp_path)
    trained = await build(str(model_file), "--handle", handle, "--effort", "low", url=served_url, key=owner["secret"])
    assert trained.exit_code == 0, trained.stderr
    samples = model_file.parent / "samples.jsonl"
    samples.write_text("".join(samples.read_text().splitlines(keepends=True)[1:]))

    refused = await build(str(model_file), "--handle", handle, "--effort", "low", url=served_url, key=owner["secret"])

    assert refused.exit_code == 1
    assert "assay: definition_locked:" in refused.stderr
    # The dropped line labelled both traits: two samples.
    assert "2 sample(s) on the server are no longer in the files" in refused.stderr
    samples_page = (await http.get(f"/v1/models/{handle}/samples", params={"limit": 500},
                                   headers=owner["headers"])).json()
    assert len(samples_page["items"]) == 184
    assert len(await versions_of(http, handle, owner["headers"])) == 1


async def test_a_new_effort_on_a_trained_model_retunes_it(served_url, http, owner, namespace):
    handle = f"{namespace}.tuned"
    low = await build(str(SUPPORT_REPLY), "--handle", handle, "--effort", "low", url=served_url, key=owner["secret"])
    assert low.exit_code == 0, low.stderr

    medium = await build(str(SUPPORT_REPLY), "--handle", handle, "--effort", "medium", url=served_url,
                         key=owner["secret"])

    assert medium.exit_code == 0, medium.stderr
    assert "re-tuning at medium" in medium.stderr
    assert f"{handle} is ready: v2 (effort medium)" in medium.stdout
    versions = await versions_of(http, handle, owner["headers"])
    assert [(v["version_no"], v["triggered_by"]) for v in versions] == [(2, "retune"), (1, "train")]


async def test_no_train_leaves_a_draft_that_a_later_build_trains(served_url, http, owner, namespace):
    handle = f"{namespace}.later"
    draft = await build(str(SUPPORT_REPLY), "--handle", handle, "--no-train", url=served_url, key=owner["secret"])
    assert draft.exit_code == 0, draft.stderr
    assert (await http.get(f"/v1/models/{handle}", headers=owner["headers"])).json()["state"] == "draft"

    trained = await build(str(SUPPORT_REPLY), "--handle", handle, "--effort", "low", url=served_url,
                          key=owner["secret"])

    assert trained.exit_code == 0, trained.stderr
    assert f"Draft {handle} already matches the files." in trained.stderr
    assert f"{handle} is ready: v1" in trained.stdout


async def test_malformed_files_are_listed_with_file_line_and_field_and_nothing_is_sent(
        served_url, http, owner, namespace, tmp_path):
    (tmp_path / "samples.jsonl").write_text(
        '{"content": "Thanks, fixed it.", "tone": "warm"}\n'
        '{"content": "", "tone": "cold"}\n'
        '{"content": "We will look into it.", "tone": "lukewarm"}\n'
    )
    (tmp_path / "model.yaml").write_text(
        "description: broken on purpose\n"
        "effort: extreme\n"
        "traits:\n"
        "  - key: tone\n"
        "    positive_label: warm\n"
        "    negative_label: cold\n"
        "    colour: blue\n"
        "sources:\n"
        "  - type: jsonl\n"
        "    path: samples.jsonl\n"
    )
    handle = f"{namespace}.broken"

    result = await build(str(tmp_path / "model.yaml"), "--handle", handle, url=served_url, key=owner["secret"])

    assert result.exit_code == 2
    yaml_file, jsonl_file = tmp_path / "model.yaml", tmp_path / "samples.jsonl"
    assert f"{yaml_file}:2: effort: " in result.stderr
    assert f"{yaml_file}:7: traits[0].colour: " in result.stderr
    assert f"{jsonl_file}:2: content: " in result.stderr
    # `tone` is no trait here (the trait was refused): one problem for both lines that carry it.
    assert f"{jsonl_file}:1: tone: " in result.stderr and "on 2 lines (1, 3)" in result.stderr
    assert "nothing was sent" in result.stderr
    missing = await http.get(f"/v1/models/{handle}", headers=owner["headers"])
    assert missing.status_code == 404


async def test_a_key_that_does_not_own_the_namespace_gets_the_envelope_code(served_url, make_key, namespace):
    outsider = await make_key(f"{namespace}-other", scope="authoring")

    result = await build(str(SUPPORT_REPLY), "--handle", f"{namespace}.x", url=served_url, key=outsider["secret"])

    assert result.exit_code == 1
    assert result.stderr.startswith("assay: forbidden: ") or "\nassay: forbidden: " in result.stderr
