"""The multi-chip proof object and its canonical seal encoding.

Layout (little-endian), commitments in transcript order; groups are the distinct heights, tallest first:

    magic "ZKM1" · params (6 bytes) · chip count u16 · log_n u8 per chip
    per group: main_root 32 · [aux_root 32 if a chip of the group has interactions] · quotient_root 32
    per chip with interactions: cumulative sum (1 extension element)
    per chip: ood main@z, main@zg, aux@z, aux@zg, quotient@z      (extension elements, shapes from the chip)
    FRI (one for all groups, fri_mixed.py): layer roots (count from the heights) · final polynomial
    pow_nonce u64
    per group: openings main, [aux], quotient; then one per FRI layer — row count u32, rows, siblings

The decoder takes every shape from the verifier's chips and parameters and the heights it has read,
bounds each count before reading, and rejects non-canonical elements and trailing bytes (ReceiptError).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zkray.zkvm.codec import Reader, Writer
from zkray.zkvm.errors import ReceiptError
from zkray.zkvm.multi import fri_mixed
from zkray.zkvm.multi.chip import Chip
from zkray.zkvm.multi.protocol import MAX_LOG_N, height_groups
from zkray.zkvm.params import StarkParams
from zkray.zkvm.proof import Opening

MAGIC = b"ZKM1"


@dataclass
class ChipOod:
    """One chip's columns at the out-of-domain point z (and main/aux at z·g_chip)."""

    main_z: np.ndarray  # (main_width, 4)
    main_zg: np.ndarray
    aux_z: np.ndarray  # (4·aux_width, 4): coordinate columns
    aux_zg: np.ndarray
    quotient_z: np.ndarray  # (4·chunks, 4)


@dataclass
class GroupProof:
    """Commitments and query openings of the chips that share one height."""

    main_root: bytes
    aux_root: bytes | None
    quotient_root: bytes
    main_open: Opening
    aux_open: Opening | None
    quotient_open: Opening


@dataclass
class MultiProof:
    params: StarkParams
    log_ns: list[int]  # per chip
    groups: list[GroupProof]  # per distinct height, tallest first
    cumulative_sums: list[np.ndarray | None]  # per chip: its share of the global sum (None: no interactions)
    ood: list[ChipOod]  # per chip
    fri_roots: list[bytes]
    fri_final: np.ndarray  # (2^final_log_degree, 4) coefficients
    pow_nonce: int
    fri_open: list[Opening]


def _group_has_aux(chips: Sequence[Chip], members: list[int]) -> bool:
    return any(chips[i].interactions for i in members)


def encode(proof: MultiProof) -> bytes:
    w = Writer()
    w.raw(MAGIC)
    w.raw(proof.params.encode())
    w.u16(len(proof.log_ns))
    for log_n in proof.log_ns:
        w.u8(log_n)
    for g in proof.groups:
        w.raw(g.main_root)
        if g.aux_root is not None:
            w.raw(g.aux_root)
        w.raw(g.quotient_root)
    for c in proof.cumulative_sums:
        if c is not None:
            w.field(c)
    for o in proof.ood:
        for arr in (o.main_z, o.main_zg, o.aux_z, o.aux_zg, o.quotient_z):
            w.field(arr)
    for root in proof.fri_roots:
        w.raw(root)
    w.field(proof.fri_final)
    w.u64(proof.pow_nonce)
    openings = [op for g in proof.groups for op in (g.main_open, g.aux_open, g.quotient_open) if op is not None]
    for op in [*openings, *proof.fri_open]:
        w.u32(op.rows.shape[0])
        w.field(op.rows)
        w.digests(op.siblings)
    return bytes(w)


def decode(data: bytes, chips: Sequence[Chip], params: StarkParams) -> MultiProof:
    """Strictly parse a multi-chip seal for `chips` under `params`; raises ReceiptError naming the field."""
    r = Reader(data, "multi-chip seal")
    if r.raw(4, "magic") != MAGIC:
        raise ReceiptError("multi-chip seal: wrong magic (not a zkray multi-chip seal, or another version)")
    if r.raw(6, "params") != params.encode():
        raise ReceiptError("multi-chip seal: proof parameters differ from the verifier's")
    count = r.u16("chip count")
    if count != len(chips):
        raise ReceiptError(f"multi-chip seal: {count} chips, the verifier expects {len(chips)}")
    log_ns = []
    for chip in chips:
        log_n = r.u8(f"{chip.name} log_n")
        if not 1 <= log_n <= MAX_LOG_N:
            raise ReceiptError(f"multi-chip seal: {chip.name} log_n {log_n} outside [1, {MAX_LOG_N}]")
        log_ns.append(log_n)
    groups = height_groups(log_ns)
    roots = []
    for log_n, members in groups:
        main_root = r.digest(f"group 2^{log_n} main_root")
        aux_root = r.digest(f"group 2^{log_n} aux_root") if _group_has_aux(chips, members) else None
        roots.append((main_root, aux_root, r.digest(f"group 2^{log_n} quotient_root")))
    sums = [r.field((4,), f"{c.name} cumulative sum") if c.interactions else None for c in chips]
    ood = []
    for c in chips:
        mw, aw, qw = c.air.main_width, 4 * c.aux_width, 4 * c.quotient_chunks
        ood.append(ChipOod(*(r.field((width, 4), f"{c.name} ood {name}") for name, width in
                             (("main@z", mw), ("main@zg", mw), ("aux@z", aw), ("aux@zg", aw), ("quotient@z", qw)))))
    heights = [h for h, _ in groups]
    arities, final = fri_mixed.schedule(heights, params)
    fri_roots = [r.digest(f"fri root {i}") for i in range(len(arities))]
    fri_final = r.field((1 << final, 4), "fri final polynomial")
    pow_nonce = r.u64("pow nonce")

    def opening(what: str, width: int, height: int) -> Opening:
        count = r.bounded(f"{what} row count", 1, params.num_queries)
        rows = r.field((count, width), f"{what} rows")
        return Opening(rows, r.digests(f"{what} siblings", max_count=count * height))

    out_groups = []
    for (log_n, members), (main_root, aux_root, quot_root) in zip(groups, roots, strict=True):
        log_m = log_n + params.log_blowup
        what = f"group 2^{log_n}"
        main_open = opening(f"{what} main opening", sum(chips[i].air.main_width for i in members), log_m)
        aux_open = (opening(f"{what} aux opening", sum(4 * chips[i].aux_width for i in members), log_m)
                    if aux_root is not None else None)
        quot_open = opening(f"{what} quotient opening", sum(4 * chips[i].quotient_chunks for i in members), log_m)
        out_groups.append(GroupProof(main_root, aux_root, quot_root, main_open, aux_open, quot_open))
    log_m = heights[0] + params.log_blowup
    fri_open = [opening(f"fri layer {i} opening", 4 << a, log_m - sum(arities[: i + 1]))
                for i, a in enumerate(arities)]
    r.finish()
    return MultiProof(params, log_ns, out_groups, sums, ood, fri_roots, fri_final, pow_nonce, fri_open)
