#!/usr/bin/env python3
"""Checks the shape the code promises (ARCHITECTURE.md), so that it cannot drift again.

Usage:
    check_layout.py [--root .]     check the workspace; exit 1 on any violation
    check_layout.py --self-test    prove each rule fires on a tree broken on purpose

Rules, for every crate under functions/ and for shared/:
1. No source file is over 400 lines (a `decide/tests.rs` excepted: one test per branch of the policy).
2. A function's `src/handler.rs` is under 150 lines: it routes and dispatches; an action is its own file.
3. No import loop between a crate's top-level modules: `crate::a` used in module `b` and `crate::b` used in `a`
   (or a longer cycle). Uses within one top-level module (a parent and its children) are not counted.
4. No `#[path = ...]` include anywhere in the workspace's Rust code: shared test code is the test-support crate.

And for every package of the workspace:
5. Its integration tests are one test binary, `tests/<name>/main.rs`, which declares every file beside it as a
   module: no `tests/*.rs` (each would be a binary of its own, linking the SDK crates again; two dozen of them
   once doubled the time of `make test`), and no file in `tests/<name>/` that no `mod` compiles.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import tomllib
import unittest
from pathlib import Path

MAX_LINES = 400
MAX_HANDLER_LINES = 150
CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\};", re.DOTALL)
PATH_ATTR = re.compile(r"#\[\s*path\s*=")
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;", re.MULTILINE)


def crates(root: Path) -> list[Path]:
    found = sorted(p.parent for p in (root / "functions").glob("*/Cargo.toml"))
    if (root / "shared" / "Cargo.toml").is_file():
        found.append(root / "shared")
    return found


def packages(root: Path) -> list[Path]:
    """The workspace's members, as the root Cargo.toml lists them."""
    manifest = root / "Cargo.toml"
    if not manifest.is_file():
        return []
    return [root / member for member in tomllib.loads(manifest.read_text())["workspace"]["members"]]


def test_binaries(package: Path, root: Path) -> list[str]:
    """Rule 5: one test binary per package, every file of it compiled."""
    tests = package / "tests"
    if not tests.is_dir():
        return []
    errors = [f"{rs.relative_to(root)}: a test binary of its own; make it a module of tests/<name>/main.rs"
              for rs in sorted(tests.glob("*.rs"))]
    binaries = sorted(main.parent for main in tests.glob("*/main.rs"))
    if len(binaries) > 1:
        names = ", ".join(str(b.relative_to(root)) for b in binaries)
        errors.append(f"{tests.relative_to(root)}: {len(binaries)} test binaries ({names}); merge them into one")
    for binary in binaries:
        declared = set(MOD_DECL.findall(re.sub(r"//[^\n]*", "", (binary / "main.rs").read_text())))
        for path in sorted(binary.iterdir()):
            name = path.stem if path.suffix == ".rs" else path.name if (path / "mod.rs").is_file() else None
            if name and name != "main" and name not in declared:
                main = (binary / "main.rs").relative_to(root)
                errors.append(f"{path.relative_to(root)}: not a module of {main}, so never compiled: add `mod {name};`")
    return errors


def top_module(src: Path, path: Path) -> str:
    rel = path.relative_to(src).parts
    name = rel[0].removesuffix(".rs")
    return "crate" if name in ("lib", "main") else name


def uses(text: str) -> set[str]:
    """The top-level modules a file names through `crate::`."""
    text = re.sub(r"//[^\n]*", "", text)
    names = set(CRATE_PATH.findall(text))
    for group in USE_GROUP.findall(text):
        names.update(re.findall(r"(?:^|[,{]\s*)([a-z_][a-z0-9_]*)", group))
    return names


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def check(root: Path) -> list[str]:
    errors = []
    for rs in sorted(root.rglob("*.rs")):
        parts = rs.relative_to(root).parts
        if parts[0] in ("target", ".venv", ".aws-sam") or "target" in parts:
            continue
        if PATH_ATTR.search(rs.read_text()):
            errors.append(f"{rs.relative_to(root)}: a #[path] include (use the test-support crate)")
    for package in packages(root):
        errors.extend(test_binaries(package, root))
    for crate in crates(root):
        src = crate / "src"
        graph: dict[str, set[str]] = {}
        modules = {top_module(src, p) for p in src.rglob("*.rs")}
        for path in sorted(src.rglob("*.rs")):
            rel = path.relative_to(root)
            lines = path.read_text().count("\n")
            if lines > MAX_LINES and not path.match("decide/tests.rs"):
                errors.append(f"{rel}: {lines} lines, over {MAX_LINES}: split it")
            if crate.parent.name == "functions" and path == src / "handler.rs" and lines >= MAX_HANDLER_LINES:
                errors.append(f"{rel}: {lines} lines; a handler routes and dispatches in under {MAX_HANDLER_LINES}")
            me = top_module(src, path)
            graph.setdefault(me, set()).update(m for m in uses(path.read_text()) if m in modules and m != me)
        graph.pop("crate", None)
        if found := cycle(graph):
            errors.append(f"{crate.relative_to(root)}: import loop between modules: {' -> '.join(found)}")
    return errors


WORKSPACE = {"Cargo.toml": '[workspace]\nmembers = ["functions/f", "tests"]\n'}


class SelfTest(unittest.TestCase):
    def tree(self, files: dict[str, str]) -> Path:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        root = Path(tmp.name)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root

    def good(self) -> dict[str, str]:
        return {
            "functions/f/Cargo.toml": "",
            "functions/f/src/lib.rs": "pub mod handler;\npub mod model;\npub mod decide;\n",
            "functions/f/src/handler.rs": "use crate::decide;\n",
            "functions/f/src/decide/mod.rs": "use crate::model::X;\nmod tests;\n",
            "functions/f/src/decide/tests.rs": "use super::*;\n" + "x\n" * 500,
            "functions/f/src/model.rs": "pub struct X;\n",
        }

    def test_a_good_tree_passes(self):
        self.assertEqual(check(self.tree(self.good())), [])

    def test_a_long_file_fails(self):
        files = self.good() | {"functions/f/src/model.rs": "x\n" * 401}
        self.assertIn("functions/f/src/model.rs: 401 lines, over 400: split it", check(self.tree(files)))

    def test_a_long_handler_fails(self):
        files = self.good() | {"functions/f/src/handler.rs": "x\n" * 150}
        self.assertTrue(any("a handler routes" in e for e in check(self.tree(files))))

    def test_an_import_loop_fails_also_through_a_use_group(self):
        files = self.good() | {"functions/f/src/model.rs": "use crate::{decide::Y, handler};\n"}
        errors = check(self.tree(files))
        self.assertTrue(any("import loop" in e and "decide" in e for e in errors), errors)

    def test_one_test_binary_per_package_passes(self):
        binary = {"functions/f/tests/offline/main.rs": "//! `mod x;`\nmod a;\nmod b;\n",
                  "functions/f/tests/offline/a.rs": "", "functions/f/tests/offline/b/mod.rs": "",
                  "functions/f/tests/proptest-regressions/a.txt": ""}
        files = self.good() | WORKSPACE | binary
        self.assertEqual(check(self.tree(files)), [])

    def test_a_test_file_of_its_own_fails(self):
        files = self.good() | WORKSPACE | {"functions/f/tests/offline/main.rs": "", "functions/f/tests/extra.rs": ""}
        self.assertIn("functions/f/tests/extra.rs: a test binary of its own; make it a module of "
                      "tests/<name>/main.rs", check(self.tree(files)))

    def test_two_test_binaries_fail(self):
        files = self.good() | WORKSPACE | {"tests/tests/a/main.rs": "", "tests/tests/b/main.rs": ""}
        self.assertTrue(any("2 test binaries" in e for e in check(self.tree(files))))

    def test_a_test_module_never_declared_fails(self):
        files = self.good() | WORKSPACE | {"functions/f/tests/offline/main.rs": "// mod forgotten;\nmod a;\n",
                               "functions/f/tests/offline/a.rs": "", "functions/f/tests/offline/forgotten.rs": ""}
        self.assertIn("functions/f/tests/offline/forgotten.rs: not a module of functions/f/tests/offline/main.rs, "
                      "so never compiled: add `mod forgotten;`", check(self.tree(files)))

    def test_a_path_include_fails(self):
        files = self.good() | {"functions/f/tests/t.rs": '#[path = "../x.rs"]\nmod x;\n'}
        self.assertTrue(any("#[path]" in e for e in check(self.tree(files))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        result = unittest.main(argv=[sys.argv[0]], exit=False).result
        return 0 if result.wasSuccessful() else 1
    errors = check(args.root)
    for error in errors:
        print(f"check_layout: {error}", file=sys.stderr)
    if not errors:
        print("check_layout: file sizes, handlers, module imports, #[path] includes and test binaries pass")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
