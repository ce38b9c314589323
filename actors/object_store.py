"""Where a cache's memory tier keeps its bytes: the Ray object store, behind one small interface.

`RayObjectStore.put` runs `ray.put` in the calling process; called inside a cache actor, that makes the
actor the owner of the object (the way to own objects now that `ray.put(_owner=…)` is gone), so the
bytes live as long as the actor holds the ref and any task can read them by ref without a copy through
the actor. `LocalObjectStore` keeps bytes in a dict, for the caches' logic tests and for use without Ray.
"""

from __future__ import annotations

from typing import Any, Protocol


class ObjectStore(Protocol):
    """Stores bytes and hands back a handle callers can pass around (a Ray ObjectRef, or the bytes)."""

    def put(self, data: bytes) -> Any: ...

    def get(self, handle: Any) -> bytes: ...

    def free(self, handle: Any) -> None: ...


class RayObjectStore:
    """Bytes in Ray's object store, owned by the process (actor) that calls `put`."""

    def put(self, data: bytes) -> Any:
        import ray

        return ray.put(data)

    def get(self, handle: Any) -> bytes:
        import ray

        data: bytes = ray.get(handle)
        return data

    def free(self, handle: Any) -> None:
        """Drop our reference: Ray frees the object once no task or caller still borrows it."""
        del handle


class LocalObjectStore:
    """Bytes in this process; the handle is the bytes themselves."""

    def put(self, data: bytes) -> Any:
        return bytes(data)

    def get(self, handle: Any) -> bytes:
        return bytes(handle)

    def free(self, handle: Any) -> None:
        del handle
