"""Plain-text views of a score card and of a comparison (``Accept: text/plain``, SPEC §4).

Card format — one row per trait, columns separated by two spaces::

    <key padded to the key width>  <20-cell bar>  <score, 3 wide>  <dots>  <label, 10 wide>

- key width = the longest trait key, or ``len("Composite")`` when the composite row is shown;
- bar = ``cells`` × ``█`` then ``░`` up to 20, with ``cells = floor(score/5 + 0.5)`` (half up:
  a score of 12 fills 2 cells, 13 fills 3; Python's ``round`` would be banker's);
- dots: ``●●●`` high, ``●●○`` moderate, ``●○○`` low;
- label right-aligned to 10 columns (the width of "Developing"), blank when null;
- every line is right-stripped and ends with ``\\n``; a blank label leaves no trailing spaces;
- cards with two or more traits end with a rule of ``─`` as wide as a full row and a
  ``Composite`` row (bar, score, the card's top-level dots, no label).

Example (breaks 30/60/80; scores 80 high and 40 moderate; composite 53 moderate)::

    clarity    ████████████████░░░░   80  ●●●      Strong
    tone       ████████░░░░░░░░░░░░   40  ●●○  Developing
    ─────────────────────────────────────────────────────
    Composite  ███████████░░░░░░░░░   53  ●●○

Compare format — a header row, one row per trait, then the same rule and a ``Composite`` row
(omitted for a single trait)::

    <key padded>  <a, 3 wide>  <b, 3 wide>  <delta, 5 wide>

with the delta signed (``+7``, ``-3``, ``0``). Example::

                 a    b  delta
    clarity     70   60    -10
    tone        20   45    +25
    ──────────────────────────
    Composite   31   51    +20
"""

from __future__ import annotations

BAR_CELLS = 20
FULL = "█"
EMPTY = "░"
RULE = "─"
COMPOSITE = "Composite"
LABEL_WIDTH = len("Developing")
DOTS = {"high": "●●●", "moderate": "●●○", "low": "●○○"}
_GAP = "  "


def bar(score: int) -> str:
    cells = min(BAR_CELLS, max(0, (2 * int(score) + 5) // 10))  # floor(score/5 + 0.5), exact on ints
    return FULL * cells + EMPTY * (BAR_CELLS - cells)


def signed(delta: int) -> str:
    return f"+{delta}" if delta > 0 else str(delta)


def _lines(rows: list[str]) -> str:
    return "".join(row.rstrip() + "\n" for row in rows)


def render_card(card: dict) -> str:
    """The bar-chart text view of a score card (see the module docstring for the format)."""
    detail = card["detail"]
    keys = list(card["scores"])
    with_composite = len(keys) > 1
    key_width = max([len(k) for k in keys] + ([len(COMPOSITE)] if with_composite else []))

    def row(name: str, score: int, confidence: str, label: str | None) -> str:
        return _GAP.join(
            [name.ljust(key_width), bar(score), f"{score:>3}", DOTS[confidence], (label or "").rjust(LABEL_WIDTH)]
        )

    rows = [row(k, card["scores"][k], detail[k]["confidence"], detail[k]["label"]) for k in keys]
    if with_composite:
        rule_width = len(row("", 0, "low", None))
        rows.append(RULE * rule_width)
        rows.append(row(COMPOSITE, card["composite"], card["confidence"], None))
    return _lines(rows)


def render_compare(cmp: dict) -> str:
    """The side-by-side text view of a comparison (see the module docstring for the format)."""
    per_trait = cmp["per_trait"]
    keys = list(per_trait)
    with_composite = len(keys) > 1
    key_width = max([len(k) for k in keys] + ([len(COMPOSITE)] if with_composite else []))

    def row(name: str, a: str, b: str, delta: str) -> str:
        return _GAP.join([name.ljust(key_width), a.rjust(3), b.rjust(3), delta.rjust(5)])

    rows = [row("", "a", "b", "delta")]
    for k in keys:
        t = per_trait[k]
        rows.append(row(k, str(t["a"]), str(t["b"]), signed(t["delta"])))
    if with_composite:
        rows.append(RULE * len(rows[0]))
        a, b = cmp["a"]["composite"], cmp["b"]["composite"]
        rows.append(row(COMPOSITE, str(a), str(b), signed(cmp["improvement"])))
    return _lines(rows)
