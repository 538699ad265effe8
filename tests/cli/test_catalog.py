"""`assay up` seeds the example catalog: a real stack in a subprocess, the real embedder, a fresh data dir."""

from __future__ import annotations

import subprocess
import time

import httpx

from tests.cli.cli_runner import REPO_ROOT, cli_command, cli_env
from tests.cli.test_up import RunningStack

SEED_WAIT = 300  # seconds; bounds the wait for both examples, not a speed assertion
EXAMPLES = ("public.commit-message", "public.support-reply")


def wait_for_output(stack: RunningStack, *needles: str) -> None:
    deadline = time.monotonic() + SEED_WAIT
    while not all(needle in stack.output() for needle in needles):
        assert stack.process.poll() is None, f"assay up exited:\n{stack.output()}"
        assert time.monotonic() < deadline, (
            f"not seeded within {SEED_WAIT}s:\n{stack.output()}\n--- catalog.log:\n{catalog_log(stack)}")
        time.sleep(0.5)


def catalog_log(stack: RunningStack) -> str:
    path = stack.data_dir / "logs" / "catalog.log"
    return path.read_text() if path.exists() else "(no catalog.log)"


def version_numbers(stack: RunningStack, headers: dict) -> dict[str, list[int]]:
    numbers = {}
    for handle in EXAMPLES:
        page = httpx.get(f"{stack.url}/v1/models/{handle}/versions", headers=headers, timeout=10)
        assert page.status_code == 200, page.text
        numbers[handle] = [v["version_no"] for v in page.json()["items"]]
    return numbers


def test_up_seeds_the_examples_once_and_the_dev_key_scores_them(tmp_path):
    data_dir = tmp_path / "stack"
    first = RunningStack(data_dir, "--workers", "1")
    try:
        first.wait_until_up()
        wait_for_output(first, *(f"Example {handle} is ready (v1)." for handle in EXAMPLES))

        catalog_key = (data_dir / "catalog-key").read_text().strip()
        assert (data_dir / "catalog-key").stat().st_mode & 0o777 == 0o600
        owner_headers = {"Authorization": f"Bearer {catalog_key}"}
        assert version_numbers(first, owner_headers) == {handle: [1] for handle in EXAMPLES}
        listed = httpx.get(f"{first.url}/v1/models", headers=owner_headers, timeout=10).json()["items"]
        assert {(m["handle"], m["state"]) for m in listed} >= {(handle, "ready") for handle in EXAMPLES}

        # The README's promise: the dev key (found in the data dir) scores the catalog model.
        scored = subprocess.run(
            cli_command("score", "public.commit-message", "Fix race in worker shutdown",
                        "--data-dir", str(data_dir), "--url", first.url),
            cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=60, check=False)
        assert scored.returncode == 0, scored.stderr
        rows = [line.split()[0] for line in scored.stdout.splitlines() if "░" in line or "█" in line]
        assert rows == ["specificity", "professional_tone", "Composite"]
        assert "public.commit-message is ready: v1" in catalog_log(first)

        assert first.stop() == 0
    finally:
        first.kill()

    again = RunningStack(data_dir, "--workers", "1")
    try:
        again.wait_until_up()
        wait_for_output(again, *(f"Example {handle} is ready (v1, trained on an earlier start)." for handle in EXAMPLES))

        assert (data_dir / "catalog-key").read_text().strip() == catalog_key
        assert version_numbers(again, owner_headers) == {handle: [1] for handle in EXAMPLES}
        assert again.stop() == 0
    finally:
        again.kill()


def test_no_examples_leaves_the_catalog_empty(tmp_path):
    data_dir = tmp_path / "stack"
    stack = RunningStack(data_dir, "--workers", "0", "--no-examples")
    try:
        stack.wait_until_up()
        dev_key = (data_dir / "dev-key").read_text().strip()
        # Seeding would start right after the banner; with it off, there is no key and no log for it.
        listed = httpx.get(f"{stack.url}/v1/models", headers={"Authorization": f"Bearer {dev_key}"}, timeout=10)
        assert listed.json()["items"] == []
        assert stack.stop() == 0
        assert not (data_dir / "catalog-key").exists()
        assert not (data_dir / "logs" / "catalog.log").exists()
    finally:
        stack.kill()


def test_an_install_without_examples_says_so_and_issues_no_key(tmp_path):
    from cli.catalog import CatalogSeeder
    from settings import Settings

    announced: list[str] = []
    seeder = CatalogSeeder(Settings(environment="test", data_dir=tmp_path), "http://127.0.0.1:9",
                           examples_dir=tmp_path / "not-there", announce=announced.append)
    seeder.start()
    seeder.thread.join(30)

    assert announced == ["Example catalog: this install has no examples/ directory; nothing seeded."]
    assert "nothing to seed" in (tmp_path / "logs" / "catalog.log").read_text()
    assert not (tmp_path / "catalog-key").exists()
