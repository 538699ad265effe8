"""The shipped example catalog parses and has enough, balanced data to train every trait."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.authoring import load_model_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODELS = sorted(path.parent.name for path in EXAMPLES.glob("*/model.yaml"))


def test_the_catalog_has_the_promised_models():
    assert {"commit-message", "support-reply"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_example_parses_with_enough_samples_on_both_poles(name):
    spec = load_model_spec(EXAMPLES / name / "model.yaml")
    assert spec.readme_markdown and spec.description
    assert len(spec.traits) >= 2
    for key, (positive, negative) in spec.pole_counts().items():
        assert positive + negative >= 60, key
        # Roughly half and half, so neither pole is learned from a handful of texts.
        assert 0.35 <= positive / (positive + negative) <= 0.65, (key, positive, negative)
    assert spec.warnings() == []


@pytest.mark.parametrize("name", MODELS)
def test_example_uses_label_words_and_numbers(name):
    raw = (EXAMPLES / name / "samples.jsonl").read_text(encoding="utf-8")
    assert '": "' in raw and any(f'": {n}' in raw for n in ("0.1", "0.9", "1.0", "0.0"))
