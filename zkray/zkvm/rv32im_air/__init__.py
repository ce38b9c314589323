"""The RV32IM zkVM AIR: chips for the CPU, registers, RAM, io, program and byte tables over the multi-chip
STARK, proving one segment of an execution (or a whole run as one segment). docs/rv32im-air.md says what is
constrained and why it is sound."""

from zkray.zkvm.rv32im_air.segment import SEGMENT_CHIPS, SegmentClaim, prove_segment, verify_segment
from zkray.zkvm.rv32im_air.statement import CHIPS, prove_elf, verify_elf

__all__ = ["CHIPS", "SEGMENT_CHIPS", "SegmentClaim", "prove_elf", "prove_segment", "verify_elf", "verify_segment"]
