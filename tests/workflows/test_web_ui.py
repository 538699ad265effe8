"""A training run reads well in the Temporal Web UI: its page, rendered by headless Chromium, shows the
phases as named steps (activity types and summaries with the model handle).

The run is the real TrainWorkflow with stand-in activities, on a dev server of the test's own that
serves the UI. Skips when Chromium is not installed (`.ci/run` installs Debian's `chromium`).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cli.ports import free_port
from settings import temporal_cli_path
from tests.workflows.standins import FakeStore
from workflows import search_attributes
from workflows.ids import new_run_id
from workflows.registry import ALL_WORKFLOWS
from workflows.train import TrainWorkflow
from contracts.payloads import OperationInput
from contracts.states import OperationKind

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


async def _dump_dom(url: str) -> str:
    """The page's DOM after its scripts ran (virtual time lets the UI fetch and render the history)."""
    process = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "--virtual-time-budget=10000", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return out.decode()


async def test_a_training_run_shows_its_phases_as_named_steps():
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(), search_attributes=search_attributes.ALL,
        dev_server_log_level="error", ui=True, ui_port=ui_port)
    try:
        handle_name = f"ui{uuid.uuid4().hex[:8]}.support-tone"
        run_id = new_run_id()
        queue = f"web-ui-{uuid.uuid4().hex[:8]}"
        async with Worker(env.client, task_queue=queue, workflows=ALL_WORKFLOWS,
                          activities=FakeStore(count=3).activities()):
            run = await env.client.start_workflow(TrainWorkflow.run,
                                                  OperationInput(run_id, 1, handle_name, OperationKind.TRAIN),
                                                  id=run_id, task_queue=queue)
            await asyncio.wait_for(run.result(), 60)
        page = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{run_id}/{run.result_run_id}/history"
        dom = await _dump_dom(page)
    finally:
        await env.shutdown()

    steps = ["mark_running", "embed_samples", "fit_model", "publish_version"]
    summaries = [f"{step} · {handle_name}" for step in ("embedding", "search and calibration", "publishing")]
    missing = [text for text in steps + summaries if text not in dom]
    assert not missing, f"not on the run's page: {missing}"
