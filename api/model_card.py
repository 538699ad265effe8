"""The model card: a markdown page about a model (`GET /v1/models/{handle}` with
`Accept: text/markdown`, and the MCP resource `assay://models/{handle}`).

The output is a pure function of the stored rows (no clocks, no request data), so the same model
always renders the same bytes.

Decisions (SPEC is silent):
- Sections, in order: title and description, state, active version (vN, UTC creation date, tags,
  effort), a traits table (poles, sample counts, AUC of the active version), each trait's
  description, additional terms, upstream sources, then the author's readme verbatim.
- Sample counts are what the store holds now (under ZDR that is zero after training); AUC and the
  trained pole sizes come from the active version's metrics.
- The newest background retrain's gate verdict (SPEC §1.10, docs/decisions.md) follows the active
  version: whether it was activated and, per trait, the held-out AUC of both versions, ΔAUC ± its
  standard error and the outcome.
- The newest evaluation of the active version (SPEC §9.5) started by a key of the model's own
  namespace follows: per trait, n, AUC with its 95 % interval and Spearman's ρ. Evaluations by
  other namespaces stay theirs (their labels are their data), so the card never shows them.
- Upstream sources are free objects: shown as a list using `name`/`title`, `url` and
  `license` when present, otherwise as compact JSON.
"""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from store import catalog
from store import evaluations as evaluation_store
from store import versions as version_store
from store.tables import Model


def _cell(text: object) -> str:
    """Markdown table cells cannot hold pipes or line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _source_line(source: object) -> str:
    if not isinstance(source, dict):
        return f"- {_cell(source)}"
    name = source.get("name") or source.get("title")
    url = source.get("url")
    if not name and not url:
        return f"- `{json.dumps(source, sort_keys=True, ensure_ascii=False)}`"
    line = f"- [{name or url}]({url})" if url else f"- {name}"
    if source.get("license"):
        line += f" — license: {source['license']}"
    return line


def _auc(metrics: dict, key: str) -> str:
    trait = (metrics.get("traits") or {}).get(key) or {}
    auc = trait.get("auc")
    return f"{auc:.3f}" if isinstance(auc, (int, float)) else "—"


def _number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "—"


async def _gate_lines(session: AsyncSession, model: Model) -> list[str]:
    retrain = await version_store.latest_retrain(session, model.id)
    gate = ((retrain.metrics or {}).get("gate") if retrain is not None else None) or {}
    if not gate:
        return []
    served = "active" if retrain.id == model.active_version_id else "stored, not activated"
    against = f" against v{gate['compared_with']}" if gate.get("compared_with") else ""
    lines = ["## Background retrain gate", "",
             f"- v{retrain.version_no} ({served}): {gate.get('verdict')}{against} on "
             f"{gate.get('holdout_samples', 0)} held-out feedback samples"]
    if gate.get("reason"):
        lines.append(f"- Reason: {_cell(gate['reason'])}")
    traits = gate.get("traits") or {}
    if traits:
        lines += ["", "| Trait | Held-out +/− | AUC active | AUC new | ΔAUC | SE | Outcome |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for key, block in traits.items():
            lines.append(f"| `{_cell(key)}` | {block.get('n_positive', 0)}/{block.get('n_negative', 0)} | "
                         f"{_number(block.get('active_auc'))} | {_number(block.get('new_auc'))} | "
                         f"{_number(block.get('delta_auc'))} | {_number(block.get('se'))} | {block.get('outcome')} |")
    return lines + [""]


async def _evaluation_lines(session: AsyncSession, model: Model, version_no: int) -> list[str]:
    evaluation = await session.run_sync(lambda s: evaluation_store.latest_of_version(
        s, model.id, version_no, [model.namespace]))
    if evaluation is None:
        return []
    label = f"v{version_no}"
    block = next((v for v in evaluation.report["versions"] if v["version_id"] == label), None) or {}
    others = [v for v in evaluation.report["versions"] if v["version_id"] != label]
    against = f", against {others[0]['version_id']}" if others else ""
    lines = ["## Latest evaluation", "",
             f"- {evaluation.evaluation_id} ({evaluation.finished_at.strftime('%Y-%m-%d %H:%M UTC')}): {label} on "
             f"{evaluation.report['items']['scored']} labelled items{against}", "",
             "| Trait | n | AUC | 95 % interval | Spearman ρ |", "|---|---:|---:|---|---:|"]
    for key, trait in (block.get("traits") or {}).items():
        auc = trait["auc"]
        interval = f"{_number(auc['low'])}–{_number(auc['high'])}" if auc.get("low") is not None else "—"
        lines.append(f"| `{_cell(key)}` | {trait['n']} | {_number(auc['auc'])} | {interval} | "
                     f"{_number(trait.get('spearman'))} |")
    return lines + [""]


async def render_model_card(session: AsyncSession, model: Model) -> str:
    """The markdown card of ``model``."""
    traits = await catalog.list_traits(session, model.id, by_id=True)
    counts = await catalog.sample_counts(session, model.id)
    version = (await version_store.get_by_id(session, model.active_version_id)
               if model.active_version_id is not None else None)
    metrics = (version.metrics or {}) if version is not None else {}

    lines = [f"# {model.handle}", ""]
    if model.description:
        lines += [model.description.strip(), ""]
    lines += [f"- State: {model.state}", f"- Scoring method: {model.scoring_method}"]
    if model.zero_data_retention:
        lines.append("- Zero-data retention: on (samples are purged after training; no feedback)")
    lines.append("")

    lines += ["## Active version", ""]
    if version is None:
        lines += ["Not trained yet: this model has no version to score with.", ""]
    else:
        tags = await version_store.tags_of(session, version.id)
        lines += [f"- Version: v{version.version_no}",
                  f"- Created: {version.created_at.strftime('%Y-%m-%d %H:%M UTC')}",
                  f"- Tags: {', '.join(tags) if tags else 'none'}",
                  f"- Trained on: {version.sample_count} samples ({version.triggered_by})"]
        if metrics.get("effort"):
            lines.append(f"- Effort: {metrics['effort']}")
        if model.pinned:
            lines.append("- Pinned: background retrains do not replace this version")
        lines.append("")

    lines += await _gate_lines(session, model)
    if version is not None:
        lines += await _evaluation_lines(session, model, version.version_no)
    lines += ["## Traits", ""]
    if not traits:
        lines += ["No traits yet.", ""]
    else:
        lines += ["| Trait | Key | Positive pole | Negative pole | Positive samples | Negative samples | AUC |",
                  "|---|---|---|---|---:|---:|---:|"]
        for trait in traits:
            count = counts.get(trait.id, catalog.TraitCounts())
            lines.append(f"| {_cell(trait.name)} | `{trait.key}` | {_cell(trait.positive_label)} | "
                         f"{_cell(trait.negative_label)} | {count.positive} | {count.negative} | {_auc(metrics, trait.key)} |")
        lines.append("")
        described = [t for t in traits if (t.description or "").strip()]
        for trait in described:
            lines += [f"### {trait.name}", "", trait.description.strip(), ""]

    if (model.additional_terms or "").strip():
        lines += ["## Additional terms", "", model.additional_terms.strip(), ""]
    if model.upstream_sources:
        lines += ["## Upstream sources", ""] + [_source_line(s) for s in model.upstream_sources] + [""]
    if (model.readme_markdown or "").strip():
        lines += ["## Readme", "", model.readme_markdown.strip(), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
