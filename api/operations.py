"""Only for ``api.scoring_service``'s import of ``signal_retrain`` while another branch edits that
file; runs are started in ``api.run_control`` and read in ``api.run_status``. Delete this module
once that import names ``api.run_control``."""

from api.run_control import signal_retrain  # noqa: F401
