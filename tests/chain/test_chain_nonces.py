"""NonceBook, the pure half of the nonce manager: no chain, no clocks (time is passed in)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkray.chain.errors import LeaseExpired
from zkray.chain.nonces import Fees, NonceBook, SlotState

FEES = Fees(max_fee=2_000, priority_fee=100)


def test_reservations_are_consecutive_and_unique() -> None:
    book = NonceBook(7)
    assert [book.reserve(0.0) for _ in range(5)] == [7, 8, 9, 10, 11]
    assert book.next_nonce == 12 and len(book) == 5


def test_mined_nonces_are_confirmed_and_forgotten() -> None:
    book = NonceBook(0)
    for n in range(3):
        book.reserve(0.0)
        book.broadcast(n, f"0x{n}", FEES, None, 0.0)
    plan = book.plan(mined=2, pending=3, now=1.0)
    assert [s.nonce for s in plan.confirmed] == [0, 1]
    assert plan.fill == [] and plan.replace == [] and len(book) == 1


def test_a_reservation_never_broadcast_is_filled_after_its_lease() -> None:
    book = NonceBook(0, lease_s=10.0)
    lost = book.reserve(0.0)  # the sender crashed before broadcasting
    later = book.reserve(0.0)
    book.broadcast(later, "0xb", FEES, None, 0.0)
    assert book.plan(mined=0, pending=0, now=5.0).fill == []  # still within the lease
    assert book.plan(mined=0, pending=0, now=10.0).fill == [lost]
    assert book.slot(lost).state is SlotState.FILLING  # type: ignore[union-attr]
    assert book.plan(mined=0, pending=0, now=11.0).fill == []  # planned once
    with pytest.raises(LeaseExpired):
        book.broadcast(lost, "0xlate", FEES, None, 12.0)  # the crashed sender woke up too late
    book.filled(lost, "0xfill", FEES, None, 12.0)
    assert [s.nonce for s in book.plan(mined=2, pending=2, now=13.0).confirmed] == [lost, later]


def test_an_abandoned_nonce_below_others_is_filled_at_once() -> None:
    book = NonceBook(0)
    first, second = book.reserve(0.0), book.reserve(0.0)
    book.broadcast(second, "0x2", FEES, None, 0.0)
    book.abandon(first)  # the node rejected it
    assert book.plan(mined=0, pending=0, now=0.1).fill == [first]


def test_an_abandoned_highest_nonce_is_given_back_without_a_filler() -> None:
    book = NonceBook(0)
    book.reserve(0.0)
    top = book.reserve(0.0)
    book.abandon(top)
    assert book.next_nonce == top and book.slot(top) is None
    assert book.reserve(1.0) == top


def test_a_stuck_transaction_is_replaced_once_per_period_with_bumped_fees() -> None:
    book = NonceBook(0, stuck_after_s=30.0, max_replacements=2)
    book.reserve(0.0)
    book.broadcast(0, "0xa", FEES, {"to": "x"}, 0.0)
    assert book.plan(0, 1, now=29.0).replace == []
    [slot] = book.plan(0, 1, now=30.0).replace
    bumped = slot.fees.bumped()  # type: ignore[union-attr]
    assert bumped.max_fee >= FEES.max_fee * 1.1 and bumped.priority_fee >= FEES.priority_fee * 1.1
    book.replaced(0, "0xb", bumped, 30.0)
    assert book.plan(0, 1, now=45.0).replace == []
    assert len(book.plan(0, 1, now=60.0).replace) == 1
    book.replaced(0, "0xc", bumped.bumped(), 60.0)
    assert book.plan(0, 1, now=1000.0).replace == []  # max_replacements reached
    assert book.slot(0).hashes == ["0xa", "0xb", "0xc"]  # type: ignore[union-attr]


def test_bumped_fees_follow_a_higher_suggestion() -> None:
    assert FEES.bumped(Fees(10_000, 500)) == Fees(10_000, 500)


def test_with_nothing_in_flight_the_book_resyncs_to_the_chain() -> None:
    book = NonceBook(5)
    book.plan(mined=9, pending=12, now=0.0)  # another wallet used the account
    assert book.next_nonce == 12
    book.plan(mined=3, pending=3, now=0.0)  # a devnet snapshot was reverted
    assert book.next_nonce == 3


@given(st.lists(st.sampled_from(["reserve", "send", "abandon", "mine"]), max_size=60))
def test_no_nonce_is_ever_handed_out_twice_while_outstanding(ops: list[str]) -> None:
    book = NonceBook(0, lease_s=1e9)
    outstanding: set[int] = set()
    reserved: list[int] = []
    mined = 0
    for op in ops:
        if op == "reserve":
            n = book.reserve(0.0)
            assert n not in outstanding and n >= mined
            outstanding.add(n)
            reserved.append(n)
        elif op == "send" and reserved:
            book.broadcast(reserved.pop(0), "0x", FEES, None, 0.0)
        elif op == "abandon" and reserved:
            n = reserved.pop()
            book.abandon(n)
            if book.slot(n) is None:
                outstanding.discard(n)
        elif op == "mine" and outstanding:
            mined = min(outstanding) + 1
            for slot in book.plan(mined, mined, 0.0).confirmed:
                outstanding.discard(slot.nonce)
                if slot.nonce in reserved:
                    reserved.remove(slot.nonce)
