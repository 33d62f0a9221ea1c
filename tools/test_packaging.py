"""Tests of the packaging scripts: tools/sam_build.sh refuses to build without the aarch64 standard library,
and tools/dist.py turns `sam build`'s output into a dist/ that its check accepts (and rejects a wrong one).

Run: .venv/bin/python -m unittest tools/test_packaging.py (`make deploy-check` runs it). The real dist/ of a
real arm64 build is checked by `make dist-check` (part of `make test`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dist  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def fake_elf(machine: int) -> bytes:
    """The first bytes of an ELF executable for `machine` (e_machine at offset 18), then padding."""
    return b"\x7fELF" + bytes(14) + machine.to_bytes(2, "little") + bytes(64)


class SamBuildWithoutAarch64(unittest.TestCase):
    """tools/sam_build.sh, run with a rustup that has no aarch64 target and cannot add one."""

    def test_fails_names_the_fix_builds_nothing_and_removes_old_artifacts(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "tools").mkdir()
            shutil.copy(ROOT / "tools" / "sam_build.sh", root / "tools" / "sam_build.sh")
            old = root / ".aws-sam" / "build" / "TargetFailoverFunction"
            old.mkdir(parents=True)
            (old / "bootstrap").write_bytes(fake_elf(0x3E))
            bin_dir = root / "fakebin"
            bin_dir.mkdir()
            calls = root / "calls"
            # rustup lists no installed target, and `target add` fails as it does offline; the build tools
            # record that they were called (they must not be).
            scripts = {
                "rustup": 'echo "rustup $*" >>"$CALLS"\n[ "$1 $2" = "target list" ] && exit 0\n'
                'echo "error: could not download" >&2\nexit 1\n',
                "cargo": 'echo "cargo $*" >>"$CALLS"\n',
                "cargo-lambda": 'echo "cargo-lambda $*" >>"$CALLS"\n',
                "sam": 'echo "sam $*" >>"$CALLS"\n',
            }
            for name, body in scripts.items():
                path = bin_dir / name
                path.write_text("#!/bin/sh\n" + body)
                path.chmod(0o755)
            env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin", CALLS=str(calls), VENV="no-venv")
            done = subprocess.run(
                ["bash", str(root / "tools" / "sam_build.sh")], env=env, capture_output=True, text=True
            )
            self.assertNotEqual(done.returncode, 0, done.stderr)
            self.assertIn("rustup target add aarch64-unknown-linux-gnu", done.stderr)
            self.assertFalse((root / ".aws-sam" / "build").exists(), "old artifacts were left for sam deploy")
            called = calls.read_text().splitlines()
            self.assertTrue(any(c.startswith("rustup target add") for c in called), called)
            self.assertFalse([c for c in called if not c.startswith("rustup")], called)


class Dist(unittest.TestCase):
    def fake_build(self, root: Path, machine: int) -> Path:
        """A `sam build` output: the real template with each function's CodeUri at its build directory."""
        build = root / "build"
        build.mkdir()
        template = dist.load(ROOT / "template.yaml")
        for name, resource in dist.functions(template).items():
            resource["Properties"]["CodeUri"] = name
            (build / name).mkdir()
            (build / name / "bootstrap").write_bytes(fake_elf(machine))
        with (build / "template.yaml").open("w") as f:
            dist.yaml.safe_dump(template, f, sort_keys=False)
        return build

    def test_each_function_gets_a_zip_with_an_executable_bootstrap_and_the_template_points_at_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            out = root / "dist"
            dist.build(self.fake_build(root, dist.AARCH64), out)
            template = dist.load(out / "template.yaml")
            uris = {n: r["Properties"]["CodeUri"] for n, r in dist.functions(template).items()}
            self.assertEqual(
                uris,
                {"TargetFailoverFunction": "target-failover.zip", "DatabaseFailoverFunction": "database-failover.zip"},
            )
            for resource in dist.functions(template).values():
                self.assertNotIn("Metadata", resource)
            self.assertNotIn("CodeUri", template["Globals"]["Function"])
            self.assertEqual(template["Metadata"][dist.SAR]["ReadmeUrl"], "README.md")
            self.assertTrue((out / "README.md").is_file() and (out / "samconfig.toml").is_file())
            with zipfile.ZipFile(out / "target-failover.zip") as z:
                self.assertEqual(z.namelist(), ["bootstrap"])
                self.assertTrue((z.getinfo("bootstrap").external_attr >> 16) & 0o100)
            self.assertEqual(dist.check(out, validate=False), [])

    def test_an_x86_64_build_is_refused_and_a_wrong_zip_is_reported(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            with self.assertRaises(SystemExit) as refused:
                dist.build(self.fake_build(root, 0x3E), root / "dist")
            self.assertIn("not aarch64", str(refused.exception))
            good = root / "good"
            shutil.rmtree(root / "build")
            dist.build(self.fake_build(root, dist.AARCH64), good)
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o100755 << 16
            with zipfile.ZipFile(good / "database-failover.zip", "w") as z:
                z.writestr(info, fake_elf(0x3E))
            problems = dist.check(good, validate=False)
            self.assertEqual(len(problems), 1, problems)
            self.assertIn("database-failover.zip: bootstrap: ELF machine 0x3e", problems[0])


if __name__ == "__main__":
    unittest.main()
