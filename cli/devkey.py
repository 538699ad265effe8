"""The development key that `assay up` keeps in `<data-dir>/dev-key`.

Decision where SPEC is silent: the file is reused as long as its key still authenticates against
the configured database; if it does not (revoked, or the database was replaced), a fresh authoring
key for namespace `dev` is issued and the file rewritten, so a running stack always has a usable key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.context import run_with_session
from settings import Settings
from store import keys as key_store

DEV_NAMESPACE = "dev"
DEV_KEY_FILE = "dev-key"


def dev_key_path(settings: Settings) -> Path:
    return settings.data_dir / DEV_KEY_FILE


def ensure_dev_key(settings: Settings) -> tuple[str, bool]:
    """(secret, created): the stored key if it still works, else a newly issued one."""
    return ensure_key_file(settings, dev_key_path(settings), DEV_NAMESPACE, "dev key (assay up)",
                           usable=lambda record: True)


def ensure_key_file(settings: Settings, path: Path, namespace: str, label: str,
                    usable: Callable[[Any], bool]) -> tuple[str, bool]:
    """(secret, created): the key stored in ``path`` while it authenticates and ``usable(record)``
    holds, else a new authoring key for ``namespace``, written to ``path`` (0600)."""
    stored = path.read_text().strip() if path.exists() else ""

    async def _ensure(session) -> tuple[str, bool]:
        if stored:
            record = await key_store.verify(session, stored)
            if record is not None and usable(record):
                return stored, False
        issued = await key_store.create_key(session, [namespace], "authoring", label=label)
        return issued.secret, True

    secret, created = run_with_session(settings, _ensure)
    if created:
        _write_private(path, secret)
    return secret, created


def _write_private(path: Path, secret: str) -> None:
    """Writes the secret readable by its owner only (0600), never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
