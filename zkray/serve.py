"""`python -m zkray.serve`: the node's entry point.

Until the node (scheduler, chain, Ray proving) lands, its embedded default proves and verifies the demo
guest end to end, so the main-job command already exercises the whole proof system.
"""

from __future__ import annotations

import sys
import time

from zkray.proving import prove, verify


def main() -> int:
    start = time.perf_counter()
    receipt = prove("fib", {"n": 9})
    proved = time.perf_counter()
    verify(receipt.encode(), receipt.image_id)
    done = time.perf_counter()
    out = int.from_bytes(receipt.journal[4:8], "little")
    print(f"zkray demo: fib(9) = {out}; proved in {proved - start:.2f} s, verified in "
          f"{1000 * (done - proved):.1f} ms; receipt {len(receipt.encode())} bytes, "
          f"image id {receipt.image_id.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
