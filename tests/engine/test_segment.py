import pytest

from engine.embedders import EmbedderError, get_embedder
from engine.errors import EngineError
from engine.segment import MAX_CONTENT_BYTES, WINDOW_TOKENS, Window, segment, truncate_utf8


@pytest.fixture(params=["hashing", "minilm"])
def embedder(request):
    try:
        return get_embedder(request.param)
    except EmbedderError as exc:  # the real model may be absent on a bare checkout
        pytest.skip(f"{request.param} embedder unavailable: {exc}")


def long_text(words: int) -> str:
    return " ".join(f"word{i % 97} is here." for i in range(words // 3))


def test_long_text_splits_into_windows_within_the_encoder_limit(embedder):
    text = long_text(2000)
    windows = segment(text, embedder)
    assert len(windows) >= 3
    for window in windows:
        assert isinstance(window, Window)
        assert 0 < window.tokens <= WINDOW_TOKENS
        assert embedder.count_tokens(window.text) <= WINDOW_TOKENS
    assert windows[0].text.split()[0] == text.split()[0]
    assert windows[-1].text.split()[-1] == text.split()[-1]


def test_max_depth_zero_keeps_only_the_first_window(embedder):
    text = long_text(2000)
    all_windows = segment(text, embedder, max_depth=1)
    first = segment(text, embedder, max_depth=0)
    assert first == all_windows[:1]


def test_max_depth_above_one_behaves_like_one(embedder):
    text = long_text(1200)
    assert segment(text, embedder, max_depth=5) == segment(text, embedder, max_depth=1)


def test_negative_max_depth_is_rejected(embedder):
    with pytest.raises(EngineError):
        segment("hello", embedder, max_depth=-1)


def test_short_text_is_one_window(embedder):
    windows = segment("A short and friendly reply.", embedder)
    assert len(windows) == 1
    assert windows[0].tokens == embedder.count_tokens("A short and friendly reply.")


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_or_blank_text_is_one_window(embedder, text):
    windows = segment(text, embedder)
    assert windows == [Window(text=text, tokens=embedder.count_tokens(text))]


def test_truncate_keeps_text_under_the_limit_unchanged():
    text = "é" * 100
    assert truncate_utf8(text, 200) == text


def test_truncate_cuts_at_a_character_boundary():
    text = "ab" + "€" * 10  # '€' is 3 bytes in UTF-8
    cut = truncate_utf8(text, 7)  # 2 + 3 = 5 fits, the next '€' would need 8
    assert cut == "ab€"
    assert len(cut.encode("utf-8")) <= 7


def test_truncate_default_is_fifty_kib_with_multibyte_text():
    text = "ü" * 30000 + "x"  # 60,001 bytes; 'ü' is 2 bytes
    cut = truncate_utf8(text)
    assert MAX_CONTENT_BYTES == 51200
    assert cut == "ü" * 25600
    odd = "a" + "ü" * 30000  # the limit falls in the middle of a 'ü'
    assert truncate_utf8(odd) == "a" + "ü" * 25599


def test_multibyte_text_windows_stay_within_the_limit(embedder):
    text = "Der Straßenbahn-Fahrplan ändert sich täglich, 東京の天気は晴れ。 " * 300
    windows = segment(text, embedder)
    assert len(windows) > 1
    assert all(embedder.count_tokens(w.text) <= WINDOW_TOKENS for w in windows)


def test_segment_truncates_content_before_windowing(embedder):
    big = "word " * 20000  # 100,000 bytes; only the first 51,200 are kept
    windows = segment(big, embedder)
    assert windows == segment(truncate_utf8(big), embedder)
    assert len(windows) < len(embedder.split_windows(big, WINDOW_TOKENS))
