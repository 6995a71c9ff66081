"""Command line: ``parse [--now ISO] [TEXT]`` prints JSON (JSON Lines over stdin); ``evaluate FILE`` scores."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from nlu.parser import SHANGHAI


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now(SHANGHAI).replace(tzinfo=None)
    return datetime.fromisoformat(value)


def _parser(args: argparse.Namespace) -> Any:
    if getattr(args, "rasa_url", None):
        from nlu.rasa_client import RasaHTTPParser

        return RasaHTTPParser(args.rasa_url, timeout=args.timeout)
    from nlu.parser import Parser, default_parser

    return Parser.load(Path(args.data)) if args.data else default_parser()


def _cmd_parse(args: argparse.Namespace) -> int:
    parser = _parser(args)
    now = _now(args.now)
    if args.text is not None:
        print(json.dumps(parser.parse(args.text, now), ensure_ascii=False, indent=2))
        return 0
    for line in sys.stdin:
        print(json.dumps(parser.parse(line.rstrip("\r\n"), now), ensure_ascii=False), flush=True)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from nlu import rasa_data
    from nlu.evaluate import evaluate, format_report

    data = rasa_data.load([Path(args.file)])
    parser = _parser(args)
    report = evaluate(data.examples, parser.parse, _now(args.now))
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report, "rasa " + args.rasa_url if args.rasa_url else "built-in"))
        if args.errors:
            print("\nErrors (text | true | predicted):")
            for text, want, got in report.errors:
                print(f"  {text} | {want} | {got}")
    return 0


def _cmd_evaluate_categories(args: argparse.Namespace) -> int:
    import yaml

    from nlu.evaluate import evaluate_categories

    spec = yaml.safe_load(Path(args.file).read_text(encoding="utf-8")) or {}
    parse, now = _parser(args).parse, _now(args.now)
    for prefix in ("", "fresh_"):  # a file may hold a second set written later (fresh_categories, ...)
        if prefix + "categories" not in spec and prefix + "requests" not in spec:
            continue
        pairs = [(str(t), str(c)) for t, c in spec.get(prefix + "categories", [])]
        requests = [str(t) for t in spec.get(prefix + "requests", [])]
        print(f"[{prefix.rstrip('_') or 'first'} set]")
        print(evaluate_categories(pairs, requests, parse, now).format())
    return 0


def build_argparser() -> argparse.ArgumentParser:
    """The ``python -m nlu`` argument parser."""
    ap = argparse.ArgumentParser(prog="python -m nlu", description="银龄志愿助手 NLU")
    sub = ap.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--now", help="local reference time, ISO (default: now in Asia/Shanghai)")
    common.add_argument("--data", help="data folder (default: the repo's data/)")
    common.add_argument("--rasa-url", help="use a Rasa server instead of the built-in pipeline")
    common.add_argument("--timeout", type=float, default=2.0, help="Rasa request timeout in seconds")
    p = sub.add_parser("parse", parents=[common], help="parse TEXT, or every stdin line (JSON Lines)")
    p.add_argument("text", nargs="?")
    p.set_defaults(func=_cmd_parse)
    e = sub.add_parser("evaluate", parents=[common], help="score a Rasa-format yml test file")
    e.add_argument("file")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.add_argument("--errors", action="store_true", help="list the misclassified messages")
    e.set_defaults(func=_cmd_evaluate)
    c = sub.add_parser("evaluate-categories", parents=[common], help="score kinds of work and open requests")
    c.add_argument("file")
    c.set_defaults(func=_cmd_evaluate_categories)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_argparser().parse_args(argv)
    try:
        code: int = args.func(args)
    except BrokenPipeError:  # `python -m nlu parse ... | head`
        sys.stderr.close()
        return 0
    return code
