"""OpenAI-compatible chat-completions generator (``POST {base_url}/chat/completions``).

One request per trait. The model is asked for a JSON array of ``{"text", "side"}`` objects (plus
``"source"`` for diversify, the number of the example it varies). Replies are parsed leniently —
code fences, prose around the JSON, or an object wrapping the array are all accepted — and then
validated strictly: unknown sides, empty or over-long texts and duplicates are dropped. A reply with
nothing usable, an HTTP error or a transport failure raises ``SynthesisError``. Transport errors,
5xx and unusable replies are retried, at most ``max_attempts`` times in total.
"""

from __future__ import annotations

import json

import httpx

from engine.synthesis.base import (
    FROM_TRAITS,
    MAX_TEXT_CHARS,
    Deduper,
    ExistingSample,
    GeneratedSample,
    SynthesisError,
    SynthesisRequest,
    TraitSpec,
)

SYSTEM_PROMPT = (
    "You write short, realistic example texts used to train a text-scoring model. "
    "Reply with a JSON array only, no commentary."
)
MAX_EXAMPLES_PER_POLE = 20  # keeps diversify prompts small


class _RetryableError(SynthesisError):
    pass


def _describe(trait: TraitSpec) -> str:
    lines = [f"Trait: {trait.name}"]
    if trait.description.strip():
        lines.append(f"Meaning: {trait.description.strip()}")
    lines.append(f'Positive side ("positive"): {trait.positive_label}')
    lines.append(f'Negative side ("negative"): {trait.negative_label}')
    return "\n".join(lines)


def from_traits_prompt(trait: TraitSpec, per_pole: int) -> str:
    return (
        f"{_describe(trait)}\n\n"
        f"Write {per_pole} distinct texts that clearly sit on the positive side and {per_pole} that "
        "clearly sit on the negative side. Vary length, tone and subject.\n"
        'Answer as a JSON array of objects {"text": "...", "side": "positive" or "negative"}.'
    )


def diversify_prompt(trait: TraitSpec, examples: list[tuple[ExistingSample, str]], per_sample: int) -> str:
    listing = "\n".join(
        f"{n}. [{side}] {json.dumps(sample.text, ensure_ascii=False)}" for n, (sample, side) in enumerate(examples, 1)
    )
    return (
        f"{_describe(trait)}\n\nExamples:\n{listing}\n\n"
        f"For each example write {per_sample} new variation(s) that keep its side but change wording, "
        "details or subject; never repeat an example.\n"
        'Answer as a JSON array of objects {"text": "...", "side": "positive" or "negative", '
        '"source": <example number>}.'
    )


def extract_json_items(content: str) -> list:
    """The first JSON array in ``content`` (or the first list inside a JSON object), else raise."""
    decoder = json.JSONDecoder()
    for start, char in enumerate(content):
        if char not in "[{":
            continue
        try:
            value, _ = decoder.raw_decode(content, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            for key in sorted(value):
                if isinstance(value[key], list):
                    return value[key]
    raise _RetryableError("the model's reply contains no JSON array")


def _side_of(raw, trait: TraitSpec) -> bool | None:
    if not isinstance(raw, str):
        return None
    side = raw.strip().lower()
    if side in ("positive", "pos", "+", trait.positive_label.strip().lower()):
        return True
    if side in ("negative", "neg", "-", trait.negative_label.strip().lower()):
        return False
    return None


class ChatCompletionsGenerator:
    """Writes samples with an OpenAI-compatible chat model."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_attempts: int = 2,
    ):
        if not base_url or not model:
            raise SynthesisError("a chat generator needs base_url and model")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = float(timeout)
        self.max_attempts = max(1, int(max_attempts))

    def generate(self, request: SynthesisRequest) -> list[GeneratedSample]:
        deduper = Deduper(request.samples)
        out: list[GeneratedSample] = []
        with httpx.Client(timeout=self.timeout) as client:
            for trait in request.traits:
                if request.synth_type == FROM_TRAITS:
                    out.extend(self._from_trait(client, trait, request, deduper))
                else:
                    out.extend(self._diversify_trait(client, trait, request, deduper))
        return out

    def _from_trait(self, client, trait, request, deduper) -> list[GeneratedSample]:
        items = self._ask(client, from_traits_prompt(trait, request.per_pole))
        made = {True: 0, False: 0}
        out = []
        for item in items:
            text, side = self._valid(item, trait)
            if text is None or made[side] >= request.per_pole or not deduper.admit(text):
                continue
            made[side] += 1
            out.append(GeneratedSample(trait.key, text, 1.0 if side else 0.0))
        if not out:
            raise SynthesisError(f"the model wrote no usable samples for trait {trait.key!r}")
        return out

    def _diversify_trait(self, client, trait, request, deduper) -> list[GeneratedSample]:
        examples = [(s, "positive") for s in request.samples_of(trait.key, True)[:MAX_EXAMPLES_PER_POLE]]
        examples += [(s, "negative") for s in request.samples_of(trait.key, False)[:MAX_EXAMPLES_PER_POLE]]
        if not examples:
            return []
        budget = min(request.diversify_budget(trait.key), len(examples) * request.per_sample)
        items = self._ask(client, diversify_prompt(trait, examples, request.per_sample))
        out = []
        for item in items:
            text, side = self._valid(item, trait)
            if text is None or len(out) >= budget:
                continue
            source = item.get("source")
            if isinstance(source, int) and not isinstance(source, bool) and 1 <= source <= len(examples):
                sample, source_side = examples[source - 1]
                if (source_side == "positive") != side:
                    continue  # a variation must keep its source's label
                quality = sample.quality
            else:
                quality = 1.0 if side else 0.0
            if deduper.admit(text):
                out.append(GeneratedSample(trait.key, text, quality))
        if not out:
            raise SynthesisError(f"the model wrote no usable variations for trait {trait.key!r}")
        return out

    @staticmethod
    def _valid(item, trait: TraitSpec) -> tuple[str | None, bool | None]:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            return None, None
        text = item["text"].strip()
        side = _side_of(item.get("side"), trait)
        if not text or len(text) > MAX_TEXT_CHARS or side is None:
            return None, None
        return text, side

    def _ask(self, client: httpx.Client, prompt: str) -> list:
        last: SynthesisError | None = None
        for _ in range(self.max_attempts):
            try:
                return extract_json_items(self._complete(client, prompt))
            except _RetryableError as exc:
                last = exc
        raise SynthesisError(str(last)) from last

    def _complete(self, client: httpx.Client, prompt: str) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
            "temperature": 0.8,
        }
        try:
            response = client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _RetryableError(f"chat endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise _RetryableError(f"chat endpoint failed with HTTP {response.status_code}")
        if response.status_code >= 400:
            raise SynthesisError(f"chat endpoint refused the request with HTTP {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _RetryableError("chat endpoint reply is not a chat completion") from exc
        if not isinstance(content, str):
            raise _RetryableError("chat completion has no text content")
        return content
