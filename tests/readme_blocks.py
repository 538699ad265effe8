"""The README's fenced code blocks and the marks that tell `tests/test_readme.py` what to do with them.

Every fenced block has an HTML comment (invisible on GitHub) on the line before it:

- `<!-- readme-test: run -->`: a shell snippet, run with bash in the test's project directory; it must
  exit 0.
- `<!-- readme-test: output -->`: exactly what the previous `run` block printed on stdout. With
  ASSAY_TEST_README_REWRITE=1 the test writes what it printed into the README instead.
- `<!-- readme-test: file PATH -->`: a file the reader saves; the test writes it at PATH.
- `<!-- readme-test: skip (reason) -->`: cannot run here, for the stated reason.

A block without a mark is an error, so a new example cannot slip past the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACTIONS = ("run", "output", "file", "skip")
MARK = re.compile(r"^<!-- readme-test: (\w+)(.*?)\s*-->$")
FENCE = re.compile(r"^```")


class ReadmeMarkError(ValueError):
    pass


@dataclass(frozen=True)
class Block:
    action: str
    argument: str
    body: str
    first: int  # index of the body's first line in the file's lines
    end: int  # index of the closing fence

    @property
    def line(self) -> int:
        """1-based line of the opening fence, for messages."""
        return self.first


def readme_blocks(text: str) -> list[Block]:
    lines = text.split("\n")
    blocks: list[Block] = []
    problems: list[str] = []
    index = 0
    while index < len(lines):
        if not FENCE.match(lines[index]):
            index += 1
            continue
        opening = index
        index += 1
        while index < len(lines) and not FENCE.match(lines[index]):
            index += 1
        if index == len(lines):
            raise ReadmeMarkError(f"line {opening + 1}: code block never closed")
        mark = MARK.match(lines[opening - 1]) if opening else None
        if mark is None:
            problems.append(f"line {opening + 1}: code block without a <!-- readme-test: … --> mark")
        else:
            action, argument = mark.group(1), mark.group(2).strip()
            if action not in ACTIONS:
                problems.append(f"line {opening}: unknown readme-test action {action!r}")
            elif action in ("skip", "file") and not argument:
                problems.append(f"line {opening}: `{action}` needs " + ("a reason" if action == "skip" else "a path"))
            elif action == "output" and not (blocks and blocks[-1].action == "run"):
                problems.append(f"line {opening}: `output` does not follow a `run` block")
            else:
                blocks.append(Block(action, argument.strip("() "), "\n".join(lines[opening + 1:index]),
                                    opening + 1, index))
        index += 1
    if problems:
        raise ReadmeMarkError("\n".join(problems))
    return blocks


def with_outputs(text: str, outputs: dict[Block, str]) -> str:
    """The README with each given `output` block's body replaced by the given text."""
    lines = text.split("\n")
    for block in sorted(outputs, key=lambda b: b.first, reverse=True):
        lines[block.first:block.end] = outputs[block].split("\n")
    return "\n".join(lines)
