"""The io chip: one row per byte a read or write ECALL moves between a stream and RAM.

A read ECALL copies `count` input bytes to memory at a1, a write copies a2 bytes from memory at a1 to the
journal. One CPU row cannot hold that, so the CPU hands the io chip a *chain*: it sends the state
(kind, clk, address, stream position, t) = (write?, its clk, a1, where its stream stands, its RAM clock)
and receives the same state advanced by the count. Each io row consumes a state and produces it advanced
by one (address + 1, position + 1, t + 1), so the rows between the two are exactly `count` rows, with
consecutive addresses, positions and timestamps (kind and clk never change along a chain, so two ECALLs'
chains cannot swap tails; t grows by one per row, so no chain closes on itself below p rows).

Each row moves one byte:
- it accesses the aligned word holding its address on the RAM bus like the CPU does (consumes
  (word, old, t_prev, ro), produces (word, new, t), t_prev < t by a range-checked gap), at the timestamp the
  chain gives it (the CPU's RAM clock leaves room for them: t_ram = clk + 1 + bytes moved so far);
- a read writes the byte into the word at the address's offset (never into a read-only word) and
  *receives* ("stream", 0, position, byte), which only the verifier sends: one tuple per byte of the
  claim's input chunk at its absolute position;
- a write reads the byte from the word (unchanged) and *sends* ("stream", 1, position, byte), which the
  verifier receives once per byte of the claim's journal chunk.
So the input bytes read are exactly the claimed chunk, in order, each once, and the journal is exactly what
the guest wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm.air import Air, ConstraintBuilder, Val
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.layout import Layout
from zkray.zkvm.rv32im_air.memory import MEM_BUS
from zkray.zkvm.rv32im_air.tables import BYTES_BUS, NOMINAL_LOG_N

IO_BUS, STREAM_BUS = "io", "stream"

_L = Layout()
REAL, WRITE, CLK, ADDR, POS, T = (_L.col(n) for n in ("real", "write", "clk", "addr", "pos", "t"))
BYTE, WADDR, RO, T_PREV = _L.col("byte"), _L.col("word_addr"), _L.col("ro"), _L.col("t_prev")
OFF = _L.cols("offset", 4)  # one-hot: the address's low two bits
OLD, NEW = _L.cols("old", 4), _L.cols("new", 4)
GAP = _L.cols("gap", 3)  # t − t_prev − 1
WIDTH = _L.width


def _state(r: Sequence[Val], step: int) -> list[Val]:
    return [r[WRITE], r[CLK], r[ADDR] + step, r[POS] + step, r[T] + step]


class IoAir(Air):
    """See the module docstring; padding rows (real = 0) take part in nothing."""

    name = "rv32im-io"
    main_width = WIDTH
    max_degree = 3

    def log_trace_length(self, public: Sequence[int]) -> int:
        return NOMINAL_LOG_N

    def eval(self, b: ConstraintBuilder) -> None:
        r = b.main
        real, write = r[REAL], r[WRITE]
        b.assert_zero("real is boolean", real * (real - 1))
        b.assert_zero("write is boolean, and only on real rows", write * (1 - real))
        o = [r[c] for c in OFF]
        for k in range(4):
            b.assert_zero(f"offset {k} is boolean", o[k] * (o[k] - 1))
        b.assert_zero("a real row has exactly one byte offset", o[0] + o[1] + o[2] + o[3] - real)
        # the word address is a RAM row's (a public, aligned address below 2^28), so this splits address uniquely
        b.assert_zero("address = word address + offset", r[ADDR] - r[WADDR] - o[1] - 2 * o[2] - 3 * o[3])
        selected = o[0] * r[OLD[0]] + o[1] * r[OLD[1]] + o[2] * r[OLD[2]] + o[3] * r[OLD[3]]
        b.assert_zero("write: the byte is the word's byte at the offset", write * (r[BYTE] - selected))
        for k in range(4):
            b.assert_zero(f"new byte {k}: a read puts the byte at the offset, a write changes nothing",
                          r[NEW[k]] - r[OLD[k]] - (real - write) * o[k] * (r[BYTE] - r[OLD[k]]))
        b.assert_zero("a read never writes a read-only (code) word", (real - write) * r[RO])
        gap = r[GAP[0]] + 256 * r[GAP[1]] + 65536 * r[GAP[2]]
        b.assert_zero("t_prev = t − 1 − gap (so t_prev < t)", real * (r[T] - r[T_PREV] - 1 - gap))


IO = Chip(IoAir(), (
    Interaction.receive(IO_BUS, lambda r: _state(r, 0), lambda r: r[REAL]),
    Interaction.send(IO_BUS, lambda r: _state(r, 1), lambda r: r[REAL]),
    Interaction.receive(MEM_BUS, lambda r: [r[WADDR], *(r[c] for c in OLD), r[T_PREV], r[RO]], lambda r: r[REAL]),
    Interaction.send(MEM_BUS, lambda r: [r[WADDR], *(r[c] for c in NEW), r[T], r[RO]], lambda r: r[REAL]),
    # reads receive (multiplicity −1), writes send (+1): the verifier holds the other side of each byte
    Interaction.send(STREAM_BUS, lambda r: [r[WRITE], r[POS], r[BYTE]], lambda r: 2 * r[WRITE] - r[REAL]),
    Interaction.send(BYTES_BUS, lambda r: [r[GAP[0]], r[GAP[1]]], lambda r: r[REAL]),
    Interaction.send(BYTES_BUS, lambda r: [r[GAP[2]], r[BYTE]], lambda r: r[REAL]),
))
