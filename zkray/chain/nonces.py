"""Nonce bookkeeping for one sending account: pure logic, no I/O, no clocks (callers pass `now`).

Concurrent senders reserve nonces from one book, so two transactions never share a nonce. The book
remembers every reserved nonce until the chain has mined past it, and on each `plan` against the chain's
nonce counts says what to do so that nothing stays stuck:

- a nonce reserved but never broadcast (the sender crashed, or the node rejected the transaction) blocks
  every later one, so it is *filled* with a no-op (or simply given back when it is the highest);
- a transaction broadcast but not mined for `stuck_after_s` is *replaced* with bumped fees;
- when nothing is outstanding the book re-syncs with the chain's pending count (another wallet, a restart,
  a devnet snapshot revert).

The I/O half (signing, broadcasting, receipts) is `zkray.chain.txmanager.TxManager`; the Ray actor is
`actors.nonce_manager`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from zkray.chain.errors import LeaseExpired

# geth and anvil accept a replacement only if both fees rise by at least 10 %; 12.5 % leaves headroom.
BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fees in wei."""

    max_fee: int
    priority_fee: int

    def bumped(self, suggested: Fees | None = None) -> Fees:
        """Fees that a node accepts as a replacement of `self`, and at least the current suggestion."""
        max_fee = self.max_fee * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1
        priority = self.priority_fee * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1
        if suggested is not None:
            max_fee = max(max_fee, suggested.max_fee)
            priority = max(priority, suggested.priority_fee)
        return Fees(max(max_fee, priority), priority)


class SlotState(enum.Enum):
    RESERVED = "reserved"  # handed to a sender, not yet broadcast
    ABANDONED = "abandoned"  # the sender gave it back without broadcasting
    FILLING = "filling"  # planned for a no-op filler, filler not yet broadcast
    SENT = "sent"  # at least one transaction broadcast at this nonce


@dataclass
class Slot:
    """One nonce between reservation and the chain mining past it."""

    nonce: int
    state: SlotState
    reserved_at: float
    sent_at: float = 0.0
    hashes: list[str] = field(default_factory=list)  # every broadcast at this nonce, newest last
    fees: Fees | None = None
    payload: Any = None  # the unsigned transaction, re-signed with bumped fees when stuck
    replacements: int = 0
    filler: bool = False


@dataclass(frozen=True)
class Plan:
    """What the I/O side should do after comparing the book with the chain."""

    confirmed: list[Slot]  # the chain mined past these: find out which of `hashes` landed
    fill: list[int]  # broadcast a no-op at each of these nonces, then call `filled`
    replace: list[Slot]  # re-sign `payload` with `fees.bumped()` and call `replaced`


class NonceBook:
    """Allocates nonces for one account and tracks them until mined."""

    def __init__(
        self,
        next_nonce: int,
        *,
        lease_s: float = 30.0,
        stuck_after_s: float = 30.0,
        max_replacements: int = 8,
    ) -> None:
        self.next_nonce = next_nonce
        self.lease_s = lease_s
        self.stuck_after_s = stuck_after_s
        self.max_replacements = max_replacements
        self._slots: dict[int, Slot] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def slot(self, nonce: int) -> Slot | None:
        return self._slots.get(nonce)

    def reserve(self, now: float) -> int:
        """The next free nonce, reserved for the caller until `now + lease_s`."""
        nonce = self.next_nonce
        self.next_nonce += 1
        self._slots[nonce] = Slot(nonce, SlotState.RESERVED, reserved_at=now)
        return nonce

    def observe_chain(self, pending: int) -> None:
        """The chain's pending count is ahead of us (another wallet sent): never hand out those nonces."""
        self.next_nonce = max(self.next_nonce, pending)

    def broadcast(self, nonce: int, tx_hash: str, fees: Fees, payload: Any, now: float) -> None:
        """Record the broadcast at a reserved `nonce`; LeaseExpired if a filler took it meanwhile."""
        slot = self._slots.get(nonce)
        if slot is None or slot.state not in (SlotState.RESERVED, SlotState.ABANDONED):
            raise LeaseExpired(f"nonce {nonce} is no longer reserved; reserve a new one and sign again")
        slot.state, slot.sent_at, slot.fees, slot.payload = SlotState.SENT, now, fees, payload
        slot.hashes.append(tx_hash)

    def abandon(self, nonce: int) -> None:
        """The sender will not broadcast at `nonce` (it was rejected, or the sender gave up)."""
        slot = self._slots.get(nonce)
        if slot is not None and slot.state is SlotState.RESERVED:
            slot.state = SlotState.ABANDONED
        self._give_back_top()

    def filled(self, nonce: int, tx_hash: str, fees: Fees, payload: Any, now: float) -> None:
        """A no-op filler was broadcast at `nonce`."""
        slot = self._slots[nonce]
        slot.state, slot.sent_at, slot.fees, slot.payload = SlotState.SENT, now, fees, payload
        slot.filler = True
        slot.hashes.append(tx_hash)

    def fill_failed(self, nonce: int) -> None:
        """The filler was rejected; plan it again next time."""
        slot = self._slots.get(nonce)
        if slot is not None and slot.state is SlotState.FILLING:
            slot.state = SlotState.ABANDONED

    def replaced(self, nonce: int, tx_hash: str, fees: Fees, now: float) -> None:
        """A replacement with higher fees was broadcast at `nonce`."""
        slot = self._slots[nonce]
        slot.hashes.append(tx_hash)
        slot.fees, slot.sent_at = fees, now
        slot.replacements += 1

    def plan(self, mined: int, pending: int, now: float) -> Plan:
        """Compare with the chain: `mined` = account nonce at the latest block, `pending` = with the pool."""
        confirmed = [self._slots.pop(n) for n in sorted(self._slots) if n < mined]
        if not self._slots:
            # Nothing in flight: the chain is the truth (other wallets, restarts, reverted devnet snapshots).
            self.next_nonce = max(pending, mined)
            return Plan(confirmed, [], [])
        self.next_nonce = max(self.next_nonce, mined)
        fill: list[int] = []
        replace: list[Slot] = []
        for nonce in sorted(self._slots):
            slot = self._slots[nonce]
            expired = slot.state is SlotState.RESERVED and now - slot.reserved_at >= self.lease_s
            if slot.state is SlotState.ABANDONED or expired:
                slot.state = SlotState.FILLING
                fill.append(nonce)
            elif (
                slot.state is SlotState.SENT
                and now - slot.sent_at >= self.stuck_after_s
                and slot.replacements < self.max_replacements
            ):
                slot.sent_at = now  # one replacement per stuck period, even if the caller is slow
                replace.append(slot)
        return Plan(confirmed, fill, replace)

    def _give_back_top(self) -> None:
        # An abandoned nonce with nothing reserved above it needs no filler: the next reservation reuses it.
        while self._slots and (top := max(self._slots)) == self.next_nonce - 1:
            if self._slots[top].state is not SlotState.ABANDONED:
                break
            del self._slots[top]
            self.next_nonce -= 1
