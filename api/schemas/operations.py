"""Wire shapes of the long-running operation endpoints (SPEC §3 rows 9, 15, 17)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.effort import Effort

SynthType = Literal["from_traits", "diversify"]

_REQUEST = ConfigDict(extra="forbid")


class TrainRequest(BaseModel):
    model_config = _REQUEST

    effort: Effort | None = Field(
        None, description="Search depth for the fit: `low`, `medium`, `high`, `xhigh` or `max`. "
                          "Left out or null means `high`. Background retrains ignore it.")
    reoptimize_params: bool = Field(
        False, description="On a `ready` model, run a new parameter search (a re-tune). Without it a "
                           "`ready` model is left as it is: new feedback is folded in by background retraining.")


class DiscoverRequest(BaseModel):
    model_config = _REQUEST

    effort: Effort | None = Field(
        None, description="How wide discovery looks: more principal components and more proposed axes "
                          "at higher levels. Null means `high`.")


class SynthesizeRequest(BaseModel):
    model_config = _REQUEST

    synth_type: SynthType = Field(
        "from_traits", description="`from_traits` writes pole examples from each trait's name, labels and "
                                   "description; `diversify` writes label-keeping variations of existing samples.")
    effort: Effort | None = Field(None, description="Scales how many samples are written. Null means `high`.")


class TrainResponse(BaseModel):
    state: str = Field(..., description="The model's state after this call.", examples=["busy", "ready"])
    run_id: str | None = Field(
        None, description="Id of the run that was started (also its Temporal workflow id); null when "
                          "nothing needed to run.")
