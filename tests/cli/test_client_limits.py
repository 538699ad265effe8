"""The client commands against servers that push back: a per-key rate limit, a small body limit, a
URL that is not an Assay API; and the model files' faults reported once."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client import AssayError, AsyncAssayClient
from tests.cli.cli_runner import REPO_ROOT, cli_env, run_cli
from tests.lifespan import served_over_tcp

SUPPORT_REPLY = REPO_ROOT / "examples" / "support-reply" / "model.yaml"
SUPPORT_REPLY_SAMPLES = 184


@asynccontextmanager
async def served_with(settings, temporal_env, **changes) -> AsyncIterator[str]:
    """A second app on the session's database and Temporal, with some settings changed."""
    from api.app import create_app

    app = create_app(settings.model_copy(update=changes), temporal_client=temporal_env.client)
    async with served_over_tcp(app) as url:
        yield url


async def sample_count(http, handle: str, headers: dict) -> int:
    page = (await http.get(f"/v1/models/{handle}/samples", params={"limit": 500}, headers=headers)).json()
    return len(page["items"])


async def test_build_waits_out_rate_limits_and_finishes(settings, temporal_env, http, owner, namespace):
    handle = f"{namespace}.limited"
    # A build sends 4 requests here (read, create, traits, one batch of samples): the 3rd and 4th are
    # refused with 429 at first and must be sent again after Retry-After.
    async with served_with(settings, temporal_env, rate_limit="2/3s") as url:
        result = await run_cli("build", str(SUPPORT_REPLY), "--handle", handle, "--no-train", "--url", url,
                               "--key", owner["secret"], env=cli_env())

    assert result.exit_code == 0, result.stderr
    assert await sample_count(http, handle, owner["headers"]) == SUPPORT_REPLY_SAMPLES


async def test_the_client_gives_up_when_retry_after_exceeds_its_wait_budget(settings, temporal_env, owner):
    async with served_with(settings, temporal_env, rate_limit="1/1h") as url:
        async with AsyncAssayClient(url, owner["secret"], max_retry_wait=5) as client:
            await client.list_models(namespace=owner["namespaces"][0])
            with pytest.raises(AssayError) as refused:
                await client.list_models(namespace=owner["namespaces"][0])

    assert refused.value.code == "rate_limited"
    assert int(refused.value.retry_after) > 5


async def test_build_splits_samples_to_the_servers_body_limit(settings, temporal_env, http, owner, namespace):
    handle = f"{namespace}.small-bodies"
    async with served_with(settings, temporal_env, max_body_bytes=8_000) as url:
        result = await run_cli("build", str(SUPPORT_REPLY), "--handle", handle, "--no-train", "--url", url,
                               "--key", owner["secret"], env=cli_env())

    assert result.exit_code == 0, result.stderr
    assert await sample_count(http, handle, owner["headers"]) == SUPPORT_REPLY_SAMPLES


@contextmanager
def answering_405() -> Iterator[str]:
    """Some other web server: every request gets a bare 405, as a static site answers a POST."""

    class Handler(BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            self.send_response(405)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>405 Method Not Allowed</body></html>")

        do_GET = do_POST = do_PUT = do_DELETE = _refuse

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("command", [("models",), ("score", "public.x", "hello")])
async def test_a_url_that_is_not_an_assay_api_is_named_so(command):
    with answering_405() as url:
        result = await run_cli(*command, "--url", url, "--key", "assay_any_key", env=cli_env())

    assert result.exit_code == 1
    assert result.stderr.startswith(f"assay: not_assay_api: {url}/ is not an Assay API"), result.stderr


def _write_model(directory, samples: list[dict], trait_key: str) -> str:
    (directory / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    (directory / "model.yaml").write_text(
        "traits:\n"
        f"  - key: {trait_key}\n"
        "    positive_label: warm\n"
        "    negative_label: cold\n"
        "sources:\n"
        "  - type: jsonl\n"
        "    path: samples.jsonl\n")
    return str(directory / "model.yaml")


async def test_a_misspelt_trait_key_is_reported_once_with_its_line_count(served_url, owner, namespace, tmp_path):
    samples = [{"content": f"Reply number {n}", "warmth": "warm" if n % 2 else "cold"} for n in range(30)]
    model_file = _write_model(tmp_path, samples, trait_key="warmht")

    result = await run_cli("build", model_file, "--handle", f"{namespace}.typo", "--url", served_url,
                           "--key", owner["secret"], env=cli_env())

    assert result.exit_code == 2
    problems = [line for line in result.stderr.splitlines() if ": warmth: " in line]
    assert len(problems) == 1, result.stderr
    assert problems[0].startswith(f"{tmp_path / 'samples.jsonl'}:1: warmth: ")
    assert "on 30 lines (1, 2, 3, 4, 5, …)" in problems[0] and "did you mean 'warmht'?" in problems[0]
    assert "this line labels no trait" not in result.stderr


async def test_build_warns_when_a_trait_has_too_few_samples_per_pole(served_url, owner, namespace, tmp_path):
    samples = [{"content": "Thanks so much, Ana!", "warmth": "warm"}, {"content": "Closed.", "warmth": "cold"}]
    model_file = _write_model(tmp_path, samples, trait_key="warmth")

    result = await run_cli("build", model_file, "--handle", f"{namespace}.tiny", "--no-train", "--url", served_url,
                           "--key", owner["secret"], env=cli_env())

    assert result.exit_code == 0, result.stderr
    assert ("warning: trait 'warmth' has 1 positive and 1 negative samples; with fewer than 10 on a pole"
            in result.stderr)


async def test_shell_completion_offers_the_commands(tmp_path):
    out = tmp_path / "completions"
    line = "assay ver"
    await run_cli(env=cli_env(_ARGCOMPLETE="1", COMP_LINE=line, COMP_POINT=str(len(line)),
                              _ARGCOMPLETE_STDOUT_FILENAME=str(out)))

    assert out.read_text().split("\v") == ["versions "]
