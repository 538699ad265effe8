"""`assay score-file` and `assay jobs follow` as subprocesses against a served app and the real worker."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from tests.api.trained import CLEAR, WARM, create_model, train_now
from tests.cli.cli_runner import REPO_ROOT, cli_command, cli_env, run_cli

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
async def trained(http, owner, namespace, sessionmaker_) -> str:
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    return handle


async def test_score_file_writes_every_result_in_input_order(served_url, owner, trained, tmp_path):
    source = tmp_path / "input.jsonl"
    source.write_text("".join(json.dumps({"id": f"t{i}", "content": (CLEAR + WARM)[i % 14], "label": "x"}) + "\n"
                              for i in range(40)))
    out = tmp_path / "results.jsonl"
    result = await run_cli("score-file", trained, str(source), "-o", str(out), "--url", served_url,
                           "--key", owner["secret"], env=cli_env())
    assert result.exit_code == 0, result.stderr
    assert "succeeded: 40 scored, 0 failed" in result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"t{i}" for i in range(40)]
    assert all(set(line["result"]["scores"]) == {"clarity", "warmth"} for line in lines)


async def test_score_file_bad_line_is_reported_with_its_number(served_url, owner, trained, tmp_path):
    source = tmp_path / "input.jsonl"
    source.write_text('{"content": "fine"}\n{"content": ""}\n')
    result = await run_cli("score-file", trained, str(source), "--url", served_url, "--key", owner["secret"],
                           env=cli_env())
    assert result.exit_code != 0 and "validation_error" in result.stderr


async def test_ctrl_c_leaves_the_job_running_and_jobs_follow_picks_it_up(served_url, owner, trained, tmp_path):
    source = tmp_path / "input.jsonl"
    source.write_text("".join(json.dumps({"content": f"{CLEAR[i % 8]} Case {i}."}) + "\n" for i in range(3000)))
    process = await asyncio.create_subprocess_exec(
        *cli_command("score-file", trained, str(source), "--url", served_url, "--key", owner["secret"]),
        env=cli_env(), cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    first = await asyncio.wait_for(process.stderr.readline(), 60)  # "job job_…" once the job is accepted
    job_id = first.decode().split()[1]
    assert job_id.startswith("job_")
    process.send_signal(signal.SIGINT)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130
    assert f"assay jobs follow {job_id}" in stderr.decode()

    out = tmp_path / "results.jsonl"
    followed = await run_cli("jobs", "follow", job_id, "-o", str(out), "--url", served_url,
                             "--key", owner["secret"], env=cli_env(), timeout=300)
    assert followed.exit_code == 0, followed.stderr
    assert len(out.read_text().splitlines()) == 3000
