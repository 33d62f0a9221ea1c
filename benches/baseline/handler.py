"""The target-group scenarios as a user would write them without this project: a Python Lambda handler with boto3.

A CloudWatch alarm (EventBridge delivery) enters ALARM:
  * on a target group (``TargetGroup`` dimension): read the group's tags (opt-in), its target health, keep at
    least ``max(MIN_HEALTHY_TARGETS, MIN_HEALTHY_PERCENT% of registered)`` healthy targets, deregister the
    unhealthy ones;
  * on an instance (``InstanceId`` dimension): list the target groups (DescribeTargetGroups), read their tags
    (20 per DescribeTags), and in each opted-in group that has the instance registered (DescribeTargetHealth)
    deregister it, the same floor kept;
then publish one notification. The same AWS calls as ``target-failover`` makes for these scenarios, less its
ledger and its zonal reads, so the two are compared on the same work. Clients are created at import, once per
cold start, as the AWS guidance says. Benchmark only (``benches/bench.py``); not part of the product.
"""

import json
import math
import os

import boto3

elbv2 = boto3.client("elbv2")
sns = boto3.client("sns")

TOPIC_ARN = os.environ["NOTIFICATION_TOPIC_ARN"]
OPT_IN_TAG_KEY = os.environ.get("OPT_IN_TAG_KEY", "failover:enabled")
MIN_HEALTHY_TARGETS = int(os.environ.get("MIN_HEALTHY_TARGETS", "1"))
MIN_HEALTHY_PERCENT = int(os.environ.get("MIN_HEALTHY_PERCENT", "50"))
TAGS_PER_CALL = 20


def handler(event, context):
    detail = event.get("detail") or {}
    if event.get("source") != "aws.cloudwatch" or (detail.get("state") or {}).get("value") != "ALARM":
        return {"status": "skipped", "reason": "not an alarm entering ALARM"}
    groups, instances = [], []
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
        dimensions = ((metric.get("metricStat") or {}).get("metric") or {}).get("dimensions") or {}
        if "TargetGroup" in dimensions:
            groups.append(f"arn:aws:elasticloadbalancing:{event['region']}:{event['account']}:"
                          f"{dimensions['TargetGroup']}")
        if "InstanceId" in dimensions:
            instances.append(dimensions["InstanceId"])
    if instances and not groups:
        groups = [g["TargetGroupArn"] for page in elbv2.get_paginator("describe_target_groups").paginate()
                  for g in page["TargetGroups"] if g.get("TargetType") == "instance"]
    if not groups:
        return {"status": "skipped", "reason": "no TargetGroup or InstanceId dimension"}
    tags = {}
    for start in range(0, len(groups), TAGS_PER_CALL):
        for d in elbv2.describe_tags(ResourceArns=groups[start:start + TAGS_PER_CALL])["TagDescriptions"]:
            tags[d["ResourceArn"]] = {t["Key"]: t["Value"] for t in d["Tags"]}
    results = []
    for arn in groups:
        if tags.get(arn, {}).get(OPT_IN_TAG_KEY) != "true":
            if not instances:
                results.append({"group": arn, "status": "skipped", "reason": "not opted in"})
            continue
        result = remove(arn, instances)
        if result:
            results.append(result)
    acted = [r for r in results if r["status"] != "skipped"]
    if acted:
        status = "succeeded" if any(r["status"] == "succeeded" for r in acted) else "refused"
        sns.publish(TopicArn=TOPIC_ARN, Subject=f"target-failover: {status}", Message=json.dumps(acted))
    return {"status": "done", "groups": results}


def remove(arn, instances):
    """The group's accused targets (the named instances, else the unhealthy ones) deregistered if the floor
    allows; None for an instance alarm on a group without the instance."""
    health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    if instances:
        accused = [h for h in health if h["Target"]["Id"] in instances]
        if not accused:
            return None
    else:
        accused = [h for h in health if h["TargetHealth"]["State"] == "unhealthy"]
    if not accused:
        return {"group": arn, "status": "skipped", "reason": "no unhealthy target"}
    healthy = sum(1 for h in health if h["TargetHealth"]["State"] == "healthy")
    healthy_after = healthy - sum(1 for h in accused if h["TargetHealth"]["State"] == "healthy")
    floor = max(MIN_HEALTHY_TARGETS, math.ceil(MIN_HEALTHY_PERCENT * len(health) / 100), 1)
    targets = [h["Target"] for h in accused]
    if healthy_after < floor:
        status = "refused"
    else:
        elbv2.deregister_targets(TargetGroupArn=arn, Targets=targets)
        status = "succeeded"
    return {"group": arn, "status": status, "targets": [t["Id"] for t in targets], "healthy": healthy,
            "registered": len(health), "floor": floor}
