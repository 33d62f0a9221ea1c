#!/usr/bin/env python3
"""Checks template.yaml, transformed to CloudFormation, against the product's deployment rules.

Usage:
    check_template.py [--template template.yaml] [--root .]   check the template; exit 1 on any violation
    check_template.py --self-test                              prove the checks fail on bad templates

The SAM template is transformed offline with samtranslator (region us-east-1, no credentials), then every
intrinsic function the checks depend on is evaluated for three parameter sets: the defaults, every option
switched on (e-mail subscription, DNS records, cross-region), and ReadinessSchedule=disabled. Rules:

1. IAM: no managed policies (their content cannot be checked offline); no NotAction / NotResource in an Allow;
   every action exists (cfn-lint's copy of the IAM service reference; cfn-lint itself skips this on SAM
   templates); a mutating action (anything but Describe*/List*/Get*/BatchGet*) on a wildcard resource needs
   StringEquals aws:ResourceTag/<OptInTagKey> = "true", and every resource type it can then touch must support
   that key; no tag-writing action at all (AddTags*, RemoveTags*, TagResource...): the functions keep their
   state in the ledger, and a function that could write tags could opt a resource in or out.
2. Functions: ReservedConcurrentExecutions set, from 1 to 50; an EventInvokeConfig with retries, a maximum event age and an
   on-failure destination that is an encrypted SQS queue of this stack, which the function's role may write to.
3. Environment: the variables of each function are exactly the settings the settings contract lists for it
   (docs/settings.json, generated from each function's `config::SETTINGS` and held equal to it by the Rust test
   tests/tests/against_local_aws/settings_contract.rs); each setting comes from a parameter with the contract's default;
   NOTIFICATION_TOPIC_ARN (required, no default) is the stack's encrypted topic, the only topic the functions may
   publish to.
4. Alarms on each function's Errors and on the dead-letter queue depth notify that topic; the outputs give the
   function, topic and queue ARNs.
5. The ledger: exactly one DynamoDB table, keys pk (hash) and sk (range), both strings; on-demand billing;
   point-in-time recovery; encryption at rest; TTL on expires_at; DeletionPolicy and UpdateReplacePolicy Retain.
   LEDGER_TABLE is a Ref to it; each function's role may use the ledger's item-level actions on it, and no
   DynamoDB action anywhere else or beyond those, except with AllowCrossRegion "true": then also on the table of
   the same name in every region, and on the tables HomeLedgerTables names (a primary's decisions are written in
   its region's ledger).
6. Readiness: each function has exactly one EventBridge schedule delivering {"command":"readiness"}, on the
   ReadinessSchedule parameter (default rate(1 day)), enabled unless it is "disabled", with a dead-letter queue.
7. The dashboard: exactly one AWS::CloudWatch::Dashboard whose body (after Fn::Sub) is JSON showing the
   Failover namespace's Actions (by outcome, with refusals and failures), AwsCallErrors, and the incidents'
   TimeToMitigate and TimeToRecover; each function's
   Errors, Throttles and p99 Duration; each queue's depth; and a Logs Insights widget over every function's log
   group with the last 20 `decision` lines.
8. Alarm routing: each function has an EventBridge rule for CloudWatch alarm state changes, and with the
   parameters' defaults target-failover's rule matches every EventBridge alarm sample in events/ in state ALARM
   or OK: target-group, instance and per-zone alarms (a metric with LoadBalancer and AvailabilityZone
   dimensions, which start a zone's evacuation) alike. Every function's alarm rule matches only this account's
   alarms and only names with the AlarmNamePrefix (checked on the per-zone sample, moved to another account and
   renamed). Patterns are matched with moto's EventBridge pattern matcher.
9. Serverless Application Repository: Metadata AWS::ServerlessRepo::Application has the required Name, Description
   and Author within SAR's patterns and lengths, SemanticVersion equal to the cargo workspace's version, and a
   ReadmeUrl that is a file of the repository.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import logging
import os
import re
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("SAM_CLI_TELEMETRY", "0")

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "failover-check"

# The public contract of settings, per function: docs/settings.json (see rule 3).
CONTRACT_FILE = Path("docs") / "settings.json"

# Every option switched on, so both branches of each Fn::If in the template are checked.
ALL_ON = {
    "NotificationEmail": "ops@example.com",
    "DnsHostedZoneId": "Z0123456789EXAMPLE",
    "DnsRecordNames": "writer.orders.internal,writer.billing.internal",
    "AllowCrossRegion": "true",
    "HomeLedgerTables": "arn:aws:dynamodb:us-west-2:123456789012:table/orders-ledger",
    "NotificationFormat": "chatbot",
    "RecreateReplica": "true",
}

# The only tags the functions write: on a replica they create (RECREATE_REPLICA), set on creation, these keys
# alone (the opt-in key is the template's OptInTagKey).
TAGS_ON_CREATE = ("failover:priority",)

READ_VERBS = ("Describe", "List", "Get", "BatchGet")
# What the ledger adapter calls (TransactWriteItems authorises each item as PutItem / UpdateItem /
# ConditionCheckItem): the only DynamoDB actions the functions may hold.
LEDGER_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
                  "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
# The one untagged grant on a wildcard: RDS Proxy target groups are not documented as taggable, so the proxy
# step may (de)register targets in any target group, and only in one: the same policy must require the opt-in
# tag on the proxy and the instance for the same two actions (IAM checks every resource of the request).
PROXY_TARGET_ACTIONS = {"rds:registerdbproxytargets", "rds:deregisterdbproxytargets"}
TARGET_GROUP_ARN = re.compile(r"arn:[^:]+:rds:[^:]+:[^:]+:target-group:\*")


def untagged_target_group_grant(st: dict) -> bool:
    actions = {str(a).lower() for a in as_list(st.get("Action", []))}
    resources = [str(r) for r in as_list(st.get("Resource", []))]
    return (bool(actions) and actions <= PROXY_TARGET_ACTIONS and "Condition" not in st and bool(resources)
            and all(TARGET_GROUP_ARN.fullmatch(r) for r in resources))


def proxy_and_instance_tagged(statements: list, opt_in: str) -> bool:
    """Some statement of the policy allows both proxy-target actions on db-proxy:* and db:* under the opt-in
    condition (and on nothing that could let an untagged proxy or instance through)."""
    for st in statements:
        actions = {str(a).lower() for a in as_list(st.get("Action", []))}
        resources = [str(r) for r in as_list(st.get("Resource", []))]
        kinds = {r.split(":")[5] if r.count(":") >= 6 else r for r in resources}
        if (st.get("Effect") == "Allow" and actions >= PROXY_TARGET_ACTIONS
                and has_opt_in_condition(st, opt_in, "rds") and {"db-proxy", "db"} <= kinds):
            return True
    return False


TAGGING_VERBS = ("AddTags", "TagResource", "CreateTags", "RemoveTags", "UntagResource", "DeleteTags")


class CheckError(Exception):
    """The template cannot be checked at all (parse or transform failure)."""


# ------------------------------------------------------------------------------------------------ loading


def load_sam(path: Path) -> dict:
    from samcli.yamlhelper import yaml_parse

    try:
        return yaml_parse(path.read_text())
    except Exception as exc:  # noqa: BLE001 - any parse error is reported the same way
        raise CheckError(f"{path}: cannot parse: {exc}") from exc


def transform(sam: dict) -> dict:
    """SAM -> CloudFormation, offline. Managed-policy names are never looked up (the loader returns none).
    Local CodeUri values become a placeholder S3 URI, as `sam validate` does: the transform wants one."""
    from samtranslator.translator.transform import transform as sam_transform

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    sam = copy.deepcopy(sam)
    function_sections = [sam.get("Globals", {}).get("Function", {})] + [
        r.get("Properties", {})
        for r in sam.get("Resources", {}).values()
        if r.get("Type") == "AWS::Serverless::Function"
    ]
    for props in function_sections:
        if isinstance(props.get("CodeUri"), str) and not props["CodeUri"].startswith("s3://"):
            props["CodeUri"] = "s3://placeholder-bucket/placeholder-key"
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    try:
        return sam_transform(sam, {}, NoManagedPolicies())
    except Exception as exc:  # noqa: BLE001 - samtranslator raises several unrelated types
        raise CheckError(f"SAM transform failed: {exc}") from exc


def iam_reference() -> dict:
    """cfn-lint's copy of the IAM service authorization reference: actions, resource types, condition keys."""
    import cfnlint

    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------------------ intrinsics

NO_VALUE = object()

# Realistic ARNs for references to the stack's own resources, so ARN patterns and resource types can be checked.
REF_ARNS = {
    "AWS::SNS::Topic": "arn:aws:sns:{r}:{a}:{n}",
    "AWS::SQS::Queue": "https://sqs.{r}.amazonaws.com/{a}/{n}",
    "AWS::Lambda::Function": "{n}",
    "AWS::KMS::Key": "{n}-key-id",
}
GETATT_ARNS = {
    ("AWS::SQS::Queue", "Arn"): "arn:aws:sqs:{r}:{a}:{n}",
    ("AWS::SQS::Queue", "QueueName"): "{n}",
    ("AWS::KMS::Key", "Arn"): "arn:aws:kms:{r}:{a}:key/{n}",
    ("AWS::Lambda::Function", "Arn"): "arn:aws:lambda:{r}:{a}:function:{n}",
    ("AWS::Events::Rule", "Arn"): "arn:aws:events:{r}:{a}:rule/{n}",
    ("AWS::IAM::Role", "Arn"): "arn:aws:iam::{a}:role/{n}",
}


class Evaluator:
    """Evaluates the intrinsic functions of a CloudFormation template for one set of parameter values."""

    def __init__(self, cfn: dict, overrides: dict[str, str] | None = None):
        self.cfn = cfn
        self.params = {k: str(v.get("Default", "")) for k, v in cfn.get("Parameters", {}).items()}
        self.params.update(overrides or {})
        self.pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
        }
        # In declaration order, so that a condition may use the ones before it ({"Condition": name}).
        self.conditions: dict[str, Any] = {}
        for name, expr in cfn.get("Conditions", {}).items():
            self.conditions[name] = self.value(expr)

    def resource_type(self, name: str) -> str | None:
        return self.cfn.get("Resources", {}).get(name, {}).get("Type")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        rtype = self.resource_type(name)
        if rtype is None:
            raise CheckError(f"Ref to unknown name {name}")
        if rtype == "AWS::DynamoDB::Table":
            return self.table_name(name)
        return REF_ARNS.get(rtype, "ref:{n}").format(r=REGION, a=ACCOUNT, n=name)

    def table_name(self, name: str) -> str:
        """A table's name: its TableName, else the name CloudFormation generates (shown as ``ref:<logical id>``)."""
        given = self.cfn["Resources"][name].get("Properties", {}).get("TableName")
        return f"ref:{name}" if given is None else str(self.value(given))

    def getatt(self, name: str, attr: str) -> str:
        rtype = self.resource_type(name)
        if rtype is None:
            raise CheckError(f"Fn::GetAtt to unknown resource {name}")
        if (rtype, attr) == ("AWS::DynamoDB::Table", "Arn"):
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.table_name(name)}"
        return GETATT_ARNS.get((rtype, attr), "getatt:{n}.{t}").format(r=REGION, a=ACCOUNT, n=name, t=attr)

    def sub(self, text: str, variables: dict) -> str:
        def one(match: re.Match) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(self.value(variables[inner]))
            if "." in inner:
                name, attr = inner.split(".", 1)
                return self.getatt(name, attr)
            return str(self.ref(inner))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def active(self, resource: dict) -> bool:
        cond = resource.get("Condition")
        return cond is None or bool(self.conditions[cond])

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(i) for i in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(name, attr)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self.sub(text, variables)
            if key == "Fn::If":
                cond, yes, no = arg
                return self.value(yes if self.conditions[cond] else no)
            if key == "Fn::Split":
                return str(self.value(arg[1])).split(arg[0])
            if key == "Fn::Select":
                return self.value(arg[1])[int(self.value(arg[0]))]
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self.value(arg[1]))
            if key == "Fn::Equals":
                return str(self.value(arg[0])) == str(self.value(arg[1]))
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
            if key == "Condition":
                return self.conditions[arg]
            if key.startswith("Fn::"):
                raise CheckError(f"{key} is not supported by the checker; extend tools/check_template.py")
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}


# ------------------------------------------------------------------------------------------------ IAM rules


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def is_read_only(action: str) -> bool:
    verb = action.split(":", 1)[-1]
    return action != "*" and verb.startswith(READ_VERBS)


def is_wildcard(resource: str) -> bool:
    """A resource that names more than one thing. A log group's trailing ':*' (its streams) is not."""
    if re.fullmatch(r"arn:[^:]+:logs:[^:]+:[^:]+:log-group:[^*]+:\*", resource):
        return False
    # One table name in every region (rule 5 holds it to the ledger's): each region's ledger, one thing each.
    if re.fullmatch(r"arn:[^:]+:dynamodb:\*:[0-9]+:table/[^*/]+", resource):
        return False
    return "*" in resource


def tag_condition_keys(opt_in: str, service: str) -> set[str]:
    return {f"aws:resourcetag/{opt_in}".lower(), f"{service}:resourcetag/{opt_in}".lower()}


def has_opt_in_condition(statement: dict, opt_in: str, service: str) -> bool:
    keys = tag_condition_keys(opt_in, service)
    for operator in ("StringEquals", "StringEqualsIgnoreCase"):
        for key, value in statement.get("Condition", {}).get(operator, {}).items():
            if key.lower() in keys and as_list(value) == ["true"]:
                return True
    return False


def tags_on_create(statement: dict, opt_in: str) -> bool:
    """A creation that sets tags on the new resource only: every action creates or tags, the request must set
    `aws:RequestTag/<opt_in>` to "true", and `ForAllValues:StringEquals aws:TagKeys` allows no key but the opt-in
    key and TAGS_ON_CREATE."""
    actions = [str(a).split(":", 1)[-1] for a in as_list(statement.get("Action", []))]
    if not actions or not all(a.startswith("Create") or a == "AddTagsToResource" for a in actions):
        return False
    # Tagging, unlike creating, reaches existing resources too: only those named as the function names what it
    # creates, never every resource of a type (which would let the role opt any resource in).
    if "AddTagsToResource" in actions and any(str(r).endswith(":*") for r in as_list(statement.get("Resource", []))):
        return False
    condition = statement.get("Condition", {})
    request_tag = condition.get("StringEquals", {}).get(f"aws:RequestTag/{opt_in}")
    keys = condition.get("ForAllValues:StringEquals", {}).get("aws:TagKeys")
    return as_list(request_tag) == ["true"] and keys is not None and set(as_list(keys)) <= {opt_in, *TAGS_ON_CREATE}


def arn_regex(arn_format: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\$\\\{[^}]+\\\}", "[^:]*", re.escape(arn_format).replace(r"\.\*", ".*")) + "$")


def resource_types_touched(ref: dict, action: str, resource: str) -> list[tuple[str, dict]] | None:
    """The resource types of `action` that `resource` can designate; None when the action is unknown."""
    service, name = action.split(":", 1)
    spec = ref.get(service.lower())
    if spec is None or name.lower() not in spec["Actions"]:
        return None
    sample = resource.replace("*", "x")
    types = spec["Actions"][name.lower()].get("Resources", [])
    found = []
    for rtype in types:
        # The reference names an action's resource types as the service spells them ("ALB" for ARC,
        # autoScalingGroup) and keys its resource table in lower case ("alb", "autoscalinggroup").
        rspec = spec["Resources"].get(rtype) or spec["Resources"].get(rtype.lower(), {})
        if any(arn_regex(f).match(sample) for f in rspec.get("ARNFormats", [])):
            found.append((rtype, rspec))
    return found


def policy_documents(cfn: dict, ev: Evaluator) -> list[tuple[str, dict]]:
    docs = []
    for name, res in cfn.get("Resources", {}).items():
        if not ev.active(res):
            continue
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            for policy in ev.value(props.get("Policies", [])):
                docs.append((f"{name}/{policy.get('PolicyName')}", policy["PolicyDocument"]))
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs.append((name, ev.value(props["PolicyDocument"])))
    parsed = []
    for where, doc in docs:
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except json.JSONDecodeError as exc:
                raise CheckError(f"{where}: policy document is not valid JSON: {exc}") from exc
        parsed.append((where, doc))
    return parsed


def known_action(ref: dict, action: str) -> bool:
    service, verb = action.split(":", 1)
    spec = ref.get(service.lower())
    if spec is None:
        return False
    return any(fnmatch.fnmatch(a, verb.lower()) for a in spec["Actions"])


def check_statement(at: str, st: dict, opt_in: str, ref: dict) -> list[str]:
    if "NotAction" in st or "NotResource" in st:
        return [f"{at}: NotAction/NotResource in an Allow grants more than it names"]
    errors = []
    actions = [str(a) for a in as_list(st.get("Action", []))]
    resources = [str(r) for r in as_list(st.get("Resource", []))]
    wide = [r for r in resources if is_wildcard(r)]
    conditioned = []
    if tags_on_create(st, opt_in):
        return [f"{at}: unknown action {a}" for a in actions if not known_action(ref, a)]
    for action in actions:
        if ":" in action and action.split(":", 1)[1].startswith(TAGGING_VERBS):
            errors.append(f"{at}: {action} writes tags; the functions write no tags (their state is in the ledger)")
        if action == "*" or ":" not in action:
            errors.append(f"{at}: action {action!r} allows every service")
        elif not known_action(ref, action):
            errors.append(f"{at}: unknown action {action}")
        elif is_read_only(action) or not wide:
            continue
        elif not has_opt_in_condition(st, opt_in, action.split(":")[0].lower()):
            errors.append(f"{at}: mutating action {action} on {', '.join(wide)} without the condition "
                          f'StringEquals aws:ResourceTag/{opt_in} = "true"')
        else:
            conditioned.append(action)
    # A tag-conditioned grant must be able to hold: each action reaches some resource of the statement, each
    # resource is a type of some action, and every type reached supports aws:ResourceTag.
    for action in conditioned:
        reached = [t for r in resources for t in resource_types_touched(ref, action, r) or []]
        if not reached:
            errors.append(f"{at}: no resource of the statement is a resource type of {action}; the grant is void")
        for rtype, rspec in reached:
            if "aws:ResourceTag/${TagKey}" not in rspec.get("ConditionKeys", []):
                errors.append(f"{at}: {action} on {rtype} does not support aws:ResourceTag; the condition cannot hold")
    if conditioned:
        for resource in wide:
            if not any(resource_types_touched(ref, a, resource) for a in conditioned):
                errors.append(f"{at}: {resource} is a resource type of none of the statement's actions")
    return errors


def check_iam(cfn: dict, ev: Evaluator, ref: dict, contract: dict) -> list[str]:
    errors = []
    opt_in = ev.params.get("OptInTagKey", contract_defaults(contract)["OPT_IN_TAG_KEY"])
    for name, res in cfn.get("Resources", {}).items():
        if res["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group") and ev.active(res):
            if res.get("Properties", {}).get("ManagedPolicyArns"):
                errors.append(f"{name}: managed policies cannot be checked offline; write the statements inline")
    for where, doc in policy_documents(cfn, ev):
        statements = as_list(doc.get("Statement", []))
        for i, st in enumerate(statements):
            if st.get("Effect") != "Allow":
                continue
            at = f"{where} statement {st.get('Sid', i)}"
            if untagged_target_group_grant(st):
                if not proxy_and_instance_tagged(statements, opt_in):
                    errors.append(f"{at}: proxy targets on any target group without a statement of the same "
                                  f'policy requiring aws:ResourceTag/{opt_in} = "true" on db-proxy:* and db:*')
                continue
            errors += check_statement(at, st, opt_in, ref)
    return errors


# ------------------------------------------------------------------------------------------------ functions


def functions(cfn: dict, ev: Evaluator) -> dict[str, dict]:
    return {n: r for n, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Function" and ev.active(r)}


def refers_to(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        if value.get("Ref") == name:
            return True
        getatt = value.get("Fn::GetAtt")
        if getatt and (getatt[0] if isinstance(getatt, list) else getatt.split(".")[0]) == name:
            return True
        return any(refers_to(v, name) for v in value.values())
    if isinstance(value, list):
        return any(refers_to(v, name) for v in value)
    if isinstance(value, str):
        return re.search(r"\$\{" + re.escape(name) + r"[.}]", value) is not None
    return False


def allowed_on(cfn: dict, ev: Evaluator, role_name: str, action: str, resource: str) -> bool:
    for where, doc in policy_documents(cfn, ev):
        if not where.startswith(f"{role_name}/"):
            continue
        for st in as_list(doc.get("Statement", [])):
            if st.get("Effect") == "Allow" and action in as_list(st.get("Action", [])):
                if any(fnmatch.fnmatchcase(resource, r) for r in as_list(st.get("Resource", []))):
                    return True
    return False


def role_of(function: dict) -> str | None:
    role = function.get("Properties", {}).get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        getatt = role["Fn::GetAtt"]
        return getatt[0] if isinstance(getatt, list) else getatt.split(".")[0]
    return None


def check_functions(cfn: dict, ev: Evaluator) -> list[str]:
    errors = []
    resources = cfn["Resources"]
    fns = functions(cfn, ev)
    if not fns:
        errors.append("no Lambda function in the template")
    for name, fn in fns.items():
        props = fn.get("Properties", {})
        reserved = str(ev.value(props.get("ReservedConcurrentExecutions")))
        if not reserved.isdigit() or not 1 <= int(reserved) <= 50:
            errors.append(f"{name}: ReservedConcurrentExecutions must be set, from 1 to 50 (bounds a storm; the "
                          f"ledger serialises decisions), found {props.get('ReservedConcurrentExecutions')!r}")
        configs = [
            r for r in resources.values()
            if r["Type"] == "AWS::Lambda::EventInvokeConfig" and refers_to(r["Properties"].get("FunctionName"), name)
        ]
        if not configs:
            errors.append(f"{name}: no EventInvokeConfig, so no dead-letter destination for failed async events")
            continue
        for cfg in configs:
            p = cfg["Properties"]
            for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                if key not in p:
                    errors.append(f"{name}: EventInvokeConfig without {key}")
            dest = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            queue = None
            if isinstance(dest, dict) and "Fn::GetAtt" in dest:
                target = dest["Fn::GetAtt"]
                target = target[0] if isinstance(target, list) else target.split(".")[0]
                if resources.get(target, {}).get("Type") == "AWS::SQS::Queue":
                    queue = target
            if queue is None:
                errors.append(f"{name}: the on-failure destination must be an SQS queue of this stack, found {dest!r}")
                continue
            qprops = resources[queue].get("Properties", {})
            if not (str(qprops.get("SqsManagedSseEnabled")).lower() == "true" or qprops.get("KmsMasterKeyId")):
                errors.append(f"{name}: dead-letter queue {queue} is not encrypted")
            role = role_of(fn)
            if role and not allowed_on(cfn, ev, role, "sqs:SendMessage", ev.getatt(queue, "Arn")):
                errors.append(f"{name}: role {role} may not sqs:SendMessage to its dead-letter queue {queue}")
    return errors


def load_contract(root: Path) -> dict[str, list[dict]]:
    """The settings contract: function name -> [{"name", "default", "meaning"}]."""
    path = root / CONTRACT_FILE
    if not path.is_file():
        raise CheckError(f"{path}: missing, so the environment variables cannot be compared (it is generated by "
                         "`UPDATE_CONTRACT=1 cargo test -p integration-tests --test against_local_aws "
                         "settings_contract`)")
    try:
        contract = json.loads(path.read_text())
    except ValueError as exc:
        raise CheckError(f"{path}: not JSON ({exc})") from exc
    ok = isinstance(contract, dict) and all(
        isinstance(settings, list) and all(isinstance(s, dict) and isinstance(s.get("name"), str)
                                           and (s.get("default") is None or isinstance(s.get("default"), str))
                                           for s in settings)
        for settings in contract.values())
    if not ok:
        raise CheckError(f"{path}: expected {{function: [{{name, default, meaning}}]}}")
    return contract


def contract_defaults(contract: dict) -> dict[str, str | None]:
    """Every setting of any function with its default (None: required, no parameter)."""
    return {s["name"]: s.get("default") for settings in contract.values() for s in settings}


def check_environment(sam: dict, cfn: dict, ev: Evaluator, contract: dict) -> list[str]:
    errors = []
    defaults = contract_defaults(contract)
    resources = cfn["Resources"]
    params = cfn.get("Parameters", {})
    topics = {n for n, r in resources.items() if r["Type"] == "AWS::SNS::Topic"}
    for name, fn in functions(cfn, ev).items():
        binary = (sam["Resources"].get(name, {}).get("Metadata", {}).get("BuildProperties", {}).get("Binary"))
        if not binary:
            errors.append(f"{name}: no Metadata.BuildProperties.Binary, cannot find its crate")
            continue
        variables = fn.get("Properties", {}).get("Environment", {}).get("Variables", {})
        expected = [s["name"] for s in contract.get(binary, [])] if binary in contract else None
        if expected is None:
            errors.append(f"{name}: the settings contract ({CONTRACT_FILE}) has no function {binary!r}")
        else:
            missing = sorted(set(expected) - set(variables))
            extra = sorted(set(variables) - set(expected))
            if missing:
                errors.append(f"{name}: the function reads {', '.join(missing)} but the template does not set it")
            if extra:
                errors.append(f"{name}: the template sets {', '.join(extra)} but {binary}'s settings do not include it")
        for var, value in variables.items():
            if var == "NOTIFICATION_TOPIC_ARN":
                ref = value.get("Ref") if isinstance(value, dict) else None
                if ref not in topics:
                    errors.append(f"{name}: NOTIFICATION_TOPIC_ARN must be Ref to the stack's topic, found {value!r}")
                elif not resources[ref].get("Properties", {}).get("KmsMasterKeyId"):
                    errors.append(f"{name}: topic {ref} is not encrypted with a KMS key")
                elif (role := role_of(fn)) and not allowed_on(cfn, ev, role, "sns:Publish", ev.ref(ref)):
                    errors.append(f"{name}: role {role} may not publish to {ref}")
                continue
            if var == "LEDGER_TABLE":
                ref = value.get("Ref") if isinstance(value, dict) else None
                if ref not in resources or resources[ref]["Type"] != "AWS::DynamoDB::Table":
                    errors.append(f"{name}: LEDGER_TABLE must be Ref to the stack's ledger table, found {value!r}")
                elif role := role_of(fn):
                    arn = ev.getatt(ref, "Arn")
                    denied = [a for a in LEDGER_ACTIONS if not allowed_on(cfn, ev, role, a, arn)]
                    if denied:
                        errors.append(f"{name}: role {role} may not {', '.join(denied)} on the ledger {ref}")
                continue
            if var not in defaults:
                errors.append(f"{name}: {var} is not part of the settings contract ({CONTRACT_FILE})")
                continue
            param = value.get("Ref") if isinstance(value, dict) else None
            if param not in params:
                errors.append(f"{name}: {var} must come from a parameter, found {value!r}")
                continue
            default = str(params[param].get("Default", ""))
            if default != defaults[var]:
                errors.append(f"{name}: parameter {param} ({var}) defaults to {default!r}, the functions to "
                              f"{defaults[var]!r}")
    return errors


def check_ledger(cfn: dict, ev: Evaluator) -> list[str]:
    tables = {n: r for n, r in cfn["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"}
    if len(tables) != 1:
        return [f"expected one DynamoDB table (the ledger), found {sorted(tables) or 'none'}"]
    (name, table), = tables.items()
    props = table.get("Properties", {})
    errors = []
    arn = ev.getatt(name, "Arn")
    # The ledger of this region; with AllowCrossRegion, the table of the same name in every region and the other
    # regions' tables HomeLedgerTables names (database-failover writes a primary's decisions in its region's).
    allowed = {arn}
    if ev.params.get("AllowCrossRegion") == "true":
        allowed.add(re.sub(r"^(arn:[^:]+:dynamodb):[^:]+:", r"\1:*:", arn))
        allowed.update(t for t in ev.params.get("HomeLedgerTables", "").split(",") if t)
    for where, doc in policy_documents(cfn, ev):
        for st in as_list(doc.get("Statement", [])):
            actions = [a for a in as_list(st.get("Action", [])) if str(a).lower().startswith("dynamodb:")]
            beyond = sorted(set(actions) - set(LEDGER_ACTIONS))
            if beyond:
                errors.append(f"{where}: DynamoDB actions beyond the ledger's item-level ones: {', '.join(beyond)}")
            if actions and any(r not in allowed for r in as_list(st.get("Resource", []))):
                errors.append(f"{where}: DynamoDB actions on {st.get('Resource')!r}, not only the ledger {name}")
    attrs = {a.get("AttributeName"): a.get("AttributeType") for a in props.get("AttributeDefinitions", [])}
    keys = [(k.get("AttributeName"), k.get("KeyType")) for k in props.get("KeySchema", [])]
    if keys != [("pk", "HASH"), ("sk", "RANGE")] or attrs.get("pk") != "S" or attrs.get("sk") != "S":
        errors.append(f"{name}: the key schema must be pk (HASH, S) and sk (RANGE, S), found {keys} {attrs}")
    if props.get("BillingMode") != "PAY_PER_REQUEST":
        errors.append(f"{name}: BillingMode must be PAY_PER_REQUEST (on demand)")
    if (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is not True:
        errors.append(f"{name}: point-in-time recovery is not enabled")
    if (props.get("SSESpecification") or {}).get("SSEEnabled") is not True:
        errors.append(f"{name}: encryption at rest (SSESpecification.SSEEnabled) is not enabled")
    ttl = props.get("TimeToLiveSpecification") or {}
    if ttl.get("AttributeName") != "expires_at" or ttl.get("Enabled") is not True:
        errors.append(f"{name}: TTL must be enabled on expires_at, found {ttl or 'none'}")
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if table.get(policy) != "Retain":
            errors.append(f"{name}: {policy} must be Retain (the ledger outlives the stack)")
    return errors


def check_alarms_and_outputs(cfn: dict, ev: Evaluator) -> list[str]:
    errors = []
    resources = cfn["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    topics = {n for n, r in resources.items() if r["Type"] == "AWS::SNS::Topic"}

    def notifies(alarm: dict) -> bool:
        return any(isinstance(a, dict) and a.get("Ref") in topics for a in alarm.get("AlarmActions", []))

    def watches(alarm: dict, namespace: str, metric: str, name: str) -> bool:
        return (alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric
                and refers_to(alarm.get("Dimensions"), name))

    for name in functions(cfn, ev):
        if not any(watches(a, "AWS/Lambda", "Errors", name) and notifies(a) for a in alarms):
            errors.append(f"{name}: no alarm on its Errors that notifies the topic")
    queues = {n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    for queue in queues:
        if not any(watches(a, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue) and notifies(a) for a in alarms):
            errors.append(f"{queue}: no alarm on its depth that notifies the topic")
    outputs = [o.get("Value") for o in cfn.get("Outputs", {}).values()]
    for name in list(functions(cfn, ev)) + sorted(queues):
        if not any(isinstance(v, dict) and v.get("Fn::GetAtt") in ([name, "Arn"], f"{name}.Arn") for v in outputs):
            errors.append(f"{name}: its ARN is not an output")
    for topic in topics:
        if not any(isinstance(v, dict) and v.get("Ref") == topic for v in outputs):
            errors.append(f"{topic}: its ARN is not an output")
    return errors


READINESS_INPUT = {"command": "readiness"}


def check_readiness(cfn: dict, ev: Evaluator) -> list[str]:
    """Each function has one EventBridge schedule delivering ``{"command":"readiness"}`` on the ReadinessSchedule
    parameter (default ``rate(1 day)``), enabled unless the parameter is ``disabled``, with a dead-letter queue."""
    errors = []
    default = str(cfn.get("Parameters", {}).get("ReadinessSchedule", {}).get("Default", ""))
    if default != "rate(1 day)":
        errors.append(f"parameter ReadinessSchedule must default to 'rate(1 day)', found {default!r}")
    schedule = ev.params.get("ReadinessSchedule")
    rules = [r.get("Properties", {}) for r in cfn["Resources"].values()
             if r["Type"] == "AWS::Events::Rule" and ev.active(r)]

    def delivers_readiness(target: dict) -> bool:
        try:
            return json.loads(str(ev.value(target.get("Input", "")))) == READINESS_INPUT
        except ValueError:
            return False

    for name in functions(cfn, ev):
        mine = [(p, t) for p in rules for t in p.get("Targets", [])
                if refers_to(t.get("Arn"), name) and delivers_readiness(t)]
        if len(mine) != 1:
            errors.append(f"{name}: expected one schedule delivering {{\"command\":\"readiness\"}}, found {len(mine)}")
        for props, target in mine:
            state, expression = ev.value(props.get("State", "ENABLED")), ev.value(props.get("ScheduleExpression"))
            if schedule == "disabled" and state != "DISABLED":
                errors.append(f"{name}: ReadinessSchedule=disabled leaves its readiness schedule {state}")
            if schedule != "disabled" and (state != "ENABLED" or expression != schedule):
                errors.append(f"{name}: its readiness schedule ({state}, {expression!r}) is not ReadinessSchedule "
                              f"({schedule!r})")
            if not target.get("DeadLetterConfig"):
                errors.append(f"{name}: its readiness schedule has no dead-letter queue")
    return errors


def check_dashboard(cfn: dict, ev: Evaluator) -> list[str]:
    resources = cfn["Resources"]
    dashboards = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard" and ev.active(r)]
    if len(dashboards) != 1:
        return [f"expected exactly one AWS::CloudWatch::Dashboard, found {len(dashboards)}"]
    try:
        body = json.loads(ev.value(dashboards[0]["Properties"]["DashboardBody"]))
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        return [f"dashboard: DashboardBody is not JSON after substitution ({e})"]
    widgets = [w.get("properties", {}) | {"type": w.get("type")} for w in body.get("widgets", [])]
    lines = [(w, m) for w in widgets if w["type"] == "metric" for m in w.get("metrics", [])]

    def shows(namespace: str, metric: str, *dimension: str, stat: str | None = None) -> bool:
        for widget, line in lines:
            plain = [x for x in line if isinstance(x, str)]
            options = next((x for x in line if isinstance(x, dict)), {})
            if plain[:2] == [namespace, metric] and all(d in plain[2:] for d in dimension):
                if stat is None or options.get("stat", widget.get("stat")) == stat:
                    return True
        return False

    def searched(namespace: str, metric: str) -> bool:
        return any("expression" in x and f"{{{namespace}," in x["expression"] and f'"{metric}"' in x["expression"]
                   for _, line in lines for x in line if isinstance(x, dict))

    errors = []
    if not searched("Failover", "Actions"):
        errors.append("dashboard: no widget of Failover Actions by outcome (a SEARCH expression)")
    for outcome in ("refused", "failed"):
        if not shows("Failover", "Actions", "outcome", outcome):
            errors.append(f"dashboard: no line of Failover Actions with outcome {outcome}")
    if not searched("Failover", "AwsCallErrors"):
        errors.append("dashboard: no widget of Failover AwsCallErrors")
    for metric in ("TimeToMitigate", "TimeToRecover"):
        if not shows("Failover", metric, "target-failover"):
            errors.append(f"dashboard: no line of Failover {metric} (the incidents' durations)")
    groups = {n: r for n, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    logs = [w.get("query", "") for w in widgets if w["type"] == "log"]
    for name in functions(cfn, ev):
        function = str(ev.ref(name))
        for metric, stat in (("Errors", None), ("Throttles", None), ("Duration", "p99")):
            if not shows("AWS/Lambda", metric, function, stat=stat):
                errors.append(f"dashboard: no line of {name}'s {metric}" + (f" at {stat}" if stat else ""))
        own = [str(ev.ref(g)) for g, r in groups.items() if refers_to(r["Properties"].get("LogGroupName"), name)]
        if not any(f"SOURCE '{g}'" in q for q in logs for g in own):
            errors.append(f"dashboard: no Logs Insights widget over {name}'s log group")
    if not any("decision" in q and re.search(r"\blimit 20\b", q) for q in logs):
        errors.append("dashboard: no Logs Insights widget with the last 20 decisions")
    for queue in (n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"):
        if not shows("AWS/SQS", "ApproximateNumberOfMessagesVisible", ev.getatt(queue, "QueueName")):
            errors.append(f"dashboard: no line of {queue}'s depth")
    return errors


EVENTS = Path(__file__).resolve().parent.parent / "events"


def alarm_rules(cfn: dict, ev: Evaluator) -> dict[str, list[dict]]:
    """Function name -> the evaluated event patterns of its EventBridge rules for alarm state changes."""
    found: dict[str, list[dict]] = {name: [] for name in functions(cfn, ev)}
    for rule in cfn["Resources"].values():
        if rule["Type"] != "AWS::Events::Rule" or not ev.active(rule):
            continue
        pattern = ev.value(rule.get("Properties", {}).get("EventPattern"))
        if not isinstance(pattern, dict) or "aws.cloudwatch" not in as_list(pattern.get("source")):
            continue
        for target in rule["Properties"].get("Targets", []):
            for name in found:
                if refers_to(target.get("Arn"), name):
                    found[name].append(pattern)
    return found


def check_alarm_routing(cfn: dict, ev: Evaluator) -> list[str]:
    from moto.events.models import EventPattern

    def matches(pattern: dict, event: dict) -> bool:
        return EventPattern(json.dumps(pattern), pattern).matches_event(event)

    errors = []
    rules = alarm_rules(cfn, ev)
    samples = {p.name: json.loads(p.read_text()) for p in sorted(EVENTS.glob("alarm-eventbridge-*.json"))}
    samples = {n: e for n, e in samples.items() if e["detail"]["state"]["value"] in ("ALARM", "OK")}
    zonal = [n for n, e in samples.items()
             if any({"LoadBalancer", "AvailabilityZone"} <= set(m.get("metricStat", {}).get("metric", {})
                                                                   .get("dimensions", {}))
                    for m in e["detail"].get("configuration", {}).get("metrics", []))]
    if not zonal:
        errors.append("events/: no EventBridge sample of a per-zone alarm (LoadBalancer and AvailabilityZone)")
    for name, patterns in rules.items():
        if not patterns:
            errors.append(f"{name}: no EventBridge rule for CloudWatch alarm state changes")
        for zone in zonal:
            event = copy.deepcopy(samples[zone])
            event["account"] = "999999999999"
            if any(matches(p, event) for p in patterns):
                errors.append(f"{name}: its alarm rule matches another account's alarm ({zone} from 999999999999)")
            event = copy.deepcopy(samples[zone])
            event["detail"]["alarmName"] = "unrelated-" + event["detail"]["alarmName"]
            if any(matches(p, event) for p in patterns):
                errors.append(f"{name}: its alarm rule matches an alarm without the AlarmNamePrefix")
    if ev.params.get("AlarmNamePrefix", "failover-") == "failover-":
        for sample, event in samples.items():
            if not any(matches(p, event) for p in rules.get("TargetFailoverFunction", [])):
                kind = "per-zone alarm" if sample in zonal else "alarm"
                errors.append(f"TargetFailoverFunction: its alarm rule does not match the {kind} events/{sample}")
    return errors


SAR_KEY = "AWS::ServerlessRepo::Application"
REPO = Path(__file__).resolve().parent.parent


def workspace_version() -> str | None:
    text = (REPO / "Cargo.toml").read_text()
    section = re.search(r"^\[workspace\.package\]\n((?:[^\[].*\n?)*)", text, re.M)
    found = section and re.search(r'^version\s*=\s*"([^"]+)"', section.group(1), re.M)
    return found.group(1) if found else None


def check_sar(sam: dict) -> list[str]:
    app = (sam.get("Metadata") or {}).get(SAR_KEY)
    if not isinstance(app, dict):
        return [f"Metadata has no {SAR_KEY} (make dist's template could not be published)"]
    errors = []
    rules = {
        "Name": (r"[a-zA-Z0-9\-]+", 140),
        "Description": (r".+", 256),
        "Author": (r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", 127),
    }
    for key, (pattern, longest) in rules.items():
        value = app.get(key)
        if not isinstance(value, str) or not re.fullmatch(pattern, value, re.S) or len(value) > longest:
            errors.append(f"{SAR_KEY}.{key} {value!r} is missing or not within SAR's pattern /{pattern}/, {longest} chars")
    version = workspace_version()
    if str(app.get("SemanticVersion")) != str(version):
        errors.append(f"{SAR_KEY}.SemanticVersion {app.get('SemanticVersion')!r} is not the workspace's version {version!r}")
    readme = app.get("ReadmeUrl")
    if not isinstance(readme, str) or not (REPO / readme).is_file():
        errors.append(f"{SAR_KEY}.ReadmeUrl {readme!r} is not a file of the repository")
    return errors


def check(sam: dict, root: Path) -> list[str]:
    contract = load_contract(root)
    cfn = transform(sam)
    ref = iam_reference()
    errors: list[str] = []
    for label, overrides in (("defaults", {}), ("all options on", ALL_ON),
                             ("readiness disabled", {"ReadinessSchedule": "disabled"})):
        ev = Evaluator(cfn, {k: v for k, v in overrides.items() if k in cfn.get("Parameters", {})})
        found = check_iam(cfn, ev, ref, contract) + check_functions(cfn, ev) + check_environment(sam, cfn, ev, contract)
        found += check_alarms_and_outputs(cfn, ev) + check_ledger(cfn, ev) + check_readiness(cfn, ev)
        found += check_dashboard(cfn, ev) + check_alarm_routing(cfn, ev)
        errors += [f"[{label}] {e}" for e in found if f"[defaults] {e}" not in errors]
    return errors + check_sar(sam)


# ------------------------------------------------------------------------------------------------ self-tests

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
REAL_CONTRACT = TEMPLATE.parent / CONTRACT_FILE


class SelfTest(unittest.TestCase):
    """Each rule is shown to fire on a template broken in exactly one way, against a workspace holding a copy of
    the settings contract (so these tests do not depend on the Rust code)."""

    @classmethod
    def setUpClass(cls):
        cls.sam = load_sam(TEMPLATE)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        cls.write_contract(json.loads(REAL_CONTRACT.read_text()))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def write_contract(cls, contract: dict, root: Path | None = None):
        path = (root or cls.root) / CONTRACT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(contract))

    def errors(self, mutate=None, root=None):
        sam = copy.deepcopy(self.sam)
        if mutate:
            mutate(sam)
        return check(sam, root or self.root)

    def assert_fails(self, errors, fragment):
        self.assertTrue(any(fragment in e for e in errors), f"expected an error containing {fragment!r}, got {errors}")

    def add_statement(self, sam, statement):
        sam["Resources"]["TargetFailoverRole"]["Properties"]["Policies"].append(
            {"PolicyName": "bad", "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}})

    def test_the_real_template_passes_against_the_contract(self):
        self.assertEqual(self.errors(), [])

    def test_with_cross_region_the_database_role_may_use_each_regions_ledger_and_no_other_table(self):
        cfn = transform(copy.deepcopy(self.sam))
        for overrides, cross in (({}, False), (ALL_ON, True)):
            ev = Evaluator(cfn, overrides)
            west = f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/{ev.table_name('LedgerTable')}"
            with self.subTest(cross=cross):
                self.assertTrue(ev.table_name("LedgerTable").startswith(STACK), "the table is named after the stack")
                self.assertEqual(allowed_on(cfn, ev, "DatabaseFailoverRole", "dynamodb:Query", west), cross)
                named = ALL_ON["HomeLedgerTables"]
                self.assertEqual(allowed_on(cfn, ev, "DatabaseFailoverRole", "dynamodb:PutItem", named), cross)
                self.assertFalse(allowed_on(cfn, ev, "TargetFailoverRole", "dynamodb:Query", west))
                other = f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/other"
                self.assertFalse(allowed_on(cfn, ev, "DatabaseFailoverRole", "dynamodb:Query", other))

    def test_an_alarm_rule_that_misses_per_zone_alarms_fails(self):
        def narrow(sam):
            pattern = sam["Resources"]["TargetFailoverFunction"]["Properties"]["Events"]["AlarmStateChange"][
                "Properties"]["Pattern"]
            pattern["detail"]["alarmName"] = [{"prefix": "failover-web"}]  # the target-group alarms' names only
        self.assert_fails(self.errors(narrow), "does not match the per-zone alarm events/alarm-eventbridge-zone.json")

    def test_an_alarm_rule_open_to_other_accounts_fails(self):
        def widen(sam):
            del sam["Resources"]["DatabaseFailoverFunction"]["Properties"]["Events"]["AlarmStateChange"][
                "Properties"]["Pattern"]["account"]
        self.assert_fails(self.errors(widen), "DatabaseFailoverFunction: its alarm rule matches another account's")

    def test_mutating_action_on_star_without_tag_condition_fails(self):
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "elasticloadbalancing:DeregisterTargets", "Resource": "*"}))
        self.assert_fails(errs, "mutating action elasticloadbalancing:DeregisterTargets on *")

    def test_mutating_action_on_wildcard_arn_without_tag_condition_fails(self):
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "rds:PromoteReadReplica",
                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"}}))
        self.assert_fails(errs, "mutating action rds:PromoteReadReplica")

    def test_tags_on_create_only_with_the_opt_in_set_and_no_other_key(self):
        def grant(condition):
            return lambda s: self.add_statement(s, {
                "Effect": "Allow", "Action": ["rds:CreateDBInstanceReadReplica", "rds:AddTagsToResource"],
                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"},
                "Condition": condition})
        ok = {"StringEquals": {"aws:RequestTag/failover:enabled": "true"},
              "ForAllValues:StringEquals": {"aws:TagKeys": ["failover:enabled", "failover:priority"]}}
        self.assert_fails(self.errors(grant(ok)), "rds:AddTagsToResource writes tags")  # on every db:*
        named = lambda s: self.add_statement(s, {
            "Effect": "Allow", "Action": "rds:AddTagsToResource",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-r??????????"},
            "Condition": ok})
        self.assertEqual([e for e in self.errors(named) if "AddTagsToResource" in e], [])
        any_key = {"StringEquals": {"aws:RequestTag/failover:enabled": "true"}}
        self.assert_fails(self.errors(grant(any_key)), "rds:AddTagsToResource writes tags")
        other_key = {**ok, "ForAllValues:StringEquals": {"aws:TagKeys": ["failover:enabled", "owner"]}}
        self.assert_fails(self.errors(grant(other_key)), "rds:AddTagsToResource writes tags")

    def test_service_wildcard_action_fails(self):
        errs = self.errors(lambda s: self.add_statement(s, {"Effect": "Allow", "Action": "rds:*", "Resource": "*"}))
        self.assert_fails(errs, "mutating action rds:*")

    def test_condition_on_another_tag_key_fails(self):
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "elasticloadbalancing:RegisterTargets", "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "true"}}}))
        self.assert_fails(errs, "mutating action elasticloadbalancing:RegisterTargets")

    def test_tag_condition_on_a_resource_type_without_tag_support_fails(self):
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "route53:ChangeResourceRecordSets",
                "Resource": "arn:aws:route53:::hostedzone/*",
                "Condition": {"StringEquals": {"aws:ResourceTag/failover:enabled": "true"}}}))
        self.assert_fails(errs, "does not support aws:ResourceTag")

    def test_any_tag_writing_action_fails_even_conditioned_and_excluding_the_opt_in_key(self):
        for action in ("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags", "rds:AddTagsToResource",
                       "rds:RemoveTagsFromResource"):
            with self.subTest(action):
                errs = self.errors(lambda s: self.add_statement(
                    s, {"Effect": "Allow", "Action": action,
                        "Resource": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/*/*",
                        "Condition": {"StringEquals": {"aws:ResourceTag/failover:enabled": "true"},
                                      "ForAllValues:StringNotEquals": {"aws:TagKeys": ["failover:enabled"]}}}))
                self.assert_fails(errs, f"{action} writes tags")

    def test_a_tag_conditioned_grant_on_a_resource_type_spelled_in_capitals_is_checked(self):
        # ARC's reference names its resource types "ALB" and "NLB" and keys them "alb" and "nlb".
        elb = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "arc-zonal-shift:StartZonalShift",
                "Resource": [f"{elb}:loadbalancer/app/*/*", f"{elb}:loadbalancer/net/*/*"],
                "Condition": {"StringEquals": {"aws:ResourceTag/failover:enabled": "true"}}}))
        self.assertEqual(errs, [])
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "arc-zonal-shift:StartZonalShift", "Resource": "*"}))
        self.assert_fails(errs, "mutating action arc-zonal-shift:StartZonalShift on *")

    def test_proxy_targets_on_any_target_group_only_beside_the_opt_in_grant_on_proxy_and_instance(self):
        def policy(sam):
            for p in sam["Resources"]["DatabaseFailoverRole"]["Properties"]["Policies"]:
                if p.get("PolicyName") == "rds-act-on-opted-in":
                    return p
            raise AssertionError("no rds-act-on-opted-in policy")

        def edit(change):
            def mutate(sam):
                doc = policy(sam)["PolicyDocument"]
                text, variables = doc["Fn::Sub"]
                doc["Fn::Sub"] = [change(text), variables]
            return mutate
        tagged = '"Resource": ["${Rds}:db-proxy:*", "${Rds}:db:*"],'
        self.assertIn(tagged, policy(self.sam)["PolicyDocument"]["Fn::Sub"][0])
        # Without the opt-in grant on the proxy and the instance, the untagged target-group grant is refused.
        self.assert_fails(self.errors(edit(lambda t: t.replace(tagged, '"Resource": ["${Rds}:db:*"],'))),
                          "proxy targets on any target group without a statement")
        # The exception is for target groups and these two actions only.
        wider = edit(lambda t: t.replace('"Resource": "${Rds}:target-group:*"', '"Resource": "${Rds}:*"'))
        self.assert_fails(self.errors(wider), "mutating action rds:RegisterDBProxyTargets")
        def statement(sid, change):
            def edited(text):
                doc = json.loads(text)
                for st in doc["Statement"]:
                    if st.get("Sid") == sid:
                        change(st)
                return json.dumps(doc)
            return edit(edited)
        more = statement("TargetGroupsOfOptInProxies", lambda st: st["Action"].append("rds:DeleteDBProxy"))
        self.assert_fails(self.errors(more), "mutating action rds:DeleteDBProxy")

    def test_set_instance_health_without_the_groups_opt_in_condition_fails(self):
        group = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*"
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "autoscaling:SetInstanceHealth", "Resource": group}))
        self.assert_fails(errs, "mutating action autoscaling:SetInstanceHealth")
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "autoscaling:SetInstanceHealth", "Resource": group,
                "Condition": {"StringEquals": {"autoscaling:ResourceTag/failover:enabled": "true"}}}))
        self.assertEqual(errs, [], "the service's own tag key holds on an Auto Scaling group")

    def test_unknown_action_fails(self):
        errs = self.errors(lambda s: self.add_statement(
            s, {"Effect": "Allow", "Action": "elasticloadbalancing:DescribeTargetHealthz", "Resource": "*"}))
        self.assert_fails(errs, "unknown action elasticloadbalancing:DescribeTargetHealthz")

    def test_managed_policy_fails(self):
        def mutate(s):
            s["Resources"]["DatabaseFailoverRole"]["Properties"]["ManagedPolicyArns"] = [
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
        self.assert_fails(self.errors(mutate), "managed policies cannot be checked offline")

    def test_function_without_dead_letter_destination_fails(self):
        def mutate(s):
            del s["Globals"]["Function"]["EventInvokeConfig"]["DestinationConfig"]
        self.assert_fails(self.errors(mutate), "DatabaseFailoverFunction: the on-failure destination must be")

    def test_function_without_event_invoke_config_fails(self):
        def mutate(s):
            del s["Globals"]["Function"]["EventInvokeConfig"]
        self.assert_fails(self.errors(mutate), "TargetFailoverFunction: no EventInvokeConfig")

    def test_unencrypted_dead_letter_queue_fails(self):
        def mutate(s):
            del s["Resources"]["DeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"]
        self.assert_fails(self.errors(mutate), "is not encrypted")

    def test_function_without_reserved_concurrency_fails(self):
        def mutate(s):
            del s["Globals"]["Function"]["ReservedConcurrentExecutions"]
        self.assert_fails(self.errors(mutate), "TargetFailoverFunction: ReservedConcurrentExecutions must be set")

    def test_env_var_the_function_does_not_read_fails(self):
        def mutate(s):
            s["Resources"]["TargetFailoverFunction"]["Properties"]["Environment"]["Variables"]["STALE"] = "x"
        self.assert_fails(self.errors(mutate), "the template sets STALE")

    def test_env_var_the_template_does_not_set_fails(self):
        with tempfile.TemporaryDirectory() as other:
            contract = json.loads(REAL_CONTRACT.read_text())
            contract["database-failover"].append({"name": "NEW_SETTING", "default": "x", "meaning": "new"})
            self.write_contract(contract, Path(other))
            self.assert_fails(self.errors(root=Path(other)), "the function reads NEW_SETTING")

    def test_a_missing_or_malformed_contract_fails_with_a_clear_message(self):
        with tempfile.TemporaryDirectory() as other:
            with self.assertRaisesRegex(CheckError, "settings.json: missing"):
                self.errors(root=Path(other))
            (Path(other) / "docs").mkdir()
            (Path(other) / CONTRACT_FILE).write_text("{")
            with self.assertRaisesRegex(CheckError, "not JSON"):
                self.errors(root=Path(other))
            (Path(other) / CONTRACT_FILE).write_text('{"target-failover": ["DRY_RUN"]}')
            with self.assertRaisesRegex(CheckError, "expected"):
                self.errors(root=Path(other))
            contract = json.loads(REAL_CONTRACT.read_text())
            del contract["database-failover"]
            self.write_contract(contract, Path(other))
            self.assert_fails(self.errors(root=Path(other)), "has no function 'database-failover'")

    def test_parameter_default_that_differs_from_the_functions_fails(self):
        def mutate(s):
            s["Parameters"]["MinHealthyPercent"]["Default"] = 40
        self.assert_fails(self.errors(mutate), "defaults to '40'")

    def test_a_dashboard_missing_a_required_view_fails(self):
        def body(s):
            return s["Resources"]["Dashboard"]["Properties"]["DashboardBody"]

        def drop(fragment):
            def mutate(s):
                text = body(s)["Fn::Sub"] if isinstance(body(s), dict) else body(s)
                widgets = json.loads(re.sub(r"\$\{[^}]+\}", "0", text))["widgets"]
                assert any(fragment in json.dumps(w) for w in widgets), fragment
                kept = [i for i, w in enumerate(widgets) if fragment not in json.dumps(w)]
                # Rebuild from the original text so the substitutions stay; widgets are one per top-level entry.
                original = json.loads(re.sub(r"\$\{([^}]+)\}", r"@@\1@@", text))["widgets"]
                new = json.dumps({"widgets": [original[i] for i in kept]})
                s["Resources"]["Dashboard"]["Properties"]["DashboardBody"] = {"Fn::Sub": re.sub(r"@@([^@]+)@@", r"${\1}", new)}
            return mutate

        cases = [
            ("Throttles", "TargetFailoverFunction's Throttles"),
            ("p99", "Duration at p99"),
            ("Last 20 decisions", "the last 20 decisions"),
            ("ApproximateNumberOfMessagesVisible", "DeadLetterQueue's depth"),
            ("Refusals", "outcome refused"),
            ("Actions by outcome", "Failover Actions by outcome"),
            ("Time to mitigate", "Failover TimeToMitigate"),
            ("Time to recover", "Failover TimeToRecover"),
        ]
        for fragment, error in cases:
            with self.subTest(fragment=fragment):
                self.assert_fails(self.errors(drop(fragment)), error)

    def test_a_dashboard_body_that_is_not_json_or_absent_fails(self):
        def broken(s):
            s["Resources"]["Dashboard"]["Properties"]["DashboardBody"] = {"Fn::Sub": "{not json ${AWS::Region}"}
        self.assert_fails(self.errors(broken), "DashboardBody is not JSON")
        self.assert_fails(self.errors(lambda s: s["Resources"].pop("Dashboard")), "exactly one AWS::CloudWatch::Dashboard")

    def test_missing_error_alarm_fails(self):
        def mutate(s):
            del s["Resources"]["DatabaseFailoverErrorsAlarm"]
        self.assert_fails(self.errors(mutate), "DatabaseFailoverFunction: no alarm on its Errors")

    def test_a_ledger_without_pitr_encryption_ttl_or_retain_fails(self):
        props = lambda s: s["Resources"]["LedgerTable"]["Properties"]  # noqa: E731
        cases = [
            (lambda s: props(s).pop("PointInTimeRecoverySpecification"), "point-in-time recovery is not enabled"),
            (lambda s: props(s)["SSESpecification"].update(SSEEnabled=False), "encryption at rest"),
            (lambda s: props(s).pop("TimeToLiveSpecification"), "TTL must be enabled on expires_at"),
            (lambda s: props(s)["TimeToLiveSpecification"].update(AttributeName="ttl"), "TTL must be enabled"),
            (lambda s: s["Resources"]["LedgerTable"].pop("DeletionPolicy"), "DeletionPolicy must be Retain"),
            (lambda s: props(s).update(BillingMode="PROVISIONED", ProvisionedThroughput={
                "ReadCapacityUnits": 1, "WriteCapacityUnits": 1}), "PAY_PER_REQUEST"),
            (lambda s: props(s)["KeySchema"].reverse(), "key schema must be pk"),
            (lambda s: s["Resources"].update(OtherTable=copy.deepcopy(s["Resources"]["LedgerTable"])),
             "expected one DynamoDB table"),
            (lambda s: s["Globals"]["Function"]["Environment"]["Variables"].update(LEDGER_TABLE="t"),
             "LEDGER_TABLE must be Ref to the stack's ledger table"),
            (lambda s: self.add_statement(s, {"Effect": "Allow", "Action": "dynamodb:Scan",
                                              "Resource": {"Fn::GetAtt": ["LedgerTable", "Arn"]}}),
             "beyond the ledger's item-level ones: dynamodb:Scan"),
            (lambda s: self.add_statement(s, {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}),
             "not only the ledger LedgerTable"),
            (lambda s: self.add_statement(s, {"Effect": "Allow", "Action": "dynamodb:GetItem",
                                              "Resource": "arn:aws:dynamodb:*:123456789012:table/other"}),
             "not only the ledger LedgerTable"),
            (lambda s: self.add_statement(s, {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": {
                "Fn::Sub": "arn:aws:dynamodb:*:123456789012:table/${LedgerTable}"}}),
             "[defaults] TargetFailoverRole/bad: DynamoDB actions on"),
        ]
        for mutate, fragment in cases:
            with self.subTest(fragment):
                self.assert_fails(self.errors(mutate), fragment)

    def test_a_missing_or_always_on_readiness_schedule_fails(self):
        event = lambda s: s["Resources"]["DatabaseFailoverFunction"]["Properties"]["Events"]["Readiness"]  # noqa: E731
        cases = [
            (lambda s: s["Resources"]["DatabaseFailoverFunction"]["Properties"]["Events"].pop("Readiness"),
             "DatabaseFailoverFunction: expected one schedule delivering"),
            (lambda s: event(s)["Properties"].update(State="ENABLED"),
             "[readiness disabled] DatabaseFailoverFunction: ReadinessSchedule=disabled leaves"),
            (lambda s: event(s)["Properties"].update(Schedule="rate(7 days)"), "is not ReadinessSchedule"),
            (lambda s: event(s)["Properties"].pop("DeadLetterConfig"), "its readiness schedule has no dead-letter"),
            (lambda s: s["Parameters"]["ReadinessSchedule"].update(Default="rate(1 hour)"), "must default to"),
        ]
        for mutate, fragment in cases:
            with self.subTest(fragment):
                self.assert_fails(self.errors(mutate), fragment)

    def test_serverless_repo_metadata_that_sar_would_refuse_fails(self):
        app = lambda s: s["Metadata"][SAR_KEY]  # noqa: E731
        cases = [
            (lambda s: s["Metadata"].pop(SAR_KEY), "Metadata has no AWS::ServerlessRepo::Application"),
            (lambda s: app(s).update(Author="Failover Team"), "Author 'Failover Team' is missing or not within"),
            (lambda s: app(s).pop("Description"), "Description None is missing"),
            (lambda s: app(s).update(SemanticVersion="9.9.9"), "SemanticVersion '9.9.9' is not the workspace's"),
            (lambda s: app(s).update(ReadmeUrl="NOPE.md"), "ReadmeUrl 'NOPE.md' is not a file"),
        ]
        for mutate, fragment in cases:
            with self.subTest(fragment):
                self.assert_fails(self.errors(mutate), fragment)

    def test_a_contract_default_that_the_template_does_not_share_fails(self):
        with tempfile.TemporaryDirectory() as other:
            contract = json.loads(REAL_CONTRACT.read_text())
            for setting in contract["target-failover"]:
                if setting["name"] == "MIN_HEALTHY_TARGETS":
                    setting["default"] = "2"
            self.write_contract(contract, Path(other))
            self.assert_fails(self.errors(root=Path(other)), "the functions to '2'")


# ------------------------------------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--root", type=Path, default=None, help="workspace root (default: the template's folder)")
    parser.add_argument("--self-test", action="store_true", help="run the checker's own tests")
    args = parser.parse_args()
    if args.self_test:
        result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
        return 0 if result.wasSuccessful() else 1
    root = args.root or args.template.resolve().parent
    try:
        errors = check(load_sam(args.template), root)
    except CheckError as exc:
        print(f"check_template: {exc}", file=sys.stderr)
        return 1
    for error in errors:
        print(f"check_template: {error}", file=sys.stderr)
    if errors:
        print(f"check_template: {len(errors)} violation(s) in {args.template}", file=sys.stderr)
        return 1
    print(f"check_template: {args.template.name} passes (IAM, dead-letter, concurrency, environment, alarms, "
          "readiness schedule, dashboard)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
