"""The CLI and the API derive the same trait key from the same name (issue 13: they once differed on
accents and on length). Both sides run their real code: the API through HTTP (a trait created without
a key, its key read back), the CLI through its model-file parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.authoring import AuthoringError, load_model_spec
from tests.api.test_models import assert_error, create_model

NAMES = [
    "Café Culture", "Clarity and Simplicity", "Don't  hedge!", "  Tone 2 ", "naïve résumé",
    "Crème Brûlée", "Ångström Über", "Straße", "Øresund", "Łódź",
    "ﬁnal ﬂourish", "ＦＵＬＬ Ｗｉｄｔｈ", "x² + y³", "Ⅻ Chapters", "🔥 Hot Take 🔥",
    "👍🏽", "😀😀😀", "日本語", "Русский текст", "Ελληνικά",
    "العربية", "!!!", "   ", "---", "_",
    "١٢٣", "Tone (v2)", "snake_case_already", "kebab-case-name", "UPPER CASE",
    "Mixed123Digits", "123 Start With Digits", "__leading and trailing__", "tabs\tand\nnewlines", "a.b.c",
    "email@example.com", "50% off — today only", "C++ & C#", "Ça va? Oui!", "日本 Japan 日本",
    "Zoë's Café-Bar", "a" * 100, "b" * 150, "c" * 64 + " extra", "d" * 99 + " e",
    "é" * 120, "Word " * 40, "Ｉｎｆｏ🔥Ｍａｔｉｏｎ", "ǅ digraph", "ⓐⓑⓒ",
]


def cli_key(tmp_path: Path, index: int, name: str) -> str | None:
    """The key `assay build` would send for a trait given only this name; None if it refuses the name."""
    model_file = tmp_path / f"model-{index}.yaml"
    model_file.write_text(json.dumps({"traits": [{"name": name}]}, ensure_ascii=False), encoding="utf-8")
    try:
        spec = load_model_spec(model_file)
    except AuthoringError as refused:
        assert all(problem.field.startswith("traits[0]") for problem in refused.problems), refused
        return None
    return spec.traits[0]["key"]


async def api_key(http, owner, handle: str, name: str) -> str | None:
    """The key the API derives for this name; None if it answers that no key can be made."""
    path = f"/v1/models/{handle}/traits"
    response = await http.post(path, json={"traits": [{"name": name}]}, headers=owner["headers"])
    if response.status_code == 422:
        assert assert_error(response, 422, "validation_error")["details"] == {"indexes": [0]}
        return None
    assert response.status_code == 200, response.text
    (trait,) = response.json()["traits"]
    deleted = await http.delete(f"{path}/{trait['key']}", headers=owner["headers"])
    assert deleted.status_code == 200, deleted.text
    return trait["key"]


def test_the_names_cover_the_hard_cases():
    assert len(NAMES) == len(set(NAMES)) == 50


async def test_cli_and_api_derive_the_same_key_for_every_name(http, owner, namespace, tmp_path):
    handle = f"{namespace}.keys"
    await create_model(http, owner, handle)
    from_api = {name: await api_key(http, owner, handle, name) for name in NAMES}
    from_cli = {name: cli_key(tmp_path, index, name) for index, name in enumerate(NAMES)}
    assert from_cli == from_api
    # The list still exercises what once differed: accents, keys past the CLI's old 64 characters,
    # the 100-character cut, and names from which no key can be made.
    assert from_api["Café Culture"] == "cafe_culture"
    assert from_api["c" * 64 + " extra"] == "c" * 64 + "_extra"
    assert from_api["b" * 150] == "b" * 100
    assert from_api["d" * 99 + " e"] == "d" * 99
    assert sum(key is None for key in from_api.values()) >= 10


@pytest.mark.parametrize("name", ["Café Culture", "c" * 64 + " extra"])
def test_a_derived_key_is_accepted_as_an_explicit_key_by_the_cli(tmp_path, name):
    derived = cli_key(tmp_path, 0, name)
    model_file = tmp_path / "explicit.yaml"
    model_file.write_text(json.dumps({"traits": [{"key": derived, "name": name}]}, ensure_ascii=False),
                          encoding="utf-8")
    assert load_model_spec(model_file).traits[0]["key"] == derived


EXPLICIT_KEYS = ["k" * 100, "k" * 101, "tone\n", "Tone", "-lead", "_lead", "ok-key_1", "9lives", "dot.key", "ключ"]


async def test_cli_and_api_accept_the_same_explicit_keys(http, owner, namespace, tmp_path):
    handle = f"{namespace}.explicit"
    await create_model(http, owner, handle)
    accepted_by_api, accepted_by_cli = {}, {}
    for index, key in enumerate(EXPLICIT_KEYS):
        response = await http.post(f"/v1/models/{handle}/traits", json={"traits": [{"key": key, "name": "Trait"}]},
                                   headers=owner["headers"])
        if response.status_code != 200:
            assert_error(response, 422, "validation_error")
        accepted_by_api[key] = response.status_code == 200
        model_file = tmp_path / f"explicit-{index}.yaml"
        model_file.write_text(json.dumps({"traits": [{"key": key, "name": "Trait"}]}, ensure_ascii=False),
                              encoding="utf-8")
        try:
            accepted_by_cli[key] = load_model_spec(model_file).traits[0]["key"] == key
        except AuthoringError:
            accepted_by_cli[key] = False
    assert accepted_by_cli == accepted_by_api
    assert accepted_by_api["k" * 100] and not accepted_by_api["k" * 101] and not accepted_by_api["tone\n"]
