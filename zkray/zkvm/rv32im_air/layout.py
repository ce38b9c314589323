"""Column layouts declared once and counted by code: a chip asks for named columns, never for numbers."""

from __future__ import annotations


class Layout:
    """Hands out consecutive column indices under names; `width` is the count so far."""

    def __init__(self) -> None:
        self.names: list[str] = []

    @property
    def width(self) -> int:
        return len(self.names)

    def col(self, name: str) -> int:
        """One column."""
        if name in self.names:
            raise ValueError(f"column {name!r} declared twice")
        self.names.append(name)
        return len(self.names) - 1

    def cols(self, name: str, count: int) -> tuple[int, ...]:
        """`count` consecutive columns name[0], name[1], …"""
        return tuple(self.col(f"{name}[{i}]") for i in range(count))
