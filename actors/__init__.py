"""Ray actors that hold state for the node. Each module wraps a plain class; `ray.remote` is applied in
one small factory function per actor, so the classes are tested without Ray."""
