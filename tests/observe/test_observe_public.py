"""The package's public surface is what `__all__` says, and every name in it exists."""

from __future__ import annotations

import zkray.observe as observe


def test_all_is_exactly_the_public_surface():
    assert sorted(observe.__all__) == observe.__all__
    for name in observe.__all__:
        assert hasattr(observe, name), name
    assert {"NodeStatusSource", "JournalStatusSource", "LiveStats", "add_routes", "create_app",
            "node_status_source", "configure_logging"} <= set(observe.__all__)  # fmt: skip
