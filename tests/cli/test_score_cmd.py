"""`assay score` and `assay models` as subprocesses against a served app, on a model trained by the
real worker from the commit-message example."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.cli.cli_runner import REPO_ROOT, CliResult, cli_command, cli_env, run_cli

COMMIT_MESSAGE = REPO_ROOT / "examples" / "commit-message" / "model.yaml"
TRAIT_ROW = re.compile(r"^(?P<key>\S+) +(?P<bar>[█░]{20}) +(?P<score>\d{1,3})  [●○]{3}")

pytestmark = pytest.mark.usefixtures("worker")


async def cli_with_stdin(*args: str, stdin: str) -> CliResult:
    process = await asyncio.create_subprocess_exec(
        *cli_command(*args), env=cli_env(), cwd=REPO_ROOT, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    return CliResult(process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture
async def trained(served_url, owner, namespace) -> str:
    handle = f"{namespace}.commits"
    built = await run_cli("build", str(COMMIT_MESSAGE), "--handle", handle, "--effort", "low",
                          "--url", served_url, "--key", owner["secret"], env=cli_env(), timeout=300)
    assert built.exit_code == 0, built.stderr
    return handle


def chart_rows(output: str) -> dict[str, tuple[str, int]]:
    rows = {}
    for line in output.splitlines():
        match = TRAIT_ROW.match(line)
        if match:
            rows[match["key"]] = (match["bar"], int(match["score"]))
    return rows


async def test_score_prints_one_bar_per_trait_and_the_composite(served_url, owner, trained):
    result = await run_cli("score", trained, "Fix race in worker shutdown", "--url", served_url,
                           "--key", owner["secret"], env=cli_env())

    assert result.exit_code == 0, result.stderr
    rows = chart_rows(result.stdout)
    assert set(rows) == {"specificity", "professional_tone", "Composite"}
    for bar, score in rows.values():
        assert bar.count("█") == round(score / 5)


async def test_score_json_prints_the_card_and_matches_the_chart(served_url, owner, trained):
    words = ["fixed", "stuff", "lol"]
    as_json = await run_cli("score", trained, "--json", *words, "--url", served_url, "--key", owner["secret"],
                            env=cli_env())
    as_chart = await run_cli("score", trained, *words, "--url", served_url, "--key", owner["secret"], env=cli_env())

    assert as_json.exit_code == 0, as_json.stderr
    card = json.loads(as_json.stdout)
    assert set(card["scores"]) == {"specificity", "professional_tone"}
    assert card["metadata"]["version_id"] == "v1"
    rows = chart_rows(as_chart.stdout)
    assert {key: score for key, (_, score) in rows.items() if key != "Composite"} == card["scores"]
    assert rows["Composite"][1] == card["composite"]


async def test_score_reads_stdin_and_limits_traits(served_url, owner, trained):
    result = await cli_with_stdin("score", trained, "-", "--traits", "specificity", "--url", served_url,
                                  "--key", owner["secret"], stdin="Bump version\n")

    assert result.exit_code == 0, result.stderr
    # One trait: no composite row.
    assert set(chart_rows(result.stdout)) == {"specificity"}


async def test_score_falls_back_to_the_dev_key_in_the_data_dir(served_url, owner, trained, tmp_path):
    (tmp_path / "dev-key").write_text(owner["secret"] + "\n")

    result = await run_cli("score", trained, "Add retry to webhook sender", "--data-dir", str(tmp_path),
                           "--url", served_url, env=cli_env())

    assert result.exit_code == 0, result.stderr
    assert "Composite" in result.stdout


async def test_score_of_an_unknown_model_exits_1_with_not_found(served_url, owner, namespace):
    result = await run_cli("score", f"{namespace}.nothing-here", "hello", "--url", served_url,
                           "--key", owner["secret"], env=cli_env())

    assert result.exit_code == 1
    assert result.stderr.startswith("assay: not_found: ")
    assert result.stdout == ""


async def test_models_lists_a_namespace_as_a_table_and_as_json(served_url, owner, namespace, trained):
    table = await run_cli("models", "--namespace", namespace, "--url", served_url, "--key", owner["secret"],
                          env=cli_env())
    as_json = await run_cli("models", "--namespace", namespace, "--state", "ready", "--json", "--url", served_url,
                            "--key", owner["secret"], env=cli_env())
    drafts = await run_cli("models", "--namespace", namespace, "--state", "draft", "--url", served_url,
                           "--key", owner["secret"], env=cli_env())

    assert table.exit_code == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == ["HANDLE", "STATE", "VERSION", "TRAITS"]
    assert row.split(None, 3) == [trained, "ready", "v1", "Specificity, Professional tone"]
    assert [m["handle"] for m in json.loads(as_json.stdout)] == [trained]
    assert drafts.stdout.strip() == "No models."


async def test_models_with_a_bad_key_exits_1_with_unauthorized(served_url):
    result = await run_cli("models", "--url", served_url, "--key", "assay_nope_nope", env=cli_env())

    assert result.exit_code == 1
    assert result.stderr.startswith("assay: unauthorized: ")
