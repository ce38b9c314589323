"""The STARK proof object and its canonical byte encoding (the seal).

Layout (all little-endian), in transcript order:

    magic "ZKS1" · log_n u8 · params (6 bytes)
    main_root 32 · [aux_root 32 if the AIR has auxiliary columns] · quotient_root 32
    ood: main@z, main@zg, aux@z, aux@zg, quotient@z        (extension elements, shapes from the AIR)
    fri: layer roots (count from log_n and params) · final polynomial (2^final_log_degree ext elements)
    pow_nonce u64
    openings: main, [aux], quotient, then one per FRI layer — each a row count u32, the rows, and the
              Merkle siblings (count u32, 32 bytes each)

The decoder knows every shape from the AIR, the parameters and log_n, checks each count against its
bound before reading, rejects non-canonical field elements and trailing bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkray.zkvm.air import Air
from zkray.zkvm.codec import Reader, Writer
from zkray.zkvm.errors import ReceiptError
from zkray.zkvm.params import StarkParams

MAGIC = b"ZKS1"
MAX_LOG_N = 24


@dataclass
class Opening:
    """Rows of one committed matrix at the queried positions, with their Merkle multi-opening."""

    rows: np.ndarray  # (count, width) uint32
    siblings: list[bytes]


@dataclass
class StarkProof:
    log_n: int
    params: StarkParams
    main_root: bytes
    aux_root: bytes | None
    quotient_root: bytes
    ood_main_z: np.ndarray  # (main_width, 4)
    ood_main_zg: np.ndarray
    ood_aux_z: np.ndarray  # (4·aux_width, 4)
    ood_aux_zg: np.ndarray
    ood_quotient_z: np.ndarray  # (4·chunks, 4)
    fri_roots: list[bytes]
    fri_final: np.ndarray  # (2^final_log_degree, 4) coefficients
    pow_nonce: int
    main_open: Opening
    aux_open: Opening | None
    quotient_open: Opening
    fri_open: list[Opening]


def fri_schedule(log_n: int, params: StarkParams) -> list[int]:
    """Folding arity (as log2) of each FRI layer: fold by 2^fri_log_arity until the degree bound
    reaches 2^fri_log_final_degree (the last fold may be smaller)."""
    out = []
    log_deg = log_n
    while log_deg > params.fri_log_final_degree:
        a = min(params.fri_log_arity, log_deg - params.fri_log_final_degree)
        out.append(a)
        log_deg -= a
    return out


def quotient_chunks(air: Air) -> int:
    return max(1, air.max_degree - 1)


def encode(proof: StarkProof) -> bytes:
    w = Writer()
    w.raw(MAGIC)
    w.u8(proof.log_n)
    w.raw(proof.params.encode())
    w.raw(proof.main_root)
    if proof.aux_root is not None:
        w.raw(proof.aux_root)
    w.raw(proof.quotient_root)
    for arr in (proof.ood_main_z, proof.ood_main_zg, proof.ood_aux_z, proof.ood_aux_zg, proof.ood_quotient_z):
        w.field(arr)
    for root in proof.fri_roots:
        w.raw(root)
    w.field(proof.fri_final)
    w.u64(proof.pow_nonce)
    openings = [proof.main_open, *([proof.aux_open] if proof.aux_open else []), proof.quotient_open,
                *proof.fri_open]
    for op in openings:
        w.u32(op.rows.shape[0])
        w.field(op.rows)
        w.digests(op.siblings)
    return bytes(w)


def decode(data: bytes, air: Air, params: StarkParams) -> StarkProof:
    """Strictly parse a seal for `air` under `params`; raises ReceiptError naming the bad field."""
    r = Reader(data, "seal")
    if r.raw(4, "magic") != MAGIC:
        raise ReceiptError("seal: wrong magic (not a zkray STARK seal, or an unsupported version)")
    log_n = r.u8("log_n")
    if not 1 <= log_n <= MAX_LOG_N:
        raise ReceiptError(f"seal: log_n {log_n} outside [1, {MAX_LOG_N}]")
    if r.raw(6, "params") != params.encode():
        raise ReceiptError("seal: proof parameters differ from the verifier's")
    main_root = r.digest("main_root")
    aux_root = r.digest("aux_root") if air.aux_width else None
    quotient_root = r.digest("quotient_root")
    mw, aw, qw = air.main_width, 4 * air.aux_width, 4 * quotient_chunks(air)
    ood = [r.field((width, 4), f"ood {name}") for name, width in
           (("main@z", mw), ("main@zg", mw), ("aux@z", aw), ("aux@zg", aw), ("quotient@z", qw))]
    schedule = fri_schedule(log_n, params)
    fri_roots = [r.digest(f"fri root {i}") for i in range(len(schedule))]
    fri_final = r.field((1 << min(params.fri_log_final_degree, log_n), 4), "fri final polynomial")
    pow_nonce = r.u64("pow nonce")
    log_m = log_n + params.log_blowup
    max_rows = params.num_queries

    def opening(what: str, width: int, height: int) -> Opening:
        count = r.bounded(f"{what} row count", 1, max_rows)
        rows = r.field((count, width), f"{what} rows")
        siblings = r.digests(f"{what} siblings", max_count=count * height)
        return Opening(rows, siblings)

    main_open = opening("main opening", mw, log_m)
    aux_open = opening("aux opening", aw, log_m) if air.aux_width else None
    quotient_open = opening("quotient opening", qw, log_m)
    fri_open = []
    for i, a in enumerate(schedule):
        log_m_layer = log_m - sum(schedule[:i])
        fri_open.append(opening(f"fri layer {i} opening", 4 << a, log_m_layer - a))
    r.finish()
    return StarkProof(log_n, params, main_root, aux_root, quotient_root, *ood, fri_roots, fri_final,
                      pow_nonce, main_open, aux_open, quotient_open, fri_open)
