"""Shared fixtures of the NLU tests: one loaded parser per session and two fixed reference times."""

from __future__ import annotations

from datetime import datetime

import pytest

from nlu import Parser
from nlu.parser import default_parser

#: Saturday 2026-11-28 10:00 (Asia/Shanghai).
SAT = datetime(2026, 11, 28, 10, 0)
#: Wednesday 2026-12-02 15:30.
WED = datetime(2026, 12, 2, 15, 30)


@pytest.fixture(scope="session")
def parser() -> Parser:
    return default_parser()  # the same instance the module-level parse() and the CLI use
