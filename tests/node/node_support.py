"""Helpers the proving tests ship into Ray workers: registered with cloudpickle by value, because the
tests directory is not importable in a worker process."""

from __future__ import annotations

import socket
import sys
from typing import Any

from ray import cloudpickle

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def fib_input(n: int) -> bytes:
    return n.to_bytes(4, "little")


class UnreachableRemote:
    """A remote prover configured at a loopback port where nothing listens: every call is a real refused
    TCP connection, the failure a down Bonsai endpoint gives."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]  # closed again: nothing listens here

    def prove(self, kind: str, program: Any, input: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            raise AssertionError("nothing should be listening")


class RemoteMissingModule:
    """A remote prover whose client code imports a module that is not installed: an error of the program,
    which the pool must fail at once instead of retrying (it fails the same way every time)."""

    def prove(self, kind: str, program: Any, input: bytes) -> bytes:
        import importlib

        importlib.import_module("zkray.no_such_module_timed_out")  # the text sounds transient; the type decides
        raise AssertionError("unreachable")
