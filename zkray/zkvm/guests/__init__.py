"""Built-in guests: programs whose AIR is written by hand (the Fibonacci pair of the Nexus-style node).

A guest turns an input into a trace, public inputs and a journal, and back from a journal to the public
inputs a verifier needs. Its image id is a digest of its canonical definition (name, version and the
AIR's fingerprint, which covers the constraints), so two different programs never share one.
"""

from __future__ import annotations

from zkray.zkvm.guests.builtin import BUILTIN_GUESTS, BuiltinGuest, by_image_id, by_name

__all__ = ["BUILTIN_GUESTS", "BuiltinGuest", "by_image_id", "by_name"]
