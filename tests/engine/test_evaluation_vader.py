"""engine/evaluation.py on real scores: two versions trained on different numbers of human-rated VADER
tweets score the same held-out tweets through the real scorer (card scores 0–100, real MiniLM)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from bench.vader_data import load_domains
from engine.card import CardParams
from engine.embedders import get_embedder
from engine.evaluation import compare_versions, evaluate_trait
from engine.scorer import Scorer
from engine.training import LabelledSample, TraitSpec, train_model
from tests.engine.test_evaluation import slow_delong


@pytest.fixture(scope="module")
def scored():
    domain = load_domains()["tweets"]
    order = np.random.default_rng(9).permutation(len(domain.texts))
    polar = [i for i in order if abs(domain.sentiment[i]) >= 1.0]
    embedder = get_embedder("minilm")
    spec = [TraitSpec("sentiment", "Sentiment")]

    def trained(ids):
        samples = [LabelledSample("sentiment", domain.texts[i], float(domain.sentiment[i] > 0)) for i in ids]
        snapshot = train_model(spec, samples, embedder, "low").snapshot
        return Scorer(snapshot, embedder), CardParams.from_dict(snapshot.data["traits"][0]["card"])

    (small, small_card), (large, large_card) = trained(polar[:16]), trained(polar[16:176])
    held = order[-300:]  # every rating, the neutral ones too
    texts = [domain.texts[i] for i in held]
    q = domain.quality[held]
    scores = [np.array([scorer.score(t)["scores"]["sentiment"] for t in texts], dtype=float)
              for scorer in (small, large)]
    return scores, q, (small_card, large_card)


def test_auc_interval_and_rho_match_a_recomputation_from_the_scores(scored):
    scores, q, params = scored
    for version_scores, card in zip(scores, params):
        block = evaluate_trait(version_scores, q, card, numeric=True)
        polar = q != 0.5
        assert block["n"] == q.size
        assert block["auc"]["auc"] == pytest.approx(roc_auc_score(q[polar] > 0.5, version_scores[polar]), abs=1e-9)
        assert block["spearman"] == pytest.approx(spearmanr(version_scores, q).statistic, abs=1e-9)
        assert block["auc"]["low"] < block["auc"]["auc"] < block["auc"]["high"]


def test_paired_difference_agrees_with_the_slow_delong(scored):
    (small, large), q, _ = scored
    paired = compare_versions(small, large, q)
    auc_small, auc_large, _, _, var_delta = slow_delong(small, large, q)
    assert paired["delta_auc"] == pytest.approx(auc_large - auc_small, abs=1e-9)
    assert paired["se"] == pytest.approx(np.sqrt(var_delta), abs=1e-9)
    assert paired["delta_auc"] > 0, "160 training tweets should rank better than 16"
    again = compare_versions(small.copy(), large.copy(), q.copy())
    assert repr(again) == repr(paired)
