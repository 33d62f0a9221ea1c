#!/usr/bin/env python3
"""Checks every shell command in README.md and docs/*.md against the project, so that the docs cannot drift.

Usage:
    check_docs.py              check the docs; exit 1 on any problem
    check_docs.py --self-test  prove each rule fires on a broken command

A command is a line (or lines joined by a trailing backslash) of a fenced block labelled sh, bash or shell, or
of an unlabelled block whose first command is a known program; `&&`, `||`, `|`, `;` and `&` separate commands,
and `$(...)` is checked as a command of its own. Placeholders (`<target-group-arn>`) stand for any value. Rules:

1. Every program is one this file knows (below); an unknown one is a problem, so that a new kind of command
   gets a rule here.
2. `make <target>`: the target exists in Makefile or mk/*.mk.
3. `sam deploy --config-env <env>`: the environment exists in samconfig.toml; `--parameter-overrides K=V`: each
   K is a template parameter; `sam remote invoke <LogicalId>`: a resource of template.yaml; `--event-file` of the
   repository exists.
4. `aws <service> <operation>`: the operation exists in the AWS CLI's service model (botocore, as the CLI
   itself uses), or is one of the CLI's own commands listed below; each `--option` is a member of the
   operation's input or a global option; a `--payload` that is JSON parses.
5. Variables set before a command (`NAME=value cmd`): a setting of the functions (docs/settings.json) or one
   Lambda or the SDK reads.
6. Repository paths named as arguments (`events/...`, `tools/...`, `drills/...`, `target/lambda/...` excepted:
   built) exist; `curl` to the local AWS names one of its control routes (tools/local_aws/server.py).
7. Every in-page link (`[...](#anchor)`) of a document names one of its headings (GitHub's anchors), and every
   link to a file of the repository (`[...](docs/deploy.md)`) names one that exists.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import tomllib
import unittest
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHELL_LANGS = {"sh", "bash", "shell"}
# Programs with no rule beyond existing: shell built-ins and everyday tools.
PLAIN = {"cd", "export", "cp", "jq", "date", "echo", "rustup", "sleep", "kill", "curl"}
CHECKED = {"make", "sam", "aws", "cargo", ".venv/bin/python", "python", ".venv/bin/cargo-lambda"}
# The AWS CLI's own commands, which are not API operations.
AWS_CUSTOM = {("cloudformation", "deploy"): {"stack-name", "template-file", "capabilities", "parameter-overrides",
                                             "s3-bucket", "tags", "no-execute-changeset"}}
AWS_GLOBAL = {"query", "output", "region", "profile", "endpoint-url", "cli-binary-format", "no-paginate",
              "max-items", "starting-token", "page-size", "debug", "no-cli-pager", "color"}
AWS_SERVICES = {"elbv2": "elbv2", "rds": "rds", "autoscaling": "autoscaling", "dynamodb": "dynamodb",
                "sqs": "sqs", "sns": "sns", "lambda": "lambda", "cloudtrail": "cloudtrail",
                "cloudformation": "cloudformation", "fis": "fis", "cloudwatch": "cloudwatch",
                "route53": "route53", "arc-zonal-shift": "arc-zonal-shift", "logs": "logs"}
# What Lambda's runtime, the SDK and cargo lambda's emulator read.
RUNTIME_VARS = re.compile(r"AWS_[A-Z_]+|PATH|RUST_LOG")
PLACEHOLDER = re.compile(r"<[^<>]+>")


def blocks(text: str):
    """(language, body) of each fenced block."""
    for m in re.finditer(r"^[ \t]*```(\w*)[^\n]*\n(.*?)^[ \t]*```", text, re.S | re.M):
        yield m.group(1).lower(), m.group(2)


def lines_of(body: str) -> list[str]:
    """The block's logical lines: continuations joined, blank lines dropped."""
    out, current = [], ""
    for raw in body.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if _open_quote(current):
            current += " "
            continue
        if current.strip():
            out.append(current.strip())
        current = ""
    if current.strip():
        out.append(current.strip())
    return out


def _open_quote(text: str) -> bool:
    """Whether a quotation is still open at the end of `text` (a quoted string that goes on on the next line)."""
    quote = None
    for i, c in enumerate(text):
        if quote is None and c == "#" and (i == 0 or text[i - 1].isspace()):
            return False
        if quote is None and c in "'\"":
            quote = c
        elif c == quote and not (quote == '"' and text[i - 1] == "\\"):
            quote = None
    return quote is not None


def substitutions(line: str) -> tuple[str, list[str]]:
    """The line with each `$(...)` replaced by a placeholder word, and their contents."""
    inner, out, i = [], "", 0
    while i < len(line):
        if line.startswith("$(", i):
            depth, j = 1, i + 2
            while j < len(line) and depth:
                depth += {"(": 1, ")": -1}.get(line[j], 0)
                j += 1
            inner.append(line[i + 2:j - 1])
            out += "SUBSTITUTED"
            i = j
        else:
            out += line[i]
            i += 1
    return out, inner


def commands(line: str) -> list[list[str]]:
    """The words of each command of a logical line (comments dropped)."""
    line, inner = substitutions(line)
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words, out = [], []
    for token in lexer:
        if token and set(token) <= set("|&;"):
            if words:
                out.append(words)
            words = []
        else:
            words.append(token)
    if words:
        out.append(words)
    for text in inner:
        out += commands(text)
    return out


class Project:
    """What the commands are checked against."""

    def __init__(self, root: Path = ROOT):
        self.root = root
        mk = [root / "Makefile", *sorted((root / "mk").glob("*.mk"))]
        self.make_targets = {m.group(1) for f in mk for m in re.finditer(r"^([a-zA-Z0-9_.-]+):", f.read_text(), re.M)}
        config = tomllib.loads((root / "samconfig.toml").read_text())
        self.config_envs = set(config) - {"version"}
        template = yaml.load((root / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
        self.parameters = set(template.get("Parameters") or {})
        self.resources = set(template.get("Resources") or {})
        contract = json.loads((root / "docs" / "settings.json").read_text())
        self.settings = {s["name"] for settings in contract.values() if isinstance(settings, list) for s in settings}
        server = (root / "tools" / "local_aws" / "server.py").read_text()
        self.routes = set(re.findall(r'\("(?:GET|POST)", "([a-z0-9/_-]+)"\)', server))
        self.routes |= set(re.findall(r'"([a-z0-9_-]+/[a-z0-9/_-]+)"', (root / "tools" / "local_aws" / "arc_state.py").read_text()))
        import botocore.session
        self.botocore = botocore.session.get_session()


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def options(words: list[str]) -> list[tuple[str, str | None]]:
    """`--name value` and `--flag` pairs, in order."""
    out = []
    for i, w in enumerate(words):
        if w.startswith("--"):
            name, _, inline = w[2:].partition("=")
            value = inline or (words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("--") else None)
            out.append((name, value))
    return out


def check_command(p: Project, words: list[str]) -> list[str]:
    """The problems of one command (its words)."""
    problems = []
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name = words.pop(0).split("=", 1)[0]
        if name not in p.settings and not RUNTIME_VARS.fullmatch(name) and not name.islower():
            problems.append(f"variable {name} is neither a setting (docs/settings.json) nor one Lambda or the SDK reads")
    if not words:
        return problems
    program, args = words[0], words[1:]
    for arg in args:
        path = arg.split("=", 1)[-1]
        if re.match(r"(events|tools|drills|docs|benches)/", path) and not PLACEHOLDER.search(path):
            if not (p.root / path).exists():
                problems.append(f"{program}: {path} does not exist")
    if program == "make":
        problems += [f"make: no target {t!r}" for t in args if not t.startswith("-") and t not in p.make_targets]
    elif program == "sam":
        problems += check_sam(p, args)
    elif program == "aws":
        problems += check_aws(p, args)
    elif program == "curl":
        for arg in args:
            m = re.search(r"/_failover/([a-z0-9/_-]+)", arg)
            if m and m.group(1) not in p.routes:
                problems.append(f"curl: the local AWS has no control route {m.group(1)!r}")
    elif program in ("cargo", ".venv/bin/cargo-lambda", ".venv/bin/python", "python") or program in PLAIN:
        pass
    elif program.startswith(("target/", "tools/", "./")):
        if not program.startswith("target/") and not (p.root / program).exists():
            problems.append(f"{program} does not exist")
    else:
        problems.append(f"unknown program {program!r}: give it a rule in tools/check_docs.py")
    return problems


def check_sam(p: Project, args: list[str]) -> list[str]:
    problems = []
    opts = dict(options(args))
    env = opts.get("config-env")
    if env is not None and env not in p.config_envs:
        problems.append(f"sam: --config-env {env} is not an environment of samconfig.toml ({sorted(p.config_envs)})")
    if "parameter-overrides" in opts:
        start = args.index("--parameter-overrides") + 1
        for word in args[start:]:
            if word.startswith("--"):
                break
            key = word.split("=", 1)[0]
            if key not in p.parameters:
                problems.append(f"sam: parameter {key} is not in template.yaml")
    if args[:2] == ["remote", "invoke"] and len(args) > 2 and not args[2].startswith("-"):
        if args[2] not in p.resources:
            problems.append(f"sam remote invoke: {args[2]} is not a resource of template.yaml")
    return problems


def check_aws(p: Project, args: list[str]) -> list[str]:
    if len(args) < 2:
        return [f"aws {' '.join(args)}: no service and operation"]
    service, operation = args[0], args[1]
    opts = options(args[2:])
    custom = AWS_CUSTOM.get((service, operation))
    if custom is not None:
        problems = [f"aws {service} {operation}: no option --{o}" for o, _ in opts if o not in custom | AWS_GLOBAL]
        template = dict(opts).get("template-file")
        if (service, operation) == ("cloudformation", "deploy") and template and (p.root / template).is_file():
            declared = set(yaml.load((p.root / template).read_text(), Loader=_CfnLoader).get("Parameters") or {})  # noqa: S506
            start = args.index("--parameter-overrides") + 1 if "--parameter-overrides" in args else len(args)
            for word in args[start:]:
                if word.startswith("--"):
                    break
                if word.split("=", 1)[0] not in declared:
                    problems.append(f"aws cloudformation deploy: {template} has no parameter {word.split('=', 1)[0]}")
        return problems
    if service not in AWS_SERVICES:
        return [f"aws {service}: not a service this file knows (add it to AWS_SERVICES)"]
    model = p.botocore.get_service_model(AWS_SERVICES[service])
    by_cli = {_kebab(name): name for name in model.operation_names}
    if operation not in by_cli:
        return [f"aws {service} {operation}: no such operation"]
    shape = model.operation_model(by_cli[operation]).input_shape
    members = {_kebab(m) for m in (shape.members if shape else {})}
    problems = []
    for name, value in opts:
        if name not in members | AWS_GLOBAL and not (name.startswith("no-") and name[3:] in members):
            problems.append(f"aws {service} {operation}: no option --{name}")
        if name == "payload" and value and value.lstrip().startswith("{"):
            try:
                json.loads(value)
            except ValueError as e:
                problems.append(f"aws {service} {operation}: --payload is not JSON ({e})")
    return problems


def _kebab(name: str) -> str:
    from botocore import xform_name
    return xform_name(name, "-")


def check_text(p: Project, text: str, where: str) -> list[str]:
    problems = []
    for lang, body in blocks(text):
        lines = lines_of(body)
        if lang not in SHELL_LANGS:
            first = commands(lines[0]) if lines else []
            if lang or not first or not first[0] or first[0][0] not in CHECKED | PLAIN | {"curl"}:
                continue
        for line in lines:
            for words in commands(line):
                problems += [f"{where}: {problem}\n    in: {line}" for problem in check_command(p, list(words))]
    return problems


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def check_links(text: str, where: str, base: Path) -> list[str]:
    prose = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text, flags=re.S | re.M)
    anchors = {slug(h) for h in re.findall(r"^#{1,6} +(.+?) *$", prose, re.M)}
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if target.startswith("#"):
            if target[1:] not in anchors:
                problems.append(f"{where}: link {target} names no heading")
        elif not re.match(r"[a-z]+:", target):
            path = (base / target.split("#", 1)[0]).resolve()
            if not path.exists():
                problems.append(f"{where}: link {target} names no file")
    return problems


def check(root: Path = ROOT) -> list[str]:
    p = Project(root)
    problems = []
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        where = str(path.relative_to(root))
        problems += check_text(p, path.read_text(), where) + check_links(path.read_text(), where, path.parent)
    return problems


class SelfTest(unittest.TestCase):
    project: Project

    @classmethod
    def setUpClass(cls):
        cls.project = Project()

    def problems(self, command: str, lang: str = "sh") -> list[str]:
        return check_text(self.project, f"```{lang}\n{command}\n```\n", "t")

    def test_the_real_docs_pass(self):
        self.assertEqual(check(), [])

    def test_each_rule_fires(self):
        cases = [
            ("sam deploy --config-env dev", "--config-env dev is not an environment"),
            ("sam deploy --config-env prod --parameter-overrides \\\n  DryRun=true DbEndpointRecord=x", "DbEndpointRecord"),
            ("sam remote invoke NoSuchFunction --stack-name s", "NoSuchFunction is not a resource"),
            ("make no-such-target", "no target 'no-such-target'"),
            ("aws elbv2 add-tagz --resource-arns <a>", "no such operation"),
            ("aws elbv2 add-tags --resource-arn <a> --tags Key=k,Value=v", "no option --resource-arn"),
            ("aws lambda invoke --function-name f --payload '{\"command\": ' out", "--payload is not JSON"),
            ("DB_ENDPOINT_RECORD=x target/lambda/database-failover/bootstrap", "variable DB_ENDPOINT_RECORD"),
            ("cp events/no-such-event.json /tmp/x.json", "events/no-such-event.json does not exist"),
            ("curl -X POST http://127.0.0.1:4566/_failover/nothing/here -d '{}'", "no control route 'nothing/here'"),
            ("terraform apply", "unknown program 'terraform'"),
            ("aws cloudformation deploy --stack-name s --template-file alarms/template.yaml \\\n"
             "  --parameter-overrides Application=web Zone=us-east-1a", "alarms/template.yaml has no parameter Zone"),
            ("id=$(aws fis get-experimentz --id x)", "no such operation"),
            ("make demo && make nope", "no target 'nope'"),
            ("aws sqs receive-message --queue-url <q> | jq -c '.[]\n  | {x}' && make nope2", "no target 'nope2'"),
        ]
        for command, fragment in cases:
            with self.subTest(command):
                found = self.problems(command)
                self.assertTrue(any(fragment in f for f in found), f"{fragment!r} not in {found}")

    def test_links_name_headings_and_files_that_exist(self):
        text = "# Readiness: will it work?\n\n[a](#readiness-will-it-work) [b](#nope) [c](docs/deploy.md) [d](no.md)\n"
        found = check_links(text, "t", ROOT)
        self.assertEqual(found, ["t: link #nope names no heading", "t: link no.md names no file"])

    def test_good_commands_pass_and_other_blocks_are_not_shell(self):
        good = [
            "sam deploy --config-env prod --parameter-overrides DryRun=true LogRetentionDays=365",
            "aws elbv2 add-tags --resource-arns <a> <b> --tags Key=failover:enabled,Value=true  # opt in",
            "aws lambda invoke --function-name f --cli-binary-format raw-in-base64-out --payload '{\"command\":\"status\"}' /dev/stdout",
            "LEDGER_TABLE=failover-ledger AWS_REGION=us-east-1 target/lambda/database-failover/bootstrap &",
            "aws cloudformation deploy --stack-name s --template-file drills/stop-instance-behind-load-balancer.yaml",
        ]
        for command in good:
            with self.subTest(command):
                self.assertEqual(self.problems(command), [])
        self.assertEqual(self.problems("fields @timestamp | filter message = 'x'", lang=""), [])


if __name__ == "__main__":
    sys.exit(check_main.run(sys.argv, "check_docs", check, "every command in README.md and docs/*.md names what exists"))
