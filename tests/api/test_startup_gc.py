"""An API process keeps what its startup loaded out of the cyclic garbage collector, so a full
collection does not pause every request of the process for ~100 ms (issue #15)."""

from __future__ import annotations

import gc


async def test_startup_freezes_the_loaded_objects(app):
    # `app` has run its startup (the session fixture serves it); the loaded modules alone are ~200k objects.
    assert gc.get_freeze_count() > 50_000
