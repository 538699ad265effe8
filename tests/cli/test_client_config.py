"""Client commands take the server and the key from `.env` as they do from the environment."""

from __future__ import annotations

import json

from tests.cli.cli_runner import cli_env, run_cli


async def test_url_and_key_from_a_dotenv_file(served_url, make_key, namespace, tmp_path):
    key = await make_key(namespace)
    secret = key["headers"]["Authorization"].removeprefix("Bearer ")
    (tmp_path / ".env").write_text(f"ASSAY_URL={served_url}\nASSAY_API_KEY={secret}\n")

    listed = await run_cli("models", "--namespace", namespace, "--json", env=cli_env(), cwd=tmp_path)

    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout) == []


async def test_an_unknown_environment_name_is_reported_as_such(tmp_path):
    result = await run_cli("keys", "list", env={**cli_env(), "ASSAY_ENVIRONMENT": "banana"}, cwd=tmp_path)
    assert result.exit_code == 1
    assert "ASSAY_ENVIRONMENT" in result.stderr and "database" not in result.stderr.lower()
