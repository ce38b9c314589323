"""The `zkray` command line: prove, verify, list guests (and, as the node grows, run it)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from zkray import calibrate
from zkray.proving import guests, prove
from zkray.zkvm.errors import ZkvmError
from zkray.zkvm.guests import by_image_id
from zkray.zkvm.receipt import Receipt


def _cmd_prove(args: argparse.Namespace) -> int:
    if args.elf:
        return _prove_elf(args)
    if not args.guest or args.input is None:
        print("error: give a built-in guest and --input JSON, or --elf PATH [--input FILE]", file=sys.stderr)
        return 2
    start = time.perf_counter()
    receipt = prove(args.guest, args.input)
    elapsed = time.perf_counter() - start
    out = Path(args.output or f"{args.guest}.receipt")
    out.write_bytes(receipt.encode())
    guest = by_image_id(receipt.image_id)
    output = int.from_bytes(receipt.journal[-4:], "little") if guest else None
    print(f"proved {args.guest} in {elapsed:.2f} s: output {output}, image id {receipt.image_id.hex()}")
    print(f"wrote {out} ({len(receipt.encode())} bytes)")
    return 0


def _prove_elf(args: argparse.Namespace) -> int:
    """Prove an ELF guest in segments; --input names a file holding the input bytes."""
    from zkray.zkvm.continuation import DEFAULT_SEGMENT_CYCLES
    from zkray.zkvm.continuation.codec import split_composite

    if args.guest:
        print("error: give either a built-in guest name or --elf, not both", file=sys.stderr)
        return 2
    try:
        elf = Path(args.elf).read_bytes()
        data = Path(args.input).read_bytes() if args.input else b""
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cycles = args.segment_cycles or DEFAULT_SEGMENT_CYCLES
    start = time.perf_counter()
    receipt = prove(elf, data, segment_cycles=cycles)
    elapsed = time.perf_counter() - start
    out = Path(args.output or f"{Path(args.elf).stem}.receipt")
    out.write_bytes(receipt.encode())
    segments = len(split_composite(receipt.seal))
    print(f"proved {args.elf} in {elapsed:.2f} s: {segments} segment(s) of up to {cycles} cycles, "
          f"journal {receipt.journal.hex()}, image id {receipt.image_id.hex()}")
    print(f"wrote {out} ({len(receipt.encode())} bytes)")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    try:
        receipt = Receipt.decode(Path(args.receipt).read_bytes())
        expected = bytes.fromhex(args.image_id) if args.image_id else None
        elf = Path(args.elf).read_bytes() if args.elf else None
        data = Path(args.input).read_bytes() if args.input else None
        if receipt.is_composite and elf is None:
            print("NOT verified: this is an ELF guest's receipt: pass the guest with --elf PATH", file=sys.stderr)
            return 1
        start = time.perf_counter()
        receipt.verify(expected, program=elf, exit_code=None if args.any_exit_code else args.exit_code, input=data)
    except (ZkvmError, OSError, ValueError) as e:
        print(f"NOT verified: {e}", file=sys.stderr)
        return 1
    guest = by_image_id(receipt.image_id)
    name = guest.name if guest else (args.elf or "?")
    print(f"verified in {1000 * (time.perf_counter() - start):.1f} ms: {name} "
          f"(image id {receipt.image_id.hex()}), journal {receipt.journal.hex()}")
    return 0


def _cmd_guests(args: argparse.Namespace) -> int:
    from zkray.zkvm.guests import BUILTIN_GUESTS

    for name, image_id in guests().items():
        fields = ", ".join(BUILTIN_GUESTS[name].input_fields)
        print(f"{name:<20} {image_id.hex()}  input: {fields}")
    return 0


def _cmd_devnet(args: argparse.Namespace) -> int:
    from zkray.chain import devnet

    return devnet.main(args.rest)


def _cmd_serve(args: argparse.Namespace) -> int:
    from zkray import serve

    return serve.main(args.rest)


def _cmd_execute(args: argparse.Namespace) -> int:
    """Preflight a RISC-V guest ELF: exit code, cycles, image id and journal, without proving."""
    from zkray.zkvm.rv32im import execute

    if args.input_file:
        data = Path(args.input_file).read_bytes()
    elif args.u32:
        data = b"".join((int(v, 0) & 0xFFFF_FFFF).to_bytes(4, "little") for v in args.u32)
    else:
        data = bytes.fromhex(args.input or "")
    start = time.perf_counter()
    session = execute(Path(args.elf).read_bytes(), data, cycle_limit=args.cycle_limit, trace=False)
    elapsed = time.perf_counter() - start
    print(f"exit code {session.exit_code}, {session.cycles} cycles in {elapsed:.3f} s")
    print(f"image id {session.image_id.hex()}")
    print(f"journal  {session.journal.hex()}")
    return 0 if session.exit_code == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zkray", description="Ray-native proving cluster and prover node")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prove", help="prove a guest on an input and write a receipt")
    pr.add_argument("guest", nargs="?", help="built-in guest name (see `zkray guests`); or use --elf")
    pr.add_argument("--elf", help="an RV32IM guest ELF to prove (in segments), e.g. guest/fib.elf")
    pr.add_argument("--input", help='built-in guest: input as JSON, e.g. \'{"n": 1000}\'; '
                                    '--elf: a file holding the input bytes (default: empty)')
    pr.add_argument("--segment-cycles", type=int, help="--elf: cycles per segment, a power of two "
                                                       "(default 2^16)")
    pr.add_argument("-o", "--output", help="receipt file (default GUEST.receipt, or the ELF's name .receipt)")
    pr.set_defaults(func=_cmd_prove)
    ve = sub.add_parser("verify", help="verify a receipt file (exit 0 if it verifies)")
    ve.add_argument("receipt")
    ve.add_argument("--image-id", help="the image id you expect (hex); recommended")
    ve.add_argument("--elf", help="the guest ELF (needed for an ELF guest's receipt; its image id must match)")
    ve.add_argument("--input", help="a file with the job's input: the guest must have consumed a prefix of it")
    ve.add_argument("--exit-code", type=int, default=0, help="exit code the ELF guest must have (default 0)")
    ve.add_argument("--any-exit-code", action="store_true", help="accept an ELF guest that exited with any code")
    ve.set_defaults(func=_cmd_verify)
    gu = sub.add_parser("guests", help="list built-in guests and their image ids")
    gu.set_defaults(func=_cmd_guests)
    dn = sub.add_parser("devnet", help="run a local chain with the contracts deployed")
    dn.add_argument("rest", nargs=argparse.REMAINDER)
    dn.set_defaults(func=_cmd_devnet)
    sv = sub.add_parser("serve", help="run the prover node (no options: embedded devnet + demo requester)",
                        add_help=False)  # fmt: skip
    sv.add_argument("rest", nargs=argparse.REMAINDER)
    sv.set_defaults(func=_cmd_serve)
    ex = sub.add_parser("execute", help="run a guest ELF on an input (preflight: no proof)")
    ex.add_argument("elf", help="RV32IM guest ELF, e.g. guest/fib.elf")
    src = ex.add_mutually_exclusive_group()
    src.add_argument("--input", help="input bytes as hex")
    src.add_argument("--input-file", help="read the input bytes from a file")
    src.add_argument("--u32", nargs="+", metavar="N", help="input as little-endian u32 values")
    ex.add_argument("--cycle-limit", type=int, help="stop a guest that runs longer (default 2^26)")
    ex.set_defaults(func=_cmd_execute)
    calibrate.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # every option belongs to `zkray serve` (REMAINDER cannot take a leading option)
        from zkray import serve

        return serve.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ZkvmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
