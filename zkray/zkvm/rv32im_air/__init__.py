"""The RV32IM zkVM AIR (first slice): chips for the CPU, registers, RAM, program and byte tables over the
multi-chip STARK. docs/rv32im-air.md says which instructions are constrained and why it is sound."""

from zkray.zkvm.rv32im_air.statement import CHIPS, Claim, prove_elf, prove_session, public_tuples, verify_elf

__all__ = ["CHIPS", "Claim", "prove_elf", "prove_session", "public_tuples", "verify_elf"]
