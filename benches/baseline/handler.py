"""The target-group scenario as a user would write it without this project: a Python Lambda handler with boto3.

A CloudWatch alarm on a target group (EventBridge delivery) enters ALARM: read the group's tags (opt-in),
its target health, keep at least ``max(MIN_HEALTHY_TARGETS, MIN_HEALTHY_PERCENT% of registered)`` healthy
targets, deregister the unhealthy ones and publish a notification. The same AWS calls as ``target-failover``
makes for this scenario (DescribeTags, DescribeTargetHealth, DeregisterTargets, sns:Publish), so the two are
compared on equal work. Clients are created at import, once per cold start, as the AWS guidance says.
Benchmark only (``benches/bench.py``); not part of the product.
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


def handler(event, context):
    detail = event.get("detail") or {}
    if event.get("source") != "aws.cloudwatch" or (detail.get("state") or {}).get("value") != "ALARM":
        return {"status": "skipped", "reason": "not an alarm entering ALARM"}
    groups = []
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
        dimensions = ((metric.get("metricStat") or {}).get("metric") or {}).get("dimensions") or {}
        if "TargetGroup" in dimensions:
            groups.append(f"arn:aws:elasticloadbalancing:{event['region']}:{event['account']}:"
                          f"{dimensions['TargetGroup']}")
    if not groups:
        return {"status": "skipped", "reason": "no TargetGroup dimension"}
    results = []
    tags = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]}
            for d in elbv2.describe_tags(ResourceArns=groups)["TagDescriptions"]}
    for arn in groups:
        if tags.get(arn, {}).get(OPT_IN_TAG_KEY) != "true":
            results.append({"group": arn, "status": "skipped", "reason": "not opted in"})
            continue
        health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        unhealthy = [h["Target"] for h in health if h["TargetHealth"]["State"] == "unhealthy"]
        healthy = sum(1 for h in health if h["TargetHealth"]["State"] == "healthy")
        floor = max(MIN_HEALTHY_TARGETS, math.ceil(MIN_HEALTHY_PERCENT * len(health) / 100), 1)
        if not unhealthy:
            results.append({"group": arn, "status": "skipped", "reason": "no unhealthy target"})
            continue
        if healthy < floor:
            status = "refused"
        else:
            elbv2.deregister_targets(TargetGroupArn=arn, Targets=unhealthy)
            status = "succeeded"
        message = {"group": arn, "status": status, "targets": [t["Id"] for t in unhealthy],
                   "healthy": healthy, "registered": len(health), "floor": floor}
        sns.publish(TopicArn=TOPIC_ARN, Subject=f"target-failover: {status}", Message=json.dumps(message))
        results.append(message)
    return {"status": "done", "groups": results}
