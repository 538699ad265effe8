"""Traffic for the soak: closed-loop clients with a fixed request mix, a slow trainer loop, an
optional sample-batch writer, and a ledger of every write the API acknowledged (checked at the end).

Every request carries a client-side timeout; a request that reaches it is recorded as
`client_timeout` (status -1), a dropped connection as `connection_error` (status 0).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field

import httpx

from tests.workflows.support import training_samples

REQUEST_TIMEOUT = 30.0
TRANSPORT_BACKOFF = 0.2
# score and feedback (a score that also writes) together make 90 % of the mix.
MIX = (("score", 0.88), ("feedback", 0.02), ("read_model", 0.04), ("list_models", 0.03), ("list_samples", 0.03))
OPENINGS = ["Thanks so much for writing in", "Read the manual", "Restart the router and wait thirty seconds",
            "It might work at some point maybe", "Happy to help with the invoice", "Ticket closed",
            "Your refund of 20 euros arrives on Friday", "Perhaps someone will look into stuff"]
ENDINGS = ["", " today.", " and let us know how it goes.", " — the team.", " regarding your account."]
TRAITS = [{"key": "warmth", "name": "Warmth", "positive_label": "warm", "negative_label": "cold"},
          {"key": "clarity", "name": "Clarity", "positive_label": "clear", "negative_label": "vague"}]


@dataclass
class Call:
    phase: str
    kind: str
    status: int          # HTTP status; 0 connection error; -1 client timeout
    code: str | None     # the envelope's error code, or the transport failure
    seconds: float
    at: float            # seconds since the recorder started


@dataclass
class Ledger:
    """Writes the API answered 200/201/202 to, to be found again afterwards."""
    sample_ids: dict[str, list[int]] = field(default_factory=dict)             # handle → ids
    batches: dict[str, dict[int, list[int]]] = field(default_factory=dict)      # handle → batch no → ids
    trained: dict[str, str] = field(default_factory=dict)                      # handle → run id (202)
    refused_trains: list[str] = field(default_factory=list)                    # handle (503)

    def add_ids(self, handle: str, ids: list[int]) -> None:
        self.sample_ids.setdefault(handle, []).extend(ids)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.phase = "setup"
        self.started = time.monotonic()

    def add(self, kind: str, status: int, code: str | None, seconds: float) -> None:
        self.calls.append(Call(self.phase, kind, status, code, seconds, time.monotonic() - self.started))

    def summary(self, phase: str) -> dict:
        calls = [call for call in self.calls if call.phase == phase]
        if not calls:
            return {"requests": 0}
        span = max(call.at for call in calls) - min(call.at - call.seconds for call in calls)
        kinds = {}
        for kind in sorted({call.kind for call in calls}):
            kinds[kind] = _stats([call for call in calls if call.kind == kind], span)
        overall = _stats(calls, span)
        overall["by_kind"] = kinds
        return overall


def _stats(calls: list[Call], span: float) -> dict:
    latencies = sorted(call.seconds * 1000 for call in calls)
    errors: dict[str, int] = {}
    for call in calls:
        if not 200 <= call.status < 300:
            key = f"{call.status} {call.code}"
            errors[key] = errors.get(key, 0) + 1
    failed = sum(errors.values())
    failures = [call for call in calls if not 200 <= call.status < 300]
    window = (round(max(c.at for c in failures) - min(c.at - c.seconds for c in failures), 2)
              if failures else 0.0)
    return {
        "requests": len(calls), "errors": failed, "error_rate": round(failed / len(calls), 5),
        "error_codes": errors, "req_per_s": round(len(calls) / span, 2) if span > 0 else None,
        "p50_ms": round(_percentile(latencies, 50), 1), "p99_ms": round(_percentile(latencies, 99), 1),
        "max_ms": round(latencies[-1], 1), "failure_window_s": window,
    }


def _percentile(ordered: list[float], q: float) -> float:
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1] if q < 100 else ordered[-1]


class Traffic:
    def __init__(self, client: httpx.AsyncClient, headers: dict, namespace: str, scored: list[str],
                 feedback_model: str, recorder: Recorder, ledger: Ledger, seed: int = 7) -> None:
        self.client = client
        self.headers = headers
        self.namespace = namespace
        self.scored = scored
        self.feedback_model = feedback_model
        self.recorder = recorder
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.trained_count = 0
        self.batch_count = 0

    async def call(self, kind: str, method: str, url: str, **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        response = None
        try:
            response = await self.client.request(method, url, headers=self.headers, timeout=REQUEST_TIMEOUT,
                                                 **kwargs)
            status, code = response.status_code, None
            if status >= 400:
                try:
                    code = response.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = "no_envelope"
        except httpx.TimeoutException:
            status, code = -1, "client_timeout"
        except httpx.TransportError:
            status, code = 0, "connection_error"
        self.recorder.add(kind, status, code, time.perf_counter() - started)
        return response

    def _text(self) -> str:
        return f"{self.rng.choice(OPENINGS)}{self.rng.choice(ENDINGS)} #{self.rng.randrange(10_000)}"

    # --- the mix -------------------------------------------------------------------------------

    async def one_request(self) -> int:
        """One request of the mix; returns its status (0 or -1 when no response came)."""
        kind = self.rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        if kind == "score":
            response = await self.call(kind, "POST", f"/v1/models/{self.rng.choice(self.scored)}/score",
                                       json={"content": self._text()})
        elif kind == "feedback":
            label = self.rng.choice(["warm", "cold"])
            response = await self.call(kind, "POST", f"/v1/models/{self.feedback_model}/score",
                                       json={"content": self._text(), "feedback": {"warmth": label}})
            if response is not None and response.status_code == 200:
                self.ledger.add_ids(self.feedback_model, response.json()["metadata"]["sample_ids"])
        elif kind == "read_model":
            response = await self.call(kind, "GET",
                                       f"/v1/models/{self.rng.choice(self.scored + [self.feedback_model])}")
        elif kind == "list_models":
            response = await self.call(kind, "GET", "/v1/models", params={"namespace": self.namespace, "limit": 50})
        else:
            response = await self.call(kind, "GET", f"/v1/models/{self.feedback_model}/samples",
                                       params={"limit": 100})
        return response.status_code if response is not None else 0

    async def clients(self, count: int, stop: asyncio.Event) -> None:
        async def loop() -> None:
            while not stop.is_set():
                if await self.one_request() <= 0:
                    await asyncio.sleep(TRANSPORT_BACKOFF)  # the API is down: retry like a client would

        await asyncio.gather(*(loop() for _ in range(count)))

    # --- authoring -----------------------------------------------------------------------------

    async def draft(self, handle: str, per_pole: int, salt: str) -> bool:
        """A draft with two traits and samples; False if any step was not acknowledged."""
        created = await self.call("author", "POST", "/v1/models", json={"handle": handle})
        if created is None or created.status_code != 201:
            return False
        traits = await self.call("author", "POST", f"/v1/models/{handle}/traits", json={"traits": TRAITS})
        if traits is None or traits.status_code != 200:
            return False
        added = await self.call("author", "POST", f"/v1/models/{handle}/samples",
                                json={"samples": training_samples(per_pole, salt)})
        if added is None or added.status_code != 200:
            return False
        self.ledger.add_ids(handle, added.json()["ids"])
        return True

    async def train(self, handle: str, effort: str = "low") -> httpx.Response | None:
        response = await self.call("train", "POST", f"/v1/models/{handle}/train", json={"effort": effort})
        if response is not None and response.status_code == 202:
            self.ledger.trained[handle] = response.json()["run_id"]
        elif response is not None and response.status_code == 503:
            self.ledger.refused_trains.append(handle)
        return response

    async def trainer(self, every: float, stop: asyncio.Event, per_pole: int = 8) -> None:
        """A new draft model trained now and then, while the rest of the traffic goes on."""
        while not stop.is_set():
            self.trained_count += 1
            handle = f"{self.namespace}.soak-train-{self.trained_count}"
            if await self.draft(handle, per_pole, salt=f"t{self.trained_count}-{self.rng.random()}"):
                await self.train(handle)
            try:
                await asyncio.wait_for(stop.wait(), every)
            except asyncio.TimeoutError:
                pass

    async def batch_writer(self, handle: str, stop: asyncio.Event, size: int = 100) -> list[int]:
        """Appends tagged sample batches to a draft until stopped; returns the batches left unanswered."""
        unanswered = []
        while not stop.is_set():
            self.batch_count += 1
            number = self.batch_count
            batch = [{"trait": "warmth", "text": f"batch sample {i} [batch {number}]", "quality": i % 2}
                     for i in range(size)]
            response = await self.call("sample_batch", "POST", f"/v1/models/{handle}/samples",
                                       json={"samples": batch})
            if response is not None and response.status_code == 200:
                self.ledger.batches.setdefault(handle, {})[number] = response.json()["ids"]
            elif response is None:
                unanswered.append(number)
                await asyncio.sleep(0.5)
        return unanswered
