"""The ``fakegluster`` command line: ``decode`` (captures to JSON lines) and ``serve``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _decode(args: argparse.Namespace) -> int:
    from .decode import run
    from .pcapio import CaptureError

    try:
        return run(args.files, check=args.check, out=sys.stdout)
    except (OSError, CaptureError) as exc:
        print(f"fakegluster decode: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fakegluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decode", help="print every GlusterFS RPC message of pcap/pcapng captures as JSON lines")
    dec.add_argument("files", nargs="+", metavar="FILE")
    dec.add_argument("--check", action="store_true",
                     help="re-encode every message, report those whose bytes differ; "
                          "last line: 'decoded N messages, F failed'")
    dec.set_defaults(func=_decode)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
