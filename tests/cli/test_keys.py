"""`assay keys` against the same database the app serves from."""

from __future__ import annotations

import json

from sqlalchemy import select, text

from store.keys import hash_secret
from store.tables import ApiKey
from tests.api.lookup_waits import refused_within
from tests.cli.cli_runner import cli_env, run_cli


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def _create(env, *namespaces: str, scope: str = "authoring", label: str = "", init: bool = False) -> str:
    args = ["keys", "create", "--scope", scope, "--label", label, *(["--init"] if init else [])]
    for name in namespaces:
        args += ["--namespace", name]
    result = await run_cli(*args, env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


async def test_created_key_authenticates_and_only_its_hash_is_stored(database_url, http, sessionmaker_, namespace):
    env = cli_env(ASSAY_DATABASE_URL=database_url)
    secret = await _create(env, namespace, label="integration")

    assert secret.startswith("assay_") and "\n" not in secret
    response = await http.get("/v1/models", params={"namespace": namespace}, headers=_bearer(secret))
    assert response.status_code == 200
    assert response.json()["items"] == []

    async with sessionmaker_() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
        stored = await session.scalar(select(ApiKey.secret_hash).where(ApiKey.prefix == secret.split("_")[1]))
    assert stored == hash_secret(secret)
    assert all(secret not in str(value) for row in rows for value in row)


async def test_scoring_key_reads_but_cannot_author(database_url, http, namespace):
    env = cli_env(ASSAY_DATABASE_URL=database_url)
    secret = await _create(env, namespace, scope="scoring")

    listing = await http.get("/v1/models", params={"namespace": namespace}, headers=_bearer(secret))
    created = await http.post("/v1/models", json={"handle": f"{namespace}.m"}, headers=_bearer(secret))

    assert listing.status_code == 200
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "forbidden"


async def test_list_shows_keys_but_never_their_secrets(database_url, namespace):
    env = cli_env(ASSAY_DATABASE_URL=database_url)
    first = await _create(env, namespace, label="first")
    second = await _create(env, namespace, f"{namespace}-b", scope="scoring", label="second")

    table = await run_cli("keys", "list", env=env)
    as_json = await run_cli("keys", "list", "--json", env=env)

    assert table.exit_code == 0 and as_json.exit_code == 0
    for secret in (first, second):
        assert secret not in table.stdout + table.stderr
        assert secret not in as_json.stdout + as_json.stderr
    listed = {entry["prefix"]: entry for entry in json.loads(as_json.stdout)}
    assert listed[second.split("_")[1]]["namespaces"] == sorted([namespace, f"{namespace}-b"])
    assert listed[second.split("_")[1]]["scope"] == "scoring"
    assert listed[first.split("_")[1]]["revoked_at"] is None
    assert first.split("_")[1] in table.stdout


async def test_revoked_key_is_refused(database_url, http, namespace):
    env = cli_env(ASSAY_DATABASE_URL=database_url)
    secret = await _create(env, namespace)
    prefix = secret.split("_")[1]
    assert (await http.get("/v1/models", params={"namespace": namespace}, headers=_bearer(secret))).status_code == 200

    revoked = await run_cli("keys", "revoke", prefix, env=env)
    again = await run_cli("keys", "revoke", prefix, env=env)
    # The API process trusts a key it verified for up to a second (ASSAY_LOOKUP_CACHE_SECONDS).
    refused = await refused_within(http, 2.0, "GET", "/v1/models", params={"namespace": namespace},
                                   headers=_bearer(secret))
    listed = {e["prefix"]: e for e in json.loads((await run_cli("keys", "list", "--json", env=env)).stdout)}

    assert revoked.exit_code == 0 and again.exit_code == 0
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    assert listed[prefix]["revoked_at"] is not None


async def test_unknown_prefix_and_bad_namespace_are_errors_that_write_nothing(database_url, sessionmaker_):
    env = cli_env(ASSAY_DATABASE_URL=database_url)
    async with sessionmaker_() as session:
        before = await session.scalar(text("SELECT COUNT(*) FROM api_keys"))

    unknown = await run_cli("keys", "revoke", "000000000000", env=env)
    bad_namespace = await run_cli("keys", "create", "--namespace", "Not_Valid", "--scope", "authoring", env=env)
    bad_scope = await run_cli("keys", "create", "--namespace", "fine", "--scope", "admin", env=env)

    assert unknown.exit_code == 1 and "000000000000" in unknown.stderr
    assert bad_namespace.exit_code == 2 and "Not_Valid" in bad_namespace.stderr
    assert bad_scope.exit_code == 2 and "scope" in bad_scope.stderr
    assert not bad_namespace.stdout.strip() and not bad_scope.stdout.strip()
    async with sessionmaker_() as session:
        assert await session.scalar(text("SELECT COUNT(*) FROM api_keys")) == before


async def test_data_dir_selects_the_database(tmp_path):
    """Without ASSAY_DATABASE_URL, keys live in the SQLite file of the chosen data dir."""
    env = cli_env()
    secret = await _create({**env, "ASSAY_DATA_DIR": str(tmp_path / "a")}, "acme", init=True)

    in_a = await run_cli("keys", "list", "--json", "--data-dir", str(tmp_path / "a"), env=env)
    in_b = await run_cli("--data-dir", str(tmp_path / "b"), "keys", "list", "--json", env=env)

    assert [e["prefix"] for e in json.loads(in_a.stdout)] == [secret.split("_")[1]]
    assert in_b.exit_code == 2 and "--init" in in_b.stderr
    assert (tmp_path / "a" / "assay.db").exists() and not (tmp_path / "b" / "assay.db").exists()


async def test_keys_create_where_no_stack_or_database_is_refused_and_creates_nothing(tmp_path):
    """Run from a directory that is not the stack's: no silent new database, no secret the server refuses."""
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    result = await run_cli("keys", "create", "--namespace", "acme", "--scope", "authoring", env=cli_env(),
                           cwd=elsewhere)

    assert result.exit_code == 2, result.stderr
    assert "--init" in result.stderr and not result.stdout.strip()
    assert not (elsewhere / ".assay").exists()


async def test_a_dotenv_file_configures_the_data_dir(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"ASSAY_DATA_DIR={tmp_path / 'stack-data'}\n")
    created = await run_cli("keys", "create", "--namespace", "acme", "--scope", "scoring", "--init",
                            env=cli_env(), cwd=project)
    listed = await run_cli("--data-dir", str(tmp_path / "stack-data"), "keys", "list", "--json", env=cli_env())

    assert created.exit_code == 0, created.stderr
    assert [entry["prefix"] for entry in json.loads(listed.stdout)] == [created.stdout.strip().split("_")[1]]
