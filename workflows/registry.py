"""Every workflow a worker registers."""

from workflows.authoring import DiscoverWorkflow, SynthesizeWorkflow
from workflows.retrain import RetrainWorkflow
from workflows.train import TrainWorkflow

ALL_WORKFLOWS = [TrainWorkflow, DiscoverWorkflow, SynthesizeWorkflow, RetrainWorkflow]
