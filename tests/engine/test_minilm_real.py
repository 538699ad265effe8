"""The real default embedder (all-MiniLM-L6-v2 int8 ONNX) end to end: load, embed, train, score."""

import hashlib

import numpy as np
import pytest

from engine.embedders import get_embedder
from engine.embedders.minilm import MODEL_SHA256, model_file
from engine.scorer import Scorer
from engine.training import LabelledSample, TraitSpec, train_model

WARM = [
    "Thank you so much for your patience, I'm happy to help you sort this out.",
    "I completely understand how frustrating that must be, let's fix it together.",
    "Great question! Here is a step-by-step guide that should make it easy.",
    "I'm sorry for the trouble, I've refunded your order and added a small credit.",
    "It was a pleasure talking with you today, have a wonderful weekend!",
    "No worries at all, we all make mistakes. I've corrected it for you.",
    "Thanks for letting us know, your feedback really helps us improve.",
    "I've gone ahead and upgraded your shipping at no cost, hope that helps!",
    "You're very welcome! Don't hesitate to reach out if anything else comes up.",
    "I appreciate you taking the time to explain the issue in such detail.",
    "Happy to walk you through the setup whenever suits you best.",
    "That sounds really stressful, I'll make this my priority right now.",
    "Welcome aboard! We're thrilled to have you with us.",
    "Good news: your replacement is on its way and should arrive tomorrow.",
    "I hope you have a lovely day, thanks again for being such a loyal customer.",
    "Of course, I'd be glad to extend your trial so you can explore everything.",
    "Thank you for your kind words, it means a lot to our whole team.",
    "Let me know how it goes, I'm here if you need anything at all.",
    "I've double-checked everything and you're all set, enjoy!",
    "What a great idea, I'll pass your suggestion on to the product team.",
]
COLD = [
    "Read the manual. The answer is in there.",
    "That's not our problem, contact your bank.",
    "We already told you twice. Stop emailing us.",
    "Your complaint has been noted. No further action will be taken.",
    "If you can't follow simple instructions, that's on you.",
    "Refunds are not possible. Do not ask again.",
    "I don't have time for this, figure it out yourself.",
    "Obviously you did something wrong, the product works fine.",
    "Ticket closed. Don't reopen it.",
    "We are not responsible for your mistakes.",
    "Whatever. Try restarting it or something.",
    "That's a stupid question, it's explained on the website.",
    "You should have read the terms before buying.",
    "Nobody else has this issue, so it must be your fault.",
    "Stop wasting our time with these requests.",
    "No. The policy is the policy.",
    "Your account is suspended. Deal with it.",
    "I'm not going to repeat myself again.",
    "Call back during business hours, if you must.",
    "Complaints like yours are why we have a no-returns rule.",
]
UNSEEN_WARM = [
    "Thanks a lot for reaching out, I'd be delighted to help you with your booking.",
    "So sorry about the delay! I've sent a replacement and a discount code for next time.",
    "You're doing great, let me show you a quick trick that makes this easier.",
    "It's always lovely to hear from you, thank you for your patience today.",
]
UNSEEN_COLD = [
    "Not our issue. Go away.",
    "You clearly didn't read anything we sent. We won't help further.",
    "Your request is denied and this conversation is over.",
    "Stop complaining, it's your own fault you broke it.",
]


@pytest.fixture(scope="module")
def minilm():
    return get_embedder("minilm")


def test_loads_the_pinned_model(minilm):
    assert minilm.id == "minilm" and minilm.dim == 384
    assert minilm.model_hash == MODEL_SHA256
    assert hashlib.sha256(model_file().read_bytes()).hexdigest() == MODEL_SHA256


def test_vectors_are_unit_384d_and_reproducible(minilm):
    v = minilm.embed("The quick brown fox jumps over the lazy dog.")
    assert v.dtype == np.float32 and v.shape == (384,)
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    assert v.tobytes() == minilm.embed("The quick brown fox jumps over the lazy dog.").tobytes()
    many = minilm.embed_many(["The quick brown fox jumps over the lazy dog.", "Hi"])
    assert many[0].tobytes() == v.tobytes()


def test_embeddings_reflect_meaning(minilm):
    cat, kitten, tax = minilm.embed_many(["The cat sleeps on the sofa.", "A kitten naps on the couch.",
                                          "Quarterly tax filings are due in April."])
    assert float(cat @ kitten) > 0.5 > float(cat @ tax)


def test_long_inputs_are_truncated_at_256_word_pieces(minilm):
    long = " ".join(["banana"] * 400)
    assert minilm.count_tokens(long) == 402
    # Beyond the window the text no longer changes the vector.
    assert minilm.embed(long).tobytes() == minilm.embed(long + " cherry apple kiwi").tobytes()
    assert minilm.embed("banana").tobytes() != minilm.embed("banana cherry").tobytes()


@pytest.mark.parametrize("effort", ["low", "high"])
def test_trained_model_ranks_unseen_sentences(minilm, effort):
    samples = [LabelledSample("warmth", t, 1.0) for t in WARM] + [LabelledSample("warmth", t, 0.0) for t in COLD]
    result = train_model([TraitSpec("warmth", "Warmth")], samples, minilm, effort)
    assert result.metrics["traits"]["warmth"]["auc"] > 0.9
    scorer = Scorer(result.snapshot, minilm)
    warm_scores = [scorer.score(t)["scores"]["warmth"] for t in UNSEEN_WARM]
    cold_scores = [scorer.score(t)["scores"]["warmth"] for t in UNSEEN_COLD]
    assert min(warm_scores) > 50, warm_scores
    assert max(cold_scores) < 50, cold_scores
    card = scorer.score(UNSEEN_WARM[0])
    assert card["detail"]["warmth"]["native"]["polarity"] > 0
    assert card["input_tokens"] == minilm.count_tokens(UNSEEN_WARM[0])
