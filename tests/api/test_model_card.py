"""The markdown model card (GET /v1/models/{handle} with Accept: text/markdown)."""

from __future__ import annotations

from api.model_card import render_model_card
from store.tables import Model
from tests.api.trained import create_model, train_now

EXTRA = {
    "additional_terms": "Scores are advisory; a person reviews every reply before it is sent.",
    "upstream_sources": [{"name": "Support archive 2025", "url": "https://example.com/archive", "license": "CC-BY-4.0"},
                         {"kind": "internal"}],
    "readme_markdown": "## How we label\n\nTwo reviewers label each reply.",
}


async def _card(http, handle, headers) -> str:
    response = await http.get(f"/v1/models/{handle}", headers={**headers, "Accept": "text/markdown"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    return response.text


async def test_card_of_a_trained_model(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle, **EXTRA)
    await train_now(sessionmaker_, handle, effort="medium")
    await http.post(f"/v1/models/{handle}/versions/stable", headers=owner["headers"])
    card = await _card(http, handle, owner["headers"])
    assert card.startswith(f"# {handle}\n\nSupport replies that are clear and kind.\n")
    assert "- Version: v1" in card and "- Tags: stable" in card and "- Effort: medium" in card
    assert "| Trait | Key | Positive pole | Negative pole | Positive samples | Negative samples | AUC |" in card
    versions = (await http.get(f"/v1/models/{handle}/versions/v1", headers=owner["headers"])).json()
    clarity_auc = versions["metrics"]["traits"]["clarity"]["auc"]
    assert f"| Clarity | `clarity` | clear | muddled | 8 | 8 | {clarity_auc:.3f} |" in card
    assert "| Warmth | `warmth` | warm | cold | 6 | 6 |" in card
    assert "### Clarity\n\nPlain, concrete, easy to act on." in card
    assert "## Additional terms\n\nScores are advisory" in card
    assert "- [Support archive 2025](https://example.com/archive) — license: CC-BY-4.0" in card
    assert '- `{"kind": "internal"}`' in card
    assert card.rstrip().endswith("Two reviewers label each reply.")
    assert card == await _card(http, handle, owner["headers"])  # deterministic


async def test_card_of_an_untrained_model(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.draft"
    await create_model(http, owner["headers"], handle, trait_keys=("warmth",))
    card = await _card(http, handle, owner["headers"])
    assert "Not trained yet" in card and "- State: draft" in card
    assert "| Warmth | `warmth` | warm | cold | 6 | 6 | — |" in card
    async with sessionmaker_() as session:
        from sqlalchemy import select

        model = await session.scalar(select(Model).where(Model.handle == handle))
        assert await render_model_card(session, model) == card
