"""`python -m dialogs evaluate FILE.yml [FILE.yml ...]`: run conversation tests and print the three numbers."""

from __future__ import annotations

import argparse
import sys

from .evaluate import evaluate, load_file, render


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dialogs")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser("evaluate", help="run conversation tests against a fresh demo database")
    ev.add_argument("files", nargs="+")
    ev.add_argument("--now", help="local time the demo seed and the conversations run at (default: the file's)")
    ev.add_argument("--db", help="database URL to build the demo in (default: a temporary SQLite file)")
    ev.add_argument("-v", "--verbose", action="store_true", help="print every wrong conversation in full")
    ev.add_argument("--all", action="store_true", help="print every conversation in full")
    ev.add_argument("--quiet", action="store_true", help="only the numbers (for a held-out file)")
    args = ap.parse_args(argv)
    from .evaluate import default_parser

    parse = default_parser()
    code = 0
    for path in args.files:
        report = evaluate(load_file(path), now=args.now, parse=parse, url=args.db)
        _out(f"== {path}")
        if not args.quiet:
            for r in report.results:
                if args.all or (args.verbose and not r.ok):
                    _out(render(r))
                elif not r.ok:
                    _out(f"WRONG {r.name}: {'; '.join(r.problems)}")
        _out(report.summary())
        if report.right < report.total:
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
