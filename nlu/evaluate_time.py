"""Agreement of our time entities with an outside time-parser suite (JioNLP's ``test/test_time_parser.py``).

The suite's text is not ours and stays out of the repository: give a local copy by path at run time::

    python -m nlu.evaluate_time /tmp/jionlp_cases.py [--show all|miss]

The file is read as Python source: its ``time_string_list = [[text, time_base, expected], ...]`` is
evaluated with ``_ts_1``, ``_ts_2``, ``datetime`` and a ``time`` whose ``time()`` marks the case as
irreproducible. Nothing else of it is run.

**Which cases count** (a chat about the present and near future), decided by this rule alone:

1. the time base is reproducible (not ``None``, not ``time.time()``);
2. the expected answer is a ``time_point`` or ``time_span`` with two finite ends (no durations,
   periods, open-ended "after/before" spans);
3. it lies in the present or the near future: it starts no earlier than the start of the base's day,
   is not over a minute after the base ("半小时前", "过去5分钟" are), and ends within 400 days of it;
4. its text names no seconds (秒), quarters (季度), centuries or decades (世纪, 年代).

**Agreement**: the first time entity our parser returns (the longest when several) is compared with
the expected ``[start, end]`` (end inclusive to the second, made exclusive by adding one second).
*accurate* cases: the same start and end, within one minute; a minute-precise point (end - start
≤ 1 minute) also agrees with our one-hour "hour" interval starting at the same minute. *blur* cases
(parts of days, months, years): intersection over union of the two intervals ≥ 0.5.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SHANGHAI = timezone(timedelta(hours=8))
_IRREPRODUCIBLE = object()
_EXCLUDED_WORDS = ("秒", "季度", "世纪", "年代")
_HORIZON = timedelta(days=400)
_MINUTE = timedelta(minutes=1)


class _Clock:
    @staticmethod
    def time() -> object:
        return _IRREPRODUCIBLE


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    now: datetime
    start: datetime
    end: datetime  # exclusive
    blur: bool


def _base(value: Any) -> datetime | None:
    """JioNLP's time_base forms (timestamp, list, dict, datetime) → naive Asia/Shanghai time."""
    if value is None or value is _IRREPRODUCIBLE:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, SHANGHAI).replace(tzinfo=None)
    keys = ("year", "month", "day", "hour", "minute", "second")
    if isinstance(value, list):
        value = dict(zip(keys, value, strict=False))
    if isinstance(value, dict):
        parts = [value.get(k, 1 if k in ("month", "day") else 0) for k in keys]
        return datetime(*parts)
    return None


def load(path: Path) -> list[list[Any]]:
    """The ``time_string_list`` of a local copy of the suite, evaluated with harmless stand-ins."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "time_string_list" for t in node.targets
        ):
            names = {
                "_ts_1": 1623604000,
                "_ts_2": 1630480532,
                "time": _Clock,
                "datetime": __import__("datetime"),
            }
            code = compile(ast.Expression(node.value), str(path), "eval")
            return list(eval(code, {"__builtins__": {}}, names))  # noqa: S307 - a local copy of test data
    raise SystemExit(f"{path}: no time_string_list found")


def select(rows: list[list[Any]]) -> Iterator[Case]:
    """The cases the rule in this module's docstring keeps."""
    for text, base, expected in rows:
        now = _base(base)
        if now is None or not isinstance(expected, dict):
            continue
        if expected.get("type") not in ("time_point", "time_span"):
            continue
        ends = expected.get("time")
        if not isinstance(ends, list) or len(ends) != 2 or any("inf" in str(e) for e in ends):
            continue
        if any(w in text for w in _EXCLUDED_WORDS):
            continue
        start = datetime.fromisoformat(ends[0])
        end = datetime.fromisoformat(ends[1])
        end = end + timedelta(seconds=1) if end.second == 59 else end
        day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if start < day0 or end <= now + _MINUTE or end > now + _HORIZON:
            continue
        yield Case(text, now, start, end, expected.get("definition") == "blur")


def ours(text: str, now: datetime) -> tuple[datetime, datetime, str] | None:
    """Our first (longest) time entity for ``text`` at ``now``."""
    from nlu.parser import parse

    times = [e for e in parse(text, now)["entities"] if e["entity"] == "time"]
    if not times:
        return None
    best = max(times, key=lambda e: e["end"] - e["start"])
    v = best["value"]
    return datetime.fromisoformat(v["from"]), datetime.fromisoformat(v["to"]), v["grain"]


def agrees(case: Case, got: tuple[datetime, datetime, str] | None) -> bool:
    """The agreement rule of this module's docstring."""
    if got is None:
        return False
    start, end, grain = got
    if case.blur:
        inter = min(end, case.end) - max(start, case.start)
        union = max(end, case.end) - min(start, case.start)
        return inter > timedelta(0) and inter / union >= 0.5
    if abs(start - case.start) > _MINUTE:
        return False
    if abs(end - case.end) <= _MINUTE:
        return True
    return case.end - case.start <= _MINUTE and grain == "hour"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path", type=Path, help="a local copy of JioNLP's test/test_time_parser.py")
    ap.add_argument("--show", choices=("none", "miss", "all"), default="miss")
    args = ap.parse_args(argv)
    rows = load(args.path)
    cases = list(select(rows))
    good = 0
    for case in cases:
        got = ours(case.text, case.now)
        ok = agrees(case, got)
        good += ok
        if args.show == "all" or (args.show == "miss" and not ok):
            shown = f"{got[0]:%Y-%m-%d %H:%M} – {got[1]:%Y-%m-%d %H:%M} {got[2]}" if got else "nothing"
            sys.stdout.write(f"{'ok ' if ok else 'MISS'} {case.text!r} @ {case.now:%Y-%m-%d %H:%M} expected "
                             f"{case.start:%Y-%m-%d %H:%M} – {case.end:%Y-%m-%d %H:%M}, got {shown}\n")  # fmt: skip
    share = good / len(cases) if cases else 0.0
    sys.stdout.write(f"{len(rows)} cases read, {len(cases)} kept by the rule, {good} agree ({share:.0%})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
