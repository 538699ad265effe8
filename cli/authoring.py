"""Authoring files (SPEC §7): `model.yaml` plus JSONL sample files → a `ModelSpec` ready for the REST API.

Every problem in the files is collected (not just the first) and raised together as `AuthoringError`,
each one as `file:line: field: message`.

Decisions where the spec is silent:
- Top-level fields besides the spec's are `readme` (path to a markdown file, relative to model.yaml,
  sent as `readme_markdown`), `max_depth`, `zero_data_retention` and `retrain_gate`. Unknown fields are errors, so a
  typo never silently drops a setting.
- A trait's `type` defaults to `spectrum`; `topic`, `claim`, `outlier` are recognised and refused as
  not supported yet. `key` may be omitted: it is derived from `name` by the API's rule
  (`domain.traits.derive_key`: "Café Culture" → `cafe_culture`); `name` may be omitted: it
  defaults to the key. Two traits with one key, or a trait whose two pole labels are the same
  word, are errors.
- `traits: discover` declares no traits up front: one spectrum trait is implied per trait key the
  sources label (named after the key), and `ModelSpec.discover` tells `assay build` to run discovery
  before training.
- A source's `mapping` routes JSONL fields to traits (`{field: {trait: key-or-name}}`); fields it does
  not name are ignored. Without a mapping each field other than `content` and `source_url` must be a
  trait key or name (a field starting with `_` is a comment) — typos in trait fields are caught.
- A label of `null` leaves the line unlabelled for that trait; a line that labels no trait is an error.
- A field that names no trait is reported once per file, at its first line, with the number of lines
  that carry it (a misspelt trait key in model.yaml would otherwise repeat on every line), and the
  closest trait key when one is near.
- `assay build` warns (and goes on) when a trait has fewer than 10 samples on a pole: the model trains,
  but its scores and confidence rest on too few examples to mean much. 10 is a judgment, not a
  measurement: training cross-validates in up to 5 folds, and 10 per pole gives every fold at least
  two examples of each pole to calibrate on.
- Labels follow the API's rules (`domain.labels.parse_quality`), the trait's own pole labels included.
- Samples are sent in batches of at most 500 that also stay under the body limit the server
  advertises (`X-Max-Body-Bytes`), or under 900 kB of JSON (below the default 1 MiB limit) when it
  advertises none.
- The fingerprint is a sha256 over the canonical JSON of everything that would be sent, so it changes
  exactly when the model that `assay build` would create changes.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from domain.effort import EFFORTS
from domain.labels import InvalidLabel, parse_quality
from domain.traits import AGGREGATIONS, DEFAULT_AGGREGATION, TRAIT_KEY_RE, derive_key

FUTURE_TRAIT_TYPES = ("topic", "claim", "outlier")
TOP_LEVEL_FIELDS = ("description", "effort", "traits", "sources", "additional_terms", "upstream_sources",
                    "readme", "max_depth", "zero_data_retention", "retrain_gate")
TRAIT_FIELDS = ("type", "key", "name", "description", "positive_label", "negative_label", "aggregation")
SOURCE_FIELDS = ("type", "path", "mapping")
SAMPLE_META_FIELDS = ("content", "source_url")
BATCH_SIZE = 500
MIN_SAMPLES_PER_POLE = 10  # below this, build warns that scores rest on too few examples
BATCH_MAX_BYTES = 900_000
MAX_PROBLEMS_SHOWN = 50


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class AuthoringError(Exception):
    """The authoring files are malformed; `problems` lists every fault found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = [str(problem) for problem in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
        super().__init__("\n".join(shown))


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model: model fields, REST `TraitInput`s and `SampleInput`s (trait by key)."""

    path: Path
    description: str | None
    effort: str | None
    additional_terms: str | None
    upstream_sources: list[dict[str, Any]] | None
    readme_markdown: str | None
    max_depth: int | None
    zero_data_retention: bool | None
    discover: bool
    traits: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    fingerprint: str = field(default="")
    retrain_gate: bool | None = None

    def model_fields(self) -> dict[str, Any]:
        """The create/patch body without the handle; unset fields are left to the server."""
        fields = {"description": self.description, "additional_terms": self.additional_terms,
                  "upstream_sources": self.upstream_sources, "readme_markdown": self.readme_markdown,
                  "max_depth": self.max_depth, "zero_data_retention": self.zero_data_retention,
                  "retrain_gate": self.retrain_gate}
        return {name: value for name, value in fields.items() if value is not None}

    def sample_batches(self, size: int = BATCH_SIZE, *, max_bytes: int | None = None) -> Iterator[list[dict]]:
        """Batches of at most ``size`` samples whose JSON body stays within ``max_bytes`` (measured the
        roomy way: with spaces after separators, which httpx does not send). A single sample larger than
        the limit still goes alone, and the server's 413 names the limit."""
        max_bytes = max_bytes or BATCH_MAX_BYTES
        envelope_bytes = len('{"samples": []}')
        batch: list[dict[str, Any]] = []
        batch_bytes = envelope_bytes
        for sample in self.samples:
            sample_bytes = len(json.dumps(sample, ensure_ascii=False).encode("utf-8")) + len(", ")
            if batch and (len(batch) >= size or batch_bytes + sample_bytes > max_bytes):
                yield batch
                batch, batch_bytes = [], envelope_bytes
            batch.append(sample)
            batch_bytes += sample_bytes
        if batch:
            yield batch

    def pole_counts(self) -> dict[str, tuple[int, int]]:
        """Per trait key: (positive samples, negative samples) by the API's rule (> 0.5, < 0.5)."""
        counts = {trait["key"]: [0, 0] for trait in self.traits}
        for sample in self.samples:
            if sample["quality"] > 0.5:
                counts[sample["trait"]][0] += 1
            elif sample["quality"] < 0.5:
                counts[sample["trait"]][1] += 1
        return {key: (pos, neg) for key, (pos, neg) in counts.items()}

    def warnings(self) -> list[str]:
        """Things that parse but will make training refuse (a trait lacking a pole) or train a model
        whose scores mean little (a pole with fewer than MIN_SAMPLES_PER_POLE samples)."""
        warnings = []
        for key, (pos, neg) in self.pole_counts().items():
            if not pos or not neg:
                warnings.append(f"trait {key!r} has {pos} positive and {neg} negative samples; training needs both")
            elif min(pos, neg) < MIN_SAMPLES_PER_POLE:
                warnings.append(f"trait {key!r} has {pos} positive and {neg} negative samples; with fewer than "
                                f"{MIN_SAMPLES_PER_POLE} on a pole its scores and confidence rest on too few "
                                "examples to trust")
        return warnings


def _format_field(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


class _YamlDocument:
    """The parsed YAML plus its node tree, so any field can be traced back to its line."""

    def __init__(self, file: str, root: yaml.Node) -> None:
        self.file = file
        self.root = root

    def line(self, path: tuple[str | int, ...]) -> int:
        node = self.root
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
        return node.start_mark.line + 1

    def duplicate_keys(self) -> Iterator[tuple[int, str]]:
        stack = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                seen: set[Any] = set()
                for key, value in node.value:
                    if getattr(key, "value", None) in seen:
                        yield key.start_mark.line + 1, str(key.value)
                    seen.add(getattr(key, "value", None))
                    stack.append(value)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)


class _Parser:
    def __init__(self, yaml_path: Path) -> None:
        self.yaml_path = yaml_path
        self.base_dir = yaml_path.parent
        self.problems: list[Problem] = []
        self.doc: _YamlDocument | None = None

    def problem(self, path: tuple[str | int, ...], message: str) -> None:
        assert self.doc is not None
        self.problems.append(Problem(self.doc.file, self.doc.line(path), _format_field(path), message))

    # --- model.yaml ------------------------------------------------------------------------------
    def parse(self) -> ModelSpec:
        file = str(self.yaml_path)
        try:
            text = self.yaml_path.read_text(encoding="utf-8")
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except OSError as exc:
            raise AuthoringError([Problem(file, 0, "(file)", f"cannot read: {exc.strerror or exc}")]) from exc
        except UnicodeDecodeError as exc:
            raise AuthoringError([Problem(file, 0, "(file)", "not UTF-8 text")]) from exc
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else 0
            raise AuthoringError([Problem(file, line, "(yaml)", str(exc.problem or exc))]) from exc
        if root is None or not isinstance(data, dict):
            raise AuthoringError([Problem(file, 1, "(document)", "expected a mapping with at least `traits`")])
        self.doc = _YamlDocument(file, root)
        for line, key in self.doc.duplicate_keys():
            self.problems.append(Problem(file, line, key, "appears twice in the same mapping"))
        for name in data:
            if name not in TOP_LEVEL_FIELDS:
                self.problem((name,), f"unknown field; expected one of {', '.join(TOP_LEVEL_FIELDS)}")

        description = self.optional_str(data, ("description",))
        additional_terms = self.optional_str(data, ("additional_terms",))
        effort = self.optional_str(data, ("effort",))
        if effort is not None and effort not in EFFORTS:
            self.problem(("effort",), f"unknown effort {effort!r}; expected one of {', '.join(EFFORTS)}")
        max_depth = data.get("max_depth")
        if max_depth is not None and (not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 0):
            self.problem(("max_depth",), "must be a whole number, 0 or more")
        zdr = data.get("zero_data_retention")
        if zdr is not None and not isinstance(zdr, bool):
            self.problem(("zero_data_retention",), "must be true or false")
        gate = data.get("retrain_gate")
        if gate is not None and not isinstance(gate, bool):
            self.problem(("retrain_gate",), "must be true or false")
        upstream = data.get("upstream_sources")
        if upstream is not None and not (isinstance(upstream, list) and all(isinstance(u, dict) for u in upstream)):
            self.problem(("upstream_sources",), "must be a list of mappings")
        readme = self.read_readme(data)

        discover, traits = self.parse_traits(data)
        samples = self.parse_sources(data, traits, discover)
        if self.problems:
            raise AuthoringError(self.problems)
        spec = ModelSpec(self.yaml_path, description, effort, additional_terms, upstream, readme, max_depth, zdr,
                         discover, traits, samples, retrain_gate=gate)
        return _with_fingerprint(spec)

    def optional_str(self, mapping: dict, path: tuple[str | int, ...]) -> str | None:
        value = mapping.get(path[-1])
        if isinstance(value, bool):  # YAML reads a bare yes/no/on/off as a boolean
            self.problem(path, "must be text; put yes/no/on/off in quotes")
            return None
        if value is not None and not isinstance(value, str):
            self.problem(path, "must be text")
            return None
        return value

    def read_readme(self, data: dict) -> str | None:
        readme = self.optional_str(data, ("readme",))
        if readme is None:
            return None
        try:
            return (self.base_dir / readme).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(("readme",), f"cannot read {readme!r}: {getattr(exc, 'strerror', None) or exc}")
            return None

    # --- traits ----------------------------------------------------------------------------------
    def parse_traits(self, data: dict) -> tuple[bool, list[dict[str, Any]]]:
        raw = data.get("traits")
        if raw == "discover":
            return True, []
        if raw is None:
            self.problem(("traits",) if "traits" in data else (), "`traits` is required: a list of traits "
                         "or the word `discover`")
            return False, []
        if not isinstance(raw, list) or not raw:
            self.problem(("traits",), "must be a non-empty list of traits or the word `discover`")
            return False, []
        traits: list[dict[str, Any]] = []
        for index, item in enumerate(raw):
            trait = self.parse_trait(item, ("traits", index))
            if trait is None:
                continue
            if any(other["key"] == trait["key"] for other in traits):
                self.problem(("traits", index, "key"), f"another trait already has the key {trait['key']!r}")
                continue
            traits.append(trait)
        return False, traits

    def parse_trait(self, item: Any, at: tuple[str | int, ...]) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            self.problem(at, "a trait must be a mapping with at least a key or a name")
            return None
        problems_before = len(self.problems)
        for name in item:
            if name not in TRAIT_FIELDS:
                self.problem((*at, name), f"unknown trait field; expected one of {', '.join(TRAIT_FIELDS)}")
        trait_type = item.get("type", "spectrum")
        if trait_type in FUTURE_TRAIT_TYPES:
            self.problem((*at, "type"), f"{trait_type} traits are not supported yet; use spectrum")
        elif trait_type != "spectrum":
            self.problem((*at, "type"), f"unknown trait type {trait_type!r}; use spectrum")
        texts = {name: self.optional_str(item, (*at, name)) for name in
                 ("key", "name", "description", "positive_label", "negative_label", "aggregation")}
        key, name = texts["key"], texts["name"]
        if key is None and not name:
            self.problem(at, "a trait needs a key or a name")
        derived = key is None and bool(name)
        if derived:
            key = derive_key(name)
        if derived and not key:
            self.problem((*at, "name"), f"no key can be made from {name!r}; give the trait a `key`")
        elif key is not None and not TRAIT_KEY_RE.fullmatch(key):
            self.problem((*at, "key"), f"{key!r} is not a valid key: use lowercase letters, digits, _ and -")
        positive = texts["positive_label"] or "positive"
        negative = texts["negative_label"] or "negative"
        if positive.strip().lower() == negative.strip().lower():
            self.problem((*at, "negative_label"), "the two pole labels must differ")
        aggregation = texts["aggregation"] or DEFAULT_AGGREGATION
        if aggregation not in AGGREGATIONS:
            self.problem((*at, "aggregation"), f"unknown aggregation {aggregation!r}; expected one of "
                         f"{', '.join(AGGREGATIONS)}")
        if len(self.problems) > problems_before:
            return None
        return {"key": key, "name": name or key, "description": texts["description"] or "",
                "positive_label": positive, "negative_label": negative, "aggregation": aggregation}

    # --- sources ---------------------------------------------------------------------------------
    def parse_sources(self, data: dict, traits: list[dict], discover: bool) -> list[dict[str, Any]]:
        raw = data.get("sources")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.problem(("sources",), "must be a list of sources")
            return []
        samples: list[dict[str, Any]] = []
        for index, source in enumerate(raw):
            samples.extend(self.parse_source(source, ("sources", index), traits, discover))
        return samples

    def parse_source(self, source: Any, at: tuple[str | int, ...], traits: list[dict],
                     discover: bool) -> list[dict[str, Any]]:
        if not isinstance(source, dict):
            self.problem(at, "a source must be a mapping with `type` and `path`")
            return []
        for name in source:
            if name not in SOURCE_FIELDS:
                self.problem((*at, name), f"unknown source field; expected one of {', '.join(SOURCE_FIELDS)}")
        if source.get("type") != "jsonl":
            self.problem((*at, "type"), f"source type {source.get('type')!r} is not supported; use jsonl")
            return []
        rel_path = self.optional_str(source, (*at, "path"))
        if not rel_path:
            self.problem((*at, "path"), "a jsonl source needs a `path` (relative to this file)")
            return []
        mapping = self.parse_mapping(source.get("mapping"), (*at, "mapping"), traits, discover)
        if mapping is _INVALID:
            return []
        path = self.base_dir / rel_path
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            self.problem((*at, "path"), f"cannot read {rel_path!r}: {getattr(exc, 'strerror', None) or exc}")
            return []
        reader = _JsonlReader(str(path), traits, mapping, discover, self.problems)
        return reader.read(lines)

    def parse_mapping(self, raw: Any, at: tuple[str | int, ...], traits: list[dict], discover: bool) -> Any:
        """{jsonl field: trait key}, None for "fields are trait keys", or _INVALID."""
        if raw is None:
            return None
        if not isinstance(raw, dict) or not raw:
            self.problem(at, "must map each JSONL field to `{trait: <key>}`")
            return _INVALID
        routes: dict[str, str] = {}
        ok = True
        for field_name, target in raw.items():
            trait_ref = target.get("trait") if isinstance(target, dict) and len(target) == 1 else None
            if not isinstance(trait_ref, str):
                self.problem((*at, field_name), "must be `{trait: <key>}`")
                ok = False
                continue
            key = trait_ref if discover else _find_trait_key(traits, trait_ref)
            if key is None or (discover and not TRAIT_KEY_RE.fullmatch(key)):
                self.problem((*at, field_name, "trait"), f"{trait_ref!r} is not a trait of this model")
                ok = False
                continue
            routes[str(field_name)] = key
        return routes if ok else _INVALID


_INVALID = object()


def _find_trait_key(traits: list[dict], ref: str) -> str | None:
    """A trait is named by key or by name, as in the API."""
    for trait in traits:
        if ref == trait["key"] or ref == trait["name"]:
            return trait["key"]
    return None


class _JsonlReader:
    """One JSONL sample file: each line `{content, <trait field>: label, ...}`."""

    def __init__(self, file: str, traits: list[dict], mapping: dict[str, str] | None, discover: bool,
                 problems: list[Problem]) -> None:
        self.file = file
        self.traits = traits  # grows in discover mode: each newly seen key implies a trait
        self.mapping = mapping
        self.discover = discover
        self.problems = problems
        self.unknown_fields: dict[str, list[int]] = {}  # field → the lines carrying it, reported once

    def problem(self, line: int, field_name: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, field_name, message))

    def read(self, lines: list[str]) -> list[dict[str, Any]]:
        samples: list[dict[str, Any]] = []
        for number, line in enumerate(lines, start=1):
            if line.strip():
                samples.extend(self.read_line(number, line))
        for field_name, numbers in self.unknown_fields.items():
            self.problem(numbers[0], field_name, self.unknown_field_message(field_name, numbers))
        return samples

    def unknown_field_message(self, field_name: str, numbers: list[int]) -> str:
        keys = [trait["key"] for trait in self.traits]
        close = difflib.get_close_matches(field_name, keys, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; the traits are {', '.join(keys) or 'none'}"
        shown = ", ".join(map(str, numbers[:5])) + (", …" if len(numbers) > 5 else "")
        where = f"on {len(numbers)} lines ({shown})" if len(numbers) > 1 else "on this line"
        return f"not a trait of this model (and no `mapping` routes it), {where}{hint}"

    def trait_for(self, field_name: str) -> dict | None:
        if self.mapping is not None:
            key = self.mapping.get(field_name)
        elif self.discover:
            key = field_name if TRAIT_KEY_RE.fullmatch(field_name) else None
        else:
            key = _find_trait_key(self.traits, field_name)
        if key is None:
            return None
        trait = next((t for t in self.traits if t["key"] == key), None)
        if trait is None and self.discover:
            trait = {"key": key, "name": key.replace("_", " ").replace("-", " ").capitalize(), "description": "",
                     "positive_label": "positive", "negative_label": "negative", "aggregation": DEFAULT_AGGREGATION}
            self.traits.append(trait)
        return trait

    def read_line(self, number: int, line: str) -> list[dict[str, Any]]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            self.problem(number, "(json)", f"not valid JSON: {exc.msg} at column {exc.colno}")
            return []
        if not isinstance(record, dict):
            self.problem(number, "(json)", "each line must be a JSON object")
            return []
        content = record.get("content")
        if not isinstance(content, str) or not content.strip():
            self.problem(number, "content", "missing or empty; each line needs the sample text in `content`")
            return []
        problems_before = len(self.problems)
        source_url = record.get("source_url")
        if source_url is not None and not isinstance(source_url, str):
            self.problem(number, "source_url", "must be text")
        samples = []
        unknown_here = False
        for field_name, value in record.items():
            if field_name in SAMPLE_META_FIELDS or field_name.startswith("_"):
                continue
            trait = self.trait_for(field_name)
            if trait is None:
                if self.mapping is None:
                    self.unknown_fields.setdefault(field_name, []).append(number)
                    unknown_here = True
                continue
            if value is None:
                continue
            try:
                quality = parse_quality(value, SimpleNamespace(**trait))
            except InvalidLabel:
                self.problem(number, field_name, f"{value!r} is not a quality: use a number from 0 to 1, a label "
                             f"word, or {trait['positive_label']!r}/{trait['negative_label']!r}")
                continue
            sample = {"trait": trait["key"], "text": content, "quality": quality}
            if isinstance(source_url, str):
                sample["source_url"] = source_url
            samples.append(sample)
        # Trait order, not field order: the same line written with its keys reordered is the same data.
        order = {trait["key"]: index for index, trait in enumerate(self.traits)}
        samples.sort(key=lambda sample: order[sample["trait"]])
        if not samples and not unknown_here and len(self.problems) == problems_before:
            self.problem(number, "content", "this line labels no trait")
        return samples


def _with_fingerprint(spec: ModelSpec) -> ModelSpec:
    payload = {"model": spec.model_fields(), "effort": spec.effort, "discover": spec.discover,
               "traits": spec.traits, "samples": spec.samples}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return ModelSpec(**{**spec.__dict__, "fingerprint": digest})


def load_model_spec(yaml_path: str | Path) -> ModelSpec:
    """Parse `model.yaml` and its sample files; raises AuthoringError listing every problem."""
    return _Parser(Path(yaml_path)).parse()
