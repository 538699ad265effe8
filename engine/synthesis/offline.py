"""Deterministic offline generator: templates for ``from_traits``, sentence recombination for ``diversify``.

Every choice is made by ranking candidates on sha256(request fingerprint, context, candidate), so
the same request always yields the same samples, on any machine and Python version.
"""

from __future__ import annotations

import hashlib
import re

from engine.synthesis.base import (
    FROM_TRAITS,
    Deduper,
    ExistingSample,
    GeneratedSample,
    SynthesisRequest,
    TraitSpec,
    normalise_text,
)

_OPENERS = ("", "Honestly, ", "In short, ", "Overall, ", "To be clear, ", "Put simply, ")
_BODIES = (
    "this text is {label} in terms of {name}.",
    "the {name} here is {label}.",
    "it reads as {label} on {name}.",
    "every line of it shows {label} {name}.",
    "this is one {label} example of {name}.",
)
_CLOSERS_WITH_DESCRIPTION = ("", " {fit} {description}", " Nothing about it is {other}.", " It is far from {other}.")
_CLOSERS_PLAIN = ("", " Nothing about it is {other}.", " It is far from {other}.", " Anyone would call it {label}.")
_PARTNERS_PER_SOURCE = 8
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _rank(seed: str, context: str, candidate: str) -> str:
    return hashlib.sha256(f"{seed}\x00{context}\x00{candidate}".encode("utf-8")).hexdigest()


def _ranked(seed: str, context: str, candidates: list[str]) -> list[str]:
    unique = list(dict.fromkeys(candidates))
    return sorted(unique, key=lambda c: (_rank(seed, context, c), c))


def split_sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCE_END.split(normalise_text(text))) if s]


def _pole_templates(trait: TraitSpec, positive: bool) -> list[str]:
    label, other = (
        (trait.positive_label, trait.negative_label) if positive else (trait.negative_label, trait.positive_label)
    )
    description = normalise_text(trait.description).rstrip(".")
    closers = _CLOSERS_WITH_DESCRIPTION if description else _CLOSERS_PLAIN
    fields = {
        "label": label,
        "other": other,
        "name": trait.name.lower(),
        "description": f"{description}." if description else "",
        "fit": "It matches the idea:" if positive else "It misses the idea:",
    }
    texts = []
    for opener in _OPENERS:
        for body in _BODIES:
            for closer in closers:
                sentence = (opener + body + closer).format(**fields)
                texts.append(sentence[0].upper() + sentence[1:])
    return texts


class OfflineGenerator:
    """Deterministic, dependency-free sample writer used when no chat endpoint is configured."""

    def generate(self, request: SynthesisRequest) -> list[GeneratedSample]:
        deduper = Deduper(request.samples)
        seed = request.fingerprint()
        out: list[GeneratedSample] = []
        for trait in request.traits:
            if request.synth_type == FROM_TRAITS:
                out.extend(self._from_trait(trait, request, seed, deduper))
            else:
                out.extend(self._diversify_trait(trait, request, seed, deduper))
        return out

    def _from_trait(self, trait: TraitSpec, request, seed: str, deduper: Deduper) -> list[GeneratedSample]:
        out = []
        for positive in (True, False):
            context = f"{trait.key}:{'pos' if positive else 'neg'}"
            made = 0
            for text in _ranked(seed, context, _pole_templates(trait, positive)):
                if made == request.per_pole:
                    break
                if deduper.admit(text):
                    out.append(GeneratedSample(trait.key, text, 1.0 if positive else 0.0))
                    made += 1
        return out

    def _diversify_trait(self, trait: TraitSpec, request, seed: str, deduper: Deduper) -> list[GeneratedSample]:
        budget = request.diversify_budget(trait.key)
        per_pole = [request.samples_of(trait.key, True), request.samples_of(trait.key, False)]
        # Alternate poles source by source so a capped budget is shared fairly between them.
        queue: list[tuple[int, list[ExistingSample]]] = []
        for i in range(max(len(p) for p in per_pole)):
            for pole in per_pole:
                if i < len(pole):
                    queue.append((i, pole))
        out = []
        for index, pole in queue:
            if len(out) >= budget:
                break
            wanted = min(request.per_sample, budget - len(out))
            for text, quality in self._variations(pole, index, seed, trait.key, deduper, wanted):
                out.append(GeneratedSample(trait.key, text, quality))
        return out

    def _variations(self, pole, index, seed, trait_key, deduper, wanted):
        """Up to ``wanted`` recombinations of sample ``index`` with sentences of its pole-mates."""
        source = pole[index]
        own = split_sentences(source.text)
        context = f"{trait_key}:{index}:{normalise_text(source.text)}"
        mates = [s for j, s in enumerate(pole) if j != index]
        mate_order = _ranked(seed, context, [str(j) for j in range(len(mates))])[:_PARTNERS_PER_SOURCE]
        candidates: dict[str, float] = {}
        for j in mate_order:
            mate = mates[int(j)]
            quality = round((source.quality + mate.quality) / 2, 4)  # same pole → same side of 0.5
            for sentence in split_sentences(mate.text):
                for pos in range(len(own)):  # swap one sentence for a pole-mate's
                    candidates.setdefault(" ".join(own[:pos] + [sentence] + own[pos + 1 :]), quality)
                candidates.setdefault(" ".join(own + [sentence]), quality)  # extend with one
        if len(own) > 1:  # a reordering keeps the sample's own quality
            for shift in range(1, len(own)):
                candidates.setdefault(" ".join(own[shift:] + own[:shift]), source.quality)
        made = []
        for text in _ranked(seed, context, list(candidates)):
            if len(made) == wanted:
                break
            if deduper.admit(text):
                made.append((text, candidates[text]))
        return made
