"""/v1/docs works without internet: a headless Chromium that can resolve no host but this one
renders the operation list from the assets the API serves itself."""

from __future__ import annotations

import asyncio
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


async def run_chromium(*arguments: str) -> str:
    process = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        # Every host but the loopback address fails to resolve: a CDN reference cannot load.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=20000", *arguments,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0
    return out.decode()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
async def test_the_docs_page_lists_the_operations_offline(served_url, tmp_path):
    dom = await run_chromium("--dump-dom", f"{served_url}/v1/docs")
    assert "opblock" in dom  # Swagger UI rendered operation blocks, so its script and the document loaded
    for path in ("/v1/models/{handle}/score", "/v1/models/{handle}/train", "/v1/extract"):
        assert path in dom
    screenshot = tmp_path / "docs.png"
    await run_chromium(f"--screenshot={screenshot}", "--window-size=1280,2000", f"{served_url}/v1/docs")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_docs_page_references_no_other_host(http):
    page = (await http.get("/v1/docs")).text
    assert "/v1/docs/assets/swagger-ui-bundle.js" in page
    assert "://" not in page.replace("http://assay.test", "")
    asset = await http.get("/v1/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000
