"""Search attributes that make every run findable by model in the Temporal Web UI."""

from temporalio.common import SearchAttributeKey

MODEL_HANDLE = SearchAttributeKey.for_keyword("ModelHandle")
OPERATION_KIND = SearchAttributeKey.for_keyword("OperationKind")

ALL = (MODEL_HANDLE, OPERATION_KIND)
