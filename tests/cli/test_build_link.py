"""`assay build` links a run to the Temporal UI only of the stack it is talking to."""

from __future__ import annotations

import argparse
import fcntl
import os

import pytest

from cli.build import _workflows_url
from cli.stack import LOCK_FILE, record_url, record_workflows_url

API = "http://127.0.0.1:48000"
WORKFLOWS = "http://127.0.0.1:48233/namespaces/default/workflows"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for name in [name for name in os.environ if name.startswith("ASSAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the caller's
    directory = tmp_path / ".assay"
    directory.mkdir()
    record_url(directory, API)
    record_workflows_url(directory, WORKFLOWS)
    return directory


def args(data_dir, url=None) -> argparse.Namespace:
    return argparse.Namespace(data_dir=str(data_dir), url=url, key=None)


def test_the_link_comes_from_the_running_stack_that_build_talks_to(data_dir):
    with open(data_dir / LOCK_FILE, "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what a running `assay up` holds
        assert _workflows_url(args(data_dir)) == WORKFLOWS
        assert _workflows_url(args(data_dir, url=API)) == WORKFLOWS
        assert _workflows_url(args(data_dir, url="http://elsewhere:8000")) is None


def test_no_link_from_a_stack_that_no_longer_runs(data_dir):
    assert _workflows_url(args(data_dir)) is None
