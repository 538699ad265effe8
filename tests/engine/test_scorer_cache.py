"""The API's cache of decoded versions is bounded by the bytes it holds, not only by a count."""

from api.scoring_service import ScorerCache, ServedVersion
from engine.scorer import Scorer


def _served(version_id: int, scorer: Scorer, model_id: int | None = None) -> ServedVersion:
    return ServedVersion(version_id, version_id, version_id if model_id is None else model_id, scorer)


def test_a_scorer_reports_the_bytes_of_its_arrays(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    # 60 + 45 training samples as float32 support vectors of dim 256, two float64 directions and
    # the float64 centre.
    assert scorer.nbytes == (60 + 45) * 256 * 4 + 2 * 256 * 8 + 256 * 8


def test_entries_are_evicted_least_recently_used_first_once_the_byte_budget_is_spent(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    cache = ScorerCache(max_bytes=3 * scorer.nbytes, max_entries=100)
    for version_id in (1, 2, 3):
        cache.put(_served(version_id, scorer))
    assert cache.get(1) is not None  # 1 is now the most recently used
    cache.put(_served(4, scorer))
    assert len(cache) == 3 and cache.nbytes == 3 * scorer.nbytes
    assert cache.get(2) is None
    assert all(cache.get(v) is not None for v in (1, 3, 4))


def test_the_entry_count_still_caps_the_cache(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    cache = ScorerCache(max_bytes=1 << 40, max_entries=2)
    for version_id in (1, 2, 3):
        cache.put(_served(version_id, scorer))
    assert [v for v in (1, 2, 3) if cache.get(v) is not None] == [2, 3]


def test_a_version_larger_than_the_budget_is_still_served_and_alone(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    cache = ScorerCache(max_bytes=scorer.nbytes // 2)
    cache.put(_served(1, scorer))
    cache.put(_served(2, scorer))
    assert cache.get(1) is None and cache.get(2) is not None
    assert cache.nbytes == scorer.nbytes


def test_putting_the_same_version_twice_counts_its_bytes_once(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    cache = ScorerCache(max_bytes=1 << 40)
    cache.put(_served(7, scorer))
    cache.put(_served(7, scorer))
    assert len(cache) == 1 and cache.nbytes == scorer.nbytes


def test_shrinking_the_budget_evicts_at_once(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    cache = ScorerCache(max_bytes=1 << 40)
    for version_id in range(5):
        cache.put(_served(version_id, scorer))
    cache.configure(max_bytes=2 * scorer.nbytes)
    assert len(cache) == 2 and cache.get(4) is not None and cache.get(3) is not None


def test_a_new_active_version_drops_the_one_it_supersedes(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    cache = ScorerCache(max_bytes=1 << 40)
    cache.put(_served(1, scorer, model_id=10), active=True)
    cache.put(_served(5, scorer, model_id=20), active=True)
    cache.put(_served(2, scorer, model_id=10), active=True)  # model 10 retrained: v2 is active now
    assert cache.get(1) is None
    assert cache.get(2) is not None and cache.get(5) is not None
    assert cache.nbytes == 2 * scorer.nbytes


def test_a_pinned_version_is_not_dropped_by_a_new_active_one(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    cache = ScorerCache(max_bytes=1 << 40)
    cache.put(_served(1, scorer, model_id=10))                # loaded for handle@v1
    cache.put(_served(2, scorer, model_id=10), active=True)
    cache.put(_served(3, scorer, model_id=10), active=True)
    assert cache.get(1) is not None and cache.get(2) is None and cache.get(3) is not None
