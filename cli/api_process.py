"""The app factory uvicorn loads in `assay up`'s API processes (`cli.api_process:create_app`).

With `--api-workers N` above 1, uvicorn's supervisor process spawns N server processes of its
own. The parent-death signal `assay up` gives its children is not inherited by theirs, so each of
those sets it here, towards uvicorn's supervisor, before loading the app: when `assay up` dies the
supervisor is killed, and its server processes follow instead of serving on as orphans.
"""

from __future__ import annotations

import multiprocessing

from cli.processes import die_with_parent


def create_app():
    parent = multiprocessing.parent_process()
    if parent is not None:  # a worker process spawned by uvicorn's supervisor
        die_with_parent(parent.pid)
    # The HTTP layer is loaded only here, inside the API process, never by the `assay` command.
    from api.app import create_app as create_api_app

    return create_api_app()
