"""model.yaml + JSONL → ModelSpec, and every malformed input reported as file:line: field: message."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from cli.authoring import AuthoringError, Problem, load_model_spec

GOOD_YAML = """\
description: Tone of replies
effort: medium
traits:
  - type: spectrum
    key: warmth
    name: Warmth
    positive_label: warm
    negative_label: cold
  - name: Clarity and Simplicity
    aggregation: max
sources:
  - type: jsonl
    path: data/samples.jsonl
"""


def write(tmp_path: Path, yaml_text: str, lines: list | None = None, jsonl_name: str = "data/samples.jsonl") -> Path:
    model = tmp_path / "model.yaml"
    model.write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    if lines is not None:
        target = tmp_path / jsonl_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
                          encoding="utf-8")
    return model


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(AuthoringError) as caught:
        load_model_spec(path)
    return caught.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --- what a good file becomes ----------------------------------------------------------------------

def test_a_good_file_becomes_rest_inputs(tmp_path):
    path = write(tmp_path, GOOD_YAML, [
        {"content": "Thanks so much, happy to help!", "warmth": "warm", "clarity_and_simplicity": 0.75},
        {"content": "See terms.", "warmth": "COLD", "clarity_and_simplicity": "poor", "source_url": "https://x.test/1"},
        {"content": "Maybe, it depends.", "warmth": "fair", "clarity_and_simplicity": None},
    ])
    spec = load_model_spec(path)
    assert spec.traits == [
        {"key": "warmth", "name": "Warmth", "description": "", "positive_label": "warm", "negative_label": "cold",
         "aggregation": "mean"},
        {"key": "clarity_and_simplicity", "name": "Clarity and Simplicity", "description": "",
         "positive_label": "positive", "negative_label": "negative", "aggregation": "max"},
    ]
    assert spec.samples == [
        {"trait": "warmth", "text": "Thanks so much, happy to help!", "quality": 1.0},
        {"trait": "clarity_and_simplicity", "text": "Thanks so much, happy to help!", "quality": 0.75},
        {"trait": "warmth", "text": "See terms.", "quality": 0.0, "source_url": "https://x.test/1"},
        {"trait": "clarity_and_simplicity", "text": "See terms.", "quality": 0.0, "source_url": "https://x.test/1"},
        {"trait": "warmth", "text": "Maybe, it depends.", "quality": 0.5},
    ]
    assert spec.effort == "medium" and not spec.discover
    assert spec.model_fields() == {"description": "Tone of replies"}
    assert spec.pole_counts() == {"warmth": (1, 1), "clarity_and_simplicity": (1, 1)}
    # One sample per pole parses, and is flagged as too few to trust.
    assert [w.split(";")[0] for w in spec.warnings()] == [
        "trait 'warmth' has 1 positive and 1 negative samples",
        "trait 'clarity_and_simplicity' has 1 positive and 1 negative samples"]
    assert all("fewer than 10 on a pole" in w for w in spec.warnings())


def test_a_mapping_routes_fields_to_traits_and_ignores_the_rest(tmp_path):
    path = write(tmp_path, """\
        traits:
          - {key: clarity, name: Clarity}
        sources:
          - type: jsonl
            path: s.jsonl
            mapping:
              rating: {trait: Clarity}
        """, [{"content": "Step 1: open Settings.", "rating": "good", "reviewer": "ana"}], "s.jsonl")
    spec = load_model_spec(path)
    assert spec.samples == [{"trait": "clarity", "text": "Step 1: open Settings.", "quality": 1.0}]


def test_traits_discover_implies_one_trait_per_labelled_field(tmp_path):
    path = write(tmp_path, """\
        traits: discover
        sources: [{type: jsonl, path: s.jsonl}]
        """, [{"content": "a", "energy": "high"}, {"content": "b", "energy": "low"}], "s.jsonl")
    spec = load_model_spec(path)
    assert spec.discover
    assert [(t["key"], t["name"]) for t in spec.traits] == [("energy", "Energy")]
    assert [s["quality"] for s in spec.samples] == [1.0, 0.0]


def test_readme_and_other_model_fields_are_read(tmp_path):
    (tmp_path / "README.md").write_text("# Tone\n", encoding="utf-8")
    path = write(tmp_path, """\
        readme: README.md
        max_depth: 0
        zero_data_retention: true
        retrain_gate: false
        additional_terms: CC-BY
        upstream_sources: [{url: "https://example.org"}]
        traits: [{key: tone}]
        """)
    spec = load_model_spec(path)
    assert spec.model_fields() == {"readme_markdown": "# Tone\n", "max_depth": 0, "zero_data_retention": True,
                                   "retrain_gate": False, "additional_terms": "CC-BY",
                                   "upstream_sources": [{"url": "https://example.org"}]}
    assert spec.traits[0]["name"] == "tone"
    assert spec.warnings() == ["trait 'tone' has 0 positive and 0 negative samples; training needs both"]


def test_fingerprint_is_stable_and_follows_content(tmp_path):
    lines = [{"content": "Thanks!", "warmth": 1, "clarity_and_simplicity": 1}]
    first = load_model_spec(write(tmp_path, GOOD_YAML, lines)).fingerprint
    assert load_model_spec(tmp_path / "model.yaml").fingerprint == first
    # Same meaning written differently (label word vs number, key order) is the same model.
    write(tmp_path, GOOD_YAML, [{"clarity_and_simplicity": "good", "content": "Thanks!", "warmth": "warm"}])
    assert load_model_spec(tmp_path / "model.yaml").fingerprint == first
    write(tmp_path, GOOD_YAML, [{"content": "Thanks!", "warmth": 0.9, "clarity_and_simplicity": 1}])
    assert load_model_spec(tmp_path / "model.yaml").fingerprint != first
    write(tmp_path, GOOD_YAML.replace("effort: medium", "effort: high"), lines)
    assert load_model_spec(tmp_path / "model.yaml").fingerprint != first


def test_samples_go_out_in_batches_of_at_most_500_and_under_the_byte_budget(tmp_path):
    lines = [{"content": f"reply number {i}", "warmth": i % 2, "clarity_and_simplicity": 1} for i in range(260)]
    spec = load_model_spec(write(tmp_path, GOOD_YAML, lines))
    assert [len(batch) for batch in spec.sample_batches()] == [500, 20]
    assert [s for batch in spec.sample_batches() for s in batch] == spec.samples
    small = list(spec.sample_batches(max_bytes=2_000))
    assert all(len(json.dumps({"samples": batch})) <= 2_000 for batch in small) and len(small) > 2


# --- every kind of problem, with file, line and field -----------------------------------------------

def test_yaml_syntax_error_reports_its_line(tmp_path):
    path = write(tmp_path, "traits:\n  - key: a\n    name: [unclosed\n")
    problem = only(problems_of(path))
    assert problem.file == str(path) and problem.field == "(yaml)" and problem.line >= 3


def test_a_document_that_is_not_a_mapping(tmp_path):
    assert only(problems_of(write(tmp_path, "- just\n- a list\n"))).field == "(document)"


@pytest.mark.parametrize(("yaml_text", "line", "field", "fragment"), [
    ("traits: [{key: a}]\nefort: high\n", 2, "efort", "unknown field"),
    ("traits: [{key: a}]\neffort: huge\n", 2, "effort", "unknown effort"),
    ("traits: [{key: a}]\nmax_depth: -1\n", 2, "max_depth", "0 or more"),
    ("traits: [{key: a}]\nzero_data_retention: maybe\n", 2, "zero_data_retention", "true or false"),
    ("traits: [{key: a}]\nretrain_gate: maybe\n", 2, "retrain_gate", "true or false"),
    ("traits: [{key: a}]\nupstream_sources: oops\n", 2, "upstream_sources", "list of mappings"),
    ("traits: [{key: a}]\nreadme: missing.md\n", 2, "readme", "cannot read"),
    ("description: x\n", 1, "(document)", "required"),
    ("traits: []\n", 1, "traits", "non-empty"),
    ("traits:\n  - key: a\n    type: topic\n", 3, "traits[0].type", "not supported yet"),
    ("traits:\n  - key: a\n    type: ranking\n", 3, "traits[0].type", "unknown trait type"),
    ("traits:\n  - key: Bad Key\n", 2, "traits[0].key", "not a valid key"),
    ("traits:\n  - description: nameless\n", 2, "traits[0]", "key or a name"),
    ("traits:\n  - key: a\n    colour: red\n", 3, "traits[0].colour", "unknown trait field"),
    ("traits:\n  - key: a\n    aggregation: median\n", 3, "traits[0].aggregation", "unknown aggregation"),
    ("traits:\n  - key: a\n    positive_label: Good\n    negative_label: good \n", 4, "traits[0].negative_label",
     "must differ"),
    ("traits:\n  - key: a\n    positive_label: yes\n", 3, "traits[0].positive_label", "in quotes"),
    ("traits:\n  - key: a\n  - key: a\n", 3, "traits[1].key", "already has the key"),
    ("traits:\n  - key: a\n  - 42\n", 3, "traits[1]", "must be a mapping"),
    ("traits: [{key: a}]\nsources:\n  - type: csv\n    path: x.csv\n", 3, "sources[0].type", "not supported"),
    ("traits: [{key: a}]\nsources:\n  - type: jsonl\n", 3, "sources[0].path", "needs a `path`"),
    ("traits: [{key: a}]\nsources:\n  - type: jsonl\n    path: nowhere.jsonl\n", 4, "sources[0].path",
     "cannot read"),
    ("traits: [{key: a}]\nsources:\n  - type: jsonl\n    path: s.jsonl\n    mapping:\n      r: {trait: zz}\n", 6,
     "sources[0].mapping.r.trait", "not a trait"),
    ("traits: [{key: a}]\nsources:\n  - type: jsonl\n    path: s.jsonl\n    mapping:\n      r: a\n", 6,
     "sources[0].mapping.r", "{trait: <key>}"),
    ("traits: [{key: a}]\ndescription: x\ndescription: y\n", 3, "description", "appears twice"),
])
def test_model_yaml_problems(tmp_path, yaml_text, line, field, fragment):
    (tmp_path / "s.jsonl").write_text('{"content": "x", "a": 1}\n', encoding="utf-8")
    problem = only(problems_of(write(tmp_path, yaml_text)))
    assert (problem.file, problem.line, problem.field) == (str(tmp_path / "model.yaml"), line, field)
    assert fragment in problem.message
    assert str(problem).startswith(f"{tmp_path / 'model.yaml'}:{line}: {field}: ")


@pytest.mark.parametrize(("line_text", "field", "fragment"), [
    ('{"content": "ok", "warmth": 1', "(json)", "not valid JSON"),
    ('["content", "warmth"]', "(json)", "JSON object"),
    ('{"warmth": "warm"}', "content", "missing or empty"),
    ('{"content": "   ", "warmth": "warm"}', "content", "missing or empty"),
    ('{"content": "ok", "warmth": "lukewarm"}', "warmth", "not a quality"),
    ('{"content": "ok", "warmth": 1.5}', "warmth", "not a quality"),
    ('{"content": "ok", "warmth": true}', "warmth", "not a quality"),
    ('{"content": "ok", "warmth": "0.7"}', "warmth", "not a quality"),
    ('{"content": "ok", "warmht": "warm"}', "warmht", "not a trait"),
    ('{"content": "ok", "warmth": null}', "content", "labels no trait"),
    ('{"content": "ok", "warmth": 1, "source_url": 5}', "source_url", "must be text"),
])
def test_jsonl_problems_name_the_line_and_field(tmp_path, line_text, field, fragment):
    path = write(tmp_path, GOOD_YAML, [{"content": "fine", "warmth": 1}, "", line_text])
    problem = only(problems_of(path))
    assert (problem.file, problem.line, problem.field) == (str(tmp_path / "data" / "samples.jsonl"), 3, field)
    assert fragment in problem.message


def test_every_problem_is_collected_not_just_the_first(tmp_path):
    path = write(tmp_path, GOOD_YAML.replace("effort: medium", "effort: huge"), [
        {"content": "ok", "warmth": "hot"},
        {"content": "", "warmth": 1},
        {"content": "ok", "clarity": 1},
    ])
    problems = problems_of(path)
    jsonl = str(tmp_path / "data" / "samples.jsonl")
    assert [(p.file, p.line, p.field) for p in problems] == [
        (str(path), 2, "effort"), (jsonl, 1, "warmth"), (jsonl, 2, "content"), (jsonl, 3, "clarity")]
    message = str(AuthoringError(problems))
    assert message.count("\n") == 3 and f"{jsonl}:3: clarity:" in message


def test_a_missing_model_file_is_reported_not_raised_raw(tmp_path):
    problem = only(problems_of(tmp_path / "absent.yaml"))
    assert problem.field == "(file)" and "cannot read" in problem.message
