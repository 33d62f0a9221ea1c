#!/usr/bin/env python3
"""Packages `sam build`'s output into dist/, deployable with only the SAM CLI (no Rust toolchain).

Usage:
    dist.py [--build .aws-sam/build] [--out dist]   write dist/ from a finished `make sam-build`
    dist.py --check [--out dist]                     unpack dist/ and check it (used by `make test`)

dist/ holds:
- `<binary>.zip` per function: its `bootstrap` (aarch64, mode 0755) at the zip's root, as Lambda's
  provided.al2023 runtime expects, with fixed timestamps so that the same binary gives the same zip;
- `template.yaml`: the template SAM built, each function's `CodeUri` pointing at its zip, without the
  cargo-lambda build metadata (there is nothing left to build) and without the workspace-root `CodeUri` of
  Globals;
- `samconfig.toml` and `README.md` (the Serverless Application Repository metadata's `ReadmeUrl`).

So `sam deploy -t dist/template.yaml --guided` (or `cd dist && sam deploy --guided`) uploads the zips as they are.
The check unpacks every zip, checks that it holds an aarch64 executable `bootstrap`, that every function's
`CodeUri` names a zip in dist/, and runs `sam validate --lint` on dist/template.yaml.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "AWS::Serverless::Function"
SAR = "AWS::ServerlessRepo::Application"
# ELF: the magic, then e_machine (2 bytes, little-endian) at offset 18; 0xb7 is aarch64.
ELF_MAGIC = b"\x7fELF"
AARCH64 = 0xB7
# Zip timestamps cannot be before 1980.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class Loader(yaml.SafeLoader):
    """Reads CloudFormation's short-form intrinsics (`!Ref x`, `!GetAtt a.b`) as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


Loader.add_multi_constructor("!", _intrinsic)


def load(path: Path) -> dict:
    with path.open() as f:
        return yaml.load(f, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def functions(template: dict) -> dict[str, dict]:
    return {name: r for name, r in (template.get("Resources") or {}).items() if r.get("Type") == FUNCTION}


def binary_of(name: str, resource: dict) -> str:
    binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
    if not binary:
        raise SystemExit(f"dist: {name} has no Metadata.BuildProperties.Binary to name its zip after")
    return binary


def write_zip(bootstrap: Path, out: Path) -> None:
    info = zipfile.ZipInfo("bootstrap", date_time=FIXED_TIME)
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(info, bootstrap.read_bytes())


def aarch64_problem(data: bytes) -> str | None:
    """None for an aarch64 ELF executable, else what it is not."""
    if data[:4] != ELF_MAGIC:
        return "not an ELF executable"
    machine = int.from_bytes(data[18:20], "little")
    return None if machine == AARCH64 else f"ELF machine 0x{machine:x}, not aarch64 (0xb7)"


def build(build_dir: Path, out: Path) -> None:
    built = build_dir / "template.yaml"
    if not built.is_file():
        raise SystemExit(f"dist: {built} is missing: run make sam-build first")
    template = load(built)
    fns = functions(template)
    if not fns:
        raise SystemExit(f"dist: {built} declares no {FUNCTION}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, resource in fns.items():
        props = resource.setdefault("Properties", {})
        code = build_dir / str(props.get("CodeUri", name))
        bootstrap = code / "bootstrap"
        if not bootstrap.is_file():
            raise SystemExit(f"dist: {bootstrap} is missing: run make sam-build first")
        problem = aarch64_problem(bootstrap.read_bytes()[:20])
        if problem:
            raise SystemExit(f"dist: {bootstrap}: {problem}")
        archive = f"{binary_of(name, resource)}.zip"
        write_zip(bootstrap, out / archive)
        props["CodeUri"] = archive
        resource.pop("Metadata", None)
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    globals_fn.pop("CodeUri", None)
    sar = (template.get("Metadata") or {}).get(SAR)
    if sar is not None:
        sar["ReadmeUrl"] = "README.md"
    shutil.copyfile(ROOT / "README.md", out / "README.md")
    shutil.copyfile(ROOT / "samconfig.toml", out / "samconfig.toml")
    with (out / "template.yaml").open("w") as f:
        f.write("# Generated by `make dist` (tools/dist.py) from `sam build`'s output: deploy with\n")
        f.write("#   sam deploy -t dist/template.yaml --guided\n")
        yaml.safe_dump(template, f, sort_keys=False, width=120)
    for path in sorted(out.iterdir()):
        print(f"dist: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size} bytes")


def check(out: Path, validate: bool = True) -> list[str]:
    """What is wrong with dist/ (empty when nothing is)."""
    problems: list[str] = []
    template_path = out / "template.yaml"
    if not template_path.is_file():
        return [f"{template_path} is missing"]
    fns = functions(load(template_path))
    if not fns:
        problems.append(f"{template_path} declares no {FUNCTION}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, resource in fns.items():
            uri = str((resource.get("Properties") or {}).get("CodeUri", ""))
            archive = out / uri
            if not uri.endswith(".zip") or not archive.is_file():
                problems.append(f"{name}: CodeUri {uri!r} is not a zip in {out}")
                continue
            with zipfile.ZipFile(archive) as z:
                if "bootstrap" not in z.namelist():
                    problems.append(f"{archive.name}: no bootstrap at its root")
                    continue
                z.extract("bootstrap", Path(tmp) / name)
                mode = z.getinfo("bootstrap").external_attr >> 16
            data = (Path(tmp) / name / "bootstrap").read_bytes()
            problem = aarch64_problem(data[:20])
            if problem:
                problems.append(f"{archive.name}: bootstrap: {problem}")
            if not mode & 0o111:
                problems.append(f"{archive.name}: bootstrap is not executable (mode {oct(mode)})")
    if validate and not problems:
        env = dict(os.environ, SAM_CLI_TELEMETRY="0")
        env.setdefault("AWS_REGION", "us-east-1")
        env.setdefault("AWS_DEFAULT_REGION", env["AWS_REGION"])
        done = subprocess.run(
            [shutil.which("sam", path=f"{Path(sys.executable).parent}:{env.get('PATH', '')}") or "sam", "validate", "--lint", "-t", str(template_path), "--region", env["AWS_REGION"]],
            cwd=out, env=env, capture_output=True, text=True,
        )
        if done.returncode != 0:
            problems.append(f"sam validate --lint {template_path}: {done.stdout}{done.stderr}".strip())
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if not args.check:
        build(args.build, args.out)
        return 0
    problems = check(args.out)
    for p in problems:
        print(f"dist: {p}", file=sys.stderr)
    if not problems:
        print(f"dist: {args.out} checked: every CodeUri is a zip holding an aarch64 bootstrap; sam validate --lint passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
