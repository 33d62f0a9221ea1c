"""The command line the checks share: `--self-test` runs the calling module's unittest cases, else `check()`'s
problems are printed, one per line, and the exit status says whether there were any."""

from __future__ import annotations

import sys
import unittest
from typing import Callable


def run(argv: list[str], name: str, check: Callable[[], list[str]], passed: str) -> int:
    if argv[1:] == ["--self-test"]:
        result = unittest.main(module="__main__", argv=[argv[0]], exit=False, verbosity=1).result
        return 0 if result.wasSuccessful() else 1
    problems = check()
    for problem in problems:
        print(f"{name}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{name}: {passed}")
    return 1 if problems else 0
