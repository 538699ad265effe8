"""Sample synthesis (SPEC §5.5): a generator protocol, an offline and a chat-completions writer.

``make_generator`` picks the chat writer when both a base URL and a model are configured
(``ASSAY_SYNTH_BASE_URL`` / ``ASSAY_SYNTH_MODEL`` / ``ASSAY_SYNTH_API_KEY`` in settings), else the
deterministic offline writer.
"""

from __future__ import annotations

from engine.synthesis.base import (
    DIVERSIFY,
    DIVERSIFY_MAX_PER_TRAIT,
    FROM_TRAITS,
    PER_POLE,
    PER_SAMPLE,
    SYNTH_TYPES,
    ExistingSample,
    GeneratedSample,
    SampleGenerator,
    SynthesisError,
    SynthesisRequest,
    TraitSpec,
)
from engine.synthesis.chat import ChatCompletionsGenerator
from engine.synthesis.offline import OfflineGenerator


def make_generator(
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
) -> SampleGenerator:
    """The chat generator when ``base_url`` and ``model`` are both set, else the offline one."""
    if base_url and base_url.strip() and model and model.strip():
        return ChatCompletionsGenerator(base_url.strip(), model.strip(), api_key or None, timeout)
    return OfflineGenerator()


__all__ = [
    "DIVERSIFY",
    "DIVERSIFY_MAX_PER_TRAIT",
    "FROM_TRAITS",
    "PER_POLE",
    "PER_SAMPLE",
    "SYNTH_TYPES",
    "ChatCompletionsGenerator",
    "ExistingSample",
    "GeneratedSample",
    "OfflineGenerator",
    "SampleGenerator",
    "SynthesisError",
    "SynthesisRequest",
    "TraitSpec",
    "make_generator",
]
