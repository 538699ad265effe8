"""Builds real trained models for the scoring tests: the catalog API creates the model, traits and
samples; the real engine (MiniLM) trains; the version is stored the way a publish stores it.

Training goes straight through ``engine.training`` here so these tests do not depend on the
Temporal worker; the version flow test trains through ``POST …/train`` with the worker."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from api.lookup_cache import forget_all
from engine.embedders import get_embedder
from engine.training import LabelledSample, TraitSpec, train_model
from store.tables import Model, Sample, Trait, Version

CLEAR = [
    "Restart the router, wait thirty seconds, then sign in again.",
    "Your refund was sent today and will reach your card within five days.",
    "Click Save at the top right to keep your changes.",
    "The meeting moved to Tuesday at 10 am in room 4.",
    "To reset your password, open Settings and choose Security.",
    "We fixed the bug; update the app to version 2.3 to get the fix.",
    "Bring your ID and the booking number to the front desk.",
    "The report is due Friday. Send it to Dana as a PDF.",
]
UNCLEAR = [
    "Per the aforementioned synergies, actioning deliverables may or may not be impacted going forward.",
    "It is what it is, kind of, depending on the thing with the other stuff we talked about maybe.",
    "Leveraging holistic paradigms, the cross-functional vertical ideates at scale, as it were.",
    "So basically the issue was like sort of related to the whatever and then it just did that.",
    "Notwithstanding prior iterations, subsequent realignments shall be contemplated in due course.",
    "Things happened and some of it was handled but also not, so we will circle back at some point.",
    "The said matter, insofar as it pertains, remains subject to further ongoing holistic review.",
    "Yeah it's the usual, you know how it is, with the stuff and the other stuff and all that.",
]
WARM = [
    "Thank you so much for your patience, we really appreciate you sticking with us!",
    "I'm so glad you reached out, happy to help you get this sorted today.",
    "What a lovely note, thank you, it made our whole team smile.",
    "We're sorry for the trouble and grateful you told us, let's fix it together.",
    "Welcome aboard! We're thrilled to have you with us.",
    "Take all the time you need, we're here whenever you're ready.",
]
COLD = [
    "Your request has been logged. Do not reply to this message.",
    "Ticket closed. Further inquiries will not be answered.",
    "Read the documentation before contacting support again.",
    "Noted. No action will be taken.",
    "Access denied. Submit form 12-B through the correct channel.",
    "This is your final notice. Payment is overdue.",
]

TRAITS = [
    {"key": "clarity", "name": "Clarity", "description": "Plain, concrete, easy to act on.",
     "positive_label": "clear", "negative_label": "muddled"},
    {"key": "warmth", "name": "Warmth", "description": "Friendly and caring tone.",
     "positive_label": "warm", "negative_label": "cold"},
]


def sample_rows(trait_keys: list[str]) -> list[dict]:
    pools = {"clarity": (CLEAR, UNCLEAR), "warmth": (WARM, COLD)}
    rows = []
    for key in trait_keys:
        good, bad = pools[key]
        rows += [{"trait": key, "text": t, "quality": 1.0} for t in good]
        rows += [{"trait": key, "text": t, "quality": 0.0} for t in bad]
    return rows


async def create_model(http, headers, handle: str, trait_keys=("clarity", "warmth"), **extra) -> None:
    body = {"handle": handle, "description": "Support replies that are clear and kind.", **extra}
    response = await http.post("/v1/models", json=body, headers=headers)
    assert response.status_code == 201, response.text
    traits = [t for t in TRAITS if t["key"] in trait_keys]
    response = await http.post(f"/v1/models/{handle}/traits", json={"traits": traits}, headers=headers)
    assert response.status_code == 200, response.text
    response = await http.post(f"/v1/models/{handle}/samples", json={"samples": sample_rows(list(trait_keys))},
                               headers=headers)
    assert response.status_code == 200, response.text


async def train_now(sessionmaker_, handle: str, effort: str = "low", triggered_by: str = "train",
                    activate: bool = True) -> int:
    """Train on the stored samples with the real embedder and store the result as the next version."""
    async with sessionmaker_() as session:
        model = await session.scalar(select(Model).where(Model.handle == handle))
        traits = list(await session.scalars(select(Trait).where(Trait.model_id == model.id).order_by(Trait.id)))
        key_of = {t.id: t.key for t in traits}
        samples = list(await session.scalars(select(Sample).where(Sample.model_id == model.id)))
        result = train_model([TraitSpec(t.key, t.name, t.aggregation) for t in traits],
                             [LabelledSample(key_of[s.trait_id], s.text, s.quality, s.id) for s in samples],
                             get_embedder(), effort)
        last = await session.scalar(select(func.max(Version.version_no)).where(Version.model_id == model.id))
        number = (last or 0) + 1
        version = Version(model_id=model.id, version_no=number, triggered_by=triggered_by,
                          run_id=f"run_test_{model.id}_{number}", param_hash=result.snapshot.param_hash,
                          sample_count=len(samples), max_sample_id=max(s.id for s in samples),
                          metrics=result.metrics, snapshot=result.snapshot.to_json())
        session.add(version)
        await session.flush()
        if activate:
            model.active_version_id = version.id
        model.state = "ready"
        await session.commit()
    forget_all()  # written behind the API's back: this process's lookup caches must not keep the old row
    return number


async def trained_model(http, make_key, sessionmaker_, prefix: str) -> dict:
    """A trained two-trait model in a fresh namespace, with an owner key and a scoring key."""
    namespace = f"{prefix}{uuid.uuid4().hex[:12]}"
    owner = await make_key(namespace)
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    scorer = await make_key(namespace, scope="scoring")
    return {"handle": handle, "owner": owner, "scorer": scorer, "namespace": namespace}
