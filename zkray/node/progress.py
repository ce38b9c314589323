"""Live progress for an operator: jobs by state, proofs per minute, earnings, the mode (rich).

On a terminal it is a table redrawn twice a second; elsewhere (CI, a log file) one line every few
seconds, and a summary at the end either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from zkray.node.pipeline import Node

WEI_PER_ETH = 10**18


def summary_line(snap: dict[str, Any], posted: int | None = None) -> str:
    counts = " ".join(f"{k}={v}" for k, v in sorted(snap["counts"].items()))
    demo = f"posted={posted} " if posted is not None else ""
    return (
        f"{demo}{counts} | proofs={snap['proofs']} ({snap['proofs_per_min']:.1f}/min) paid={snap['paid']} "
        f"earned={snap['earned_wei'] / WEI_PER_ETH:.6f} ETH | mode={snap['mode']} errors={len(snap['errors'])}"
    )


def table(snap: dict[str, Any], posted: int | None) -> Table:
    t = Table(title="zkray node", show_header=True, header_style="bold")
    t.add_column("what")
    t.add_column("value", justify="right")
    if posted is not None:
        t.add_row("jobs posted (demo)", str(posted))
    for status, n in sorted(snap["counts"].items()):
        t.add_row(f"jobs {status}", str(n))
    t.add_row("in flight", str(snap["active"]))
    t.add_row("proofs", f"{snap['proofs']} ({snap['proofs_per_min']:.1f}/min)")
    t.add_row("paid", str(snap["paid"]))
    t.add_row("earned", f"{snap['earned_wei'] / WEI_PER_ETH:.6f} ETH")
    t.add_row("mode", f"{snap['mode']} ({snap['mode_reason']})")
    t.add_row("errors", str(len(snap["errors"])))
    return t


async def show(node: Node, cancel: asyncio.Event, posted: Any = None, *, live: bool | None = None) -> None:
    """Until `cancel`: redraw (terminal) or print a line every 5 s."""
    live = sys.stdout.isatty() if live is None else live

    def count() -> int | None:
        return None if posted is None else len(posted())

    if live:
        with Live(table(node.snapshot(), count()), console=Console(), refresh_per_second=2) as view:
            while not cancel.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cancel.wait(), 0.5)
                view.update(table(node.snapshot(), count()))
        return
    while not cancel.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cancel.wait(), 5.0)
        print(summary_line(node.snapshot(), count()), flush=True)
