import pytest

from engine.card import CardParams, assemble_card, compare_cards, trait_detail
from engine.render import bar, render_card, render_compare

SURE = CardParams(30, 60, 80, (65, 85), (15, 35), conf_a=10.0, conf_b=0.0)  # always high
MAYBE = CardParams(30, 60, 80, (65, 85), (15, 35), conf_a=1.0, conf_b=0.0)  # always moderate
DOUBT = CardParams(30, 60, 80, (65, 85), (15, 35), conf_a=0.0, conf_b=0.0)  # always low


def detail(score: int, params: CardParams = SURE) -> dict:
    return trait_detail(score / 100, 0.0, params, True)


@pytest.mark.parametrize(
    "score, cells",
    [(0, 0), (2, 0), (3, 1), (12, 2), (13, 3), (37, 7), (38, 8), (50, 10), (97, 19), (98, 20), (100, 20)],
)
def test_bar_cells_round_half_up(score, cells):
    b = bar(score)
    assert b == "█" * cells + "░" * (20 - cells)
    assert len(b) == 20


def test_render_card_byte_exact():
    card = assemble_card({"clarity": detail(80), "tone": detail(40, MAYBE)}, 12)
    expected = (
        "clarity    ████████████████░░░░   80  ●●●      Strong\n"
        "tone       ████████░░░░░░░░░░░░   40  ●●○  Developing\n"
        "─────────────────────────────────────────────────────\n"
        "Composite  ███████████░░░░░░░░░   53  ●●○\n"
    )
    assert render_card(card) == expected


def test_render_card_low_confidence_leaves_label_blank_and_pads_to_long_keys():
    card = assemble_card(
        {"clarity_and_simplicity": detail(62), "tone": detail(45, DOUBT), "x": detail(7)}, 3
    )
    expected = (
        "clarity_and_simplicity  ████████████░░░░░░░░   62  ●●●       Solid\n"
        "tone                    █████████░░░░░░░░░░░   45  ●○○\n"
        "x                       █░░░░░░░░░░░░░░░░░░░    7  ●●●        Weak\n"
        "──────────────────────────────────────────────────────────────────\n"
        "Composite               ███░░░░░░░░░░░░░░░░░   17  ●○○\n"
    )
    assert render_card(card) == expected


def test_render_single_trait_card_has_no_rule_or_composite():
    card = assemble_card({"tone": detail(100)}, 3)
    assert render_card(card) == "tone  ████████████████████  100  ●●●      Strong\n"


def test_render_compare_byte_exact():
    a = assemble_card({"clarity": detail(70), "tone": detail(20)}, 5)
    b = assemble_card({"clarity": detail(60), "tone": detail(45)}, 6)
    expected = (
        "             a    b  delta\n"
        "clarity     70   60    -10\n"
        "tone        20   45    +25\n"
        "──────────────────────────\n"
        "Composite   31   51    +20\n"
    )
    assert render_compare(compare_cards(a, b)) == expected


def test_render_compare_zero_delta_and_single_trait():
    a = assemble_card({"tone": detail(44)}, 5)
    b = assemble_card({"tone": detail(44)}, 5)
    assert render_compare(compare_cards(a, b)) == "        a    b  delta\ntone   44   44      0\n"
