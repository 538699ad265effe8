"""Every workflow a worker registers, and the one each operation kind runs as."""

from contracts.states import OperationKind
from workflows.authoring import DiscoverWorkflow, SynthesizeWorkflow
from workflows.evaluation import EvaluationWorkflow
from workflows.retrain import RetrainWorkflow
from workflows.score_job import ScoreJobWorkflow
from workflows.train import TrainWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow

ALL_WORKFLOWS = [TrainWorkflow, DiscoverWorkflow, SynthesizeWorkflow, RetrainWorkflow, WebhookDeliveryWorkflow,
                 ScoreJobWorkflow, EvaluationWorkflow]

# The API starts a run by these method references, never by a workflow's name.
RUN_FOR_KIND = {
    OperationKind.TRAIN: TrainWorkflow.run,
    OperationKind.RETUNE: TrainWorkflow.run,
    OperationKind.RETRAIN: TrainWorkflow.run,
    OperationKind.DISCOVER: DiscoverWorkflow.run,
    OperationKind.SYNTHESIZE: SynthesizeWorkflow.run,
}
