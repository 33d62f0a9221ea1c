"""Tests for the local AWS's ARC zonal shift (tools/local_aws/arc_zonal_shift.py) and Auto Scaling instance
replacement (tools/local_aws/autoscaling.py), through boto3 against the launcher started by its real command line:
`.venv/bin/python -m unittest tools/test_arc_zonal_shift.py -v`.

Each test works in its own account (a 12-digit access key id), so tests never see each other's resources.
"""

from __future__ import annotations

import json
import os
import sys
import time
import unittest
import urllib.error
import urllib.request

from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_local_aws import LauncherCase  # noqa: E402  (tools/, beside this file)

ENABLED = "zonal_shift.config.enabled"


class LauncherTest(LauncherCase):
    def error(self, fn, **kwargs) -> dict:
        """The error response of a call that must fail."""
        with self.assertRaises(ClientError) as ctx:
            fn(**kwargs)
        return ctx.exception.response


class ArcZonalShiftTest(LauncherTest):
    def setUp(self):
        super().setUp()
        self.arc = self.client("arc-zonal-shift")
        self.elb = self.client("elbv2")
        subnets = sorted(self.client("ec2").describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
        self.subnets = subnets[:3]
        self.zone_ids = [s["AvailabilityZoneId"] for s in self.subnets]  # us-east-1a, b, c

    def load_balancer(self, name: str = "web", registered: bool = True, zones: int = 3) -> str:
        arn = self.elb.create_load_balancer(
            Name=name, Subnets=[s["SubnetId"] for s in self.subnets[:zones]])["LoadBalancers"][0]["LoadBalancerArn"]
        if registered:
            self.elb.modify_load_balancer_attributes(
                LoadBalancerArn=arn, Attributes=[{"Key": ENABLED, "Value": "true"}])
        return arn

    def start(self, arn: str, zone: str, expires: str = "2h", comment: str = "test") -> dict:
        return self.arc.start_zonal_shift(resourceIdentifier=arn, awayFrom=zone, expiresIn=expires, comment=comment)

    def resource(self, arn: str, client=None) -> dict:
        result = (client or self.arc).get_managed_resource(resourceIdentifier=arn)
        result.pop("ResponseMetadata")
        return result

    # ------------------------------------------------------------------ registration and zones

    def test_moto_stores_the_zonal_shift_attribute(self):
        arn = self.load_balancer(registered=False)
        self.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": ENABLED, "Value": "true"}])
        attrs = {a["Key"]: a["Value"] for a in self.elb.describe_load_balancer_attributes(
            LoadBalancerArn=arn)["Attributes"]}
        self.assertEqual(attrs[ENABLED], "true")

    def test_a_load_balancer_not_registered_is_not_found(self):
        arn = self.load_balancer(registered=False)
        for call in (lambda: self.arc.get_managed_resource(resourceIdentifier=arn),
                     lambda: self.start(arn, self.zone_ids[0])):
            response = self.error(call)
            self.assertEqual(response["Error"]["Code"], "ResourceNotFoundException")
            self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 404)
            self.assertIn(ENABLED, response["Error"]["Message"])
        self.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": ENABLED, "Value": "false"}])
        self.assertEqual(self.error(lambda: self.resource(arn))["Error"]["Code"], "ResourceNotFoundException")
        missing = arn.rsplit("/", 1)[0] + "/0123456789abcdef"
        self.assertEqual(self.error(lambda: self.resource(missing))["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual(self.arc.list_zonal_shifts()["items"], [])

    def test_managed_resource_reports_the_zones_by_az_id(self):
        arn = self.load_balancer()
        self.assertEqual(self.resource(arn), {
            "arn": arn, "name": "web",
            "appliedWeights": {z: 1.0 for z in self.zone_ids},
            "zonalShifts": [], "autoshifts": [], "zonalAutoshiftStatus": "DISABLED",
        })
        names = {z["ZoneId"]: z["ZoneName"] for z in self.client("ec2").describe_availability_zones()[
            "AvailabilityZones"]}
        self.assertEqual([names[z] for z in self.zone_ids], ["us-east-1a", "us-east-1b", "us-east-1c"])

    def test_control_instances_in_a_chosen_zone(self):
        ids = self.ok("POST", "/_failover/ec2/instances", {"account": self.account, "count": 2,
                                                           "zone": "us-east-1b"})["instance_ids"]
        reservations = self.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
        placed = {(i["Placement"]["AvailabilityZone"], i["SubnetId"]) for r in reservations for i in r["Instances"]}
        self.assertEqual(placed, {("us-east-1b", self.subnets[1]["SubnetId"])})
        for zone in ("us-east-1z", "use1-az1", ""):
            status, result = self.control("POST", "/_failover/ec2/instances", {"account": self.account, "zone": zone})
            self.assertEqual(status, 400, result)
        self.assertEqual(len(self.client("ec2").describe_instances()["Reservations"]), 1)

    def test_state_is_per_account_and_region(self):
        arn = self.load_balancer()
        self.start(arn, self.zone_ids[0])
        other_account = self.client("arc-zonal-shift", account="999999999999")
        self.assertEqual(other_account.list_zonal_shifts()["items"], [])
        self.assertEqual(self.error(lambda: self.resource(arn, other_account))["Error"]["Code"],
                         "ResourceNotFoundException")
        self.assertEqual(self.client("arc-zonal-shift", region="us-west-2").list_zonal_shifts()["items"], [])
        self.assertEqual(len(self.arc.list_zonal_shifts()["items"]), 1)

    # ------------------------------------------------------------------ the life of a shift

    def test_start_list_get_and_cancel(self):
        arn = self.load_balancer()
        before = time.time()
        started = self.start(arn, self.zone_ids[1], "2h", "target-failover: alarm web-5xx-use1-az1")
        self.assertEqual(started["ResponseMetadata"]["HTTPStatusCode"], 201)
        shift_id = started["zonalShiftId"]
        self.assertEqual((started["resourceIdentifier"], started["awayFrom"], started["status"], started["comment"]),
                         (arn, self.zone_ids[1], "ACTIVE", "target-failover: alarm web-5xx-use1-az1"))
        self.assertLessEqual(before - 1, started["startTime"].timestamp())
        self.assertAlmostEqual((started["expiryTime"] - started["startTime"]).total_seconds(), 7200, delta=1)

        [item] = self.arc.list_zonal_shifts(resourceIdentifier=arn)["items"]
        self.assertEqual((item["zonalShiftId"], item["status"], item["shiftType"]), (shift_id, "ACTIVE", "ZONAL_SHIFT"))
        resource = self.resource(arn)
        self.assertEqual(resource["appliedWeights"], {z: 0.0 if z == self.zone_ids[1] else 1.0 for z in self.zone_ids})
        [in_resource] = resource["zonalShifts"]
        self.assertEqual((in_resource["zonalShiftId"], in_resource["appliedStatus"], in_resource["awayFrom"]),
                         (shift_id, "APPLIED", self.zone_ids[1]))

        cancelled = self.arc.cancel_zonal_shift(zonalShiftId=shift_id)
        self.assertEqual((cancelled["zonalShiftId"], cancelled["status"]), (shift_id, "CANCELED"))
        self.assertEqual([i["status"] for i in self.arc.list_zonal_shifts()["items"]], ["CANCELED"])
        self.assertEqual(self.arc.list_zonal_shifts(status="ACTIVE")["items"], [])
        self.assertEqual(self.resource(arn)["zonalShifts"], [])
        self.assertEqual(set(self.resource(arn)["appliedWeights"].values()), {1.0})

        again = self.error(self.arc.cancel_zonal_shift, zonalShiftId=shift_id)
        self.assertEqual((again["Error"]["Code"], again["reason"], again["ResponseMetadata"]["HTTPStatusCode"]),
                         ("ConflictException", "ZonalShiftStatusNotActive", 409))
        unknown = self.error(self.arc.cancel_zonal_shift, zonalShiftId="00000000-0000-0000-0000-000000000000")
        self.assertEqual(unknown["Error"]["Code"], "ResourceNotFoundException")

    def test_target_health_shows_the_zonal_shift_as_an_administrative_override(self):
        arn = self.load_balancer(zones=2)
        tg = self.elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=self.subnets[0]["VpcId"],
                                          TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        self.elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80,
                                 DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        in_a, in_b = (self.ok("POST", "/_failover/ec2/instances", {"account": self.account, "zone": zone})[
            "instance_ids"][0] for zone in ("us-east-1a", "us-east-1b"))
        self.elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": in_a}, {"Id": in_b}])

        def overrides() -> dict:
            return {d["Target"]["Id"]: d["AdministrativeOverride"]["State"]
                    for d in self.elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}

        self.assertEqual(overrides(), {in_a: "no_override", in_b: "no_override"})
        shift_id = self.start(arn, self.zone_ids[1])["zonalShiftId"]
        self.assertEqual(overrides(), {in_a: "no_override", in_b: "zonal_shift_active"})
        health = self.elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        self.assertEqual({d["TargetHealth"]["State"] for d in health}, {"healthy"}, "the override leaves the state")
        self.arc.cancel_zonal_shift(zonalShiftId=shift_id)
        self.assertEqual(overrides(), {in_a: "no_override", in_b: "no_override"})
        self.ok("POST", "/_failover/arc/autoshift", {"account": self.account, "away_from": self.zone_ids[0],
                                                    "resource_identifiers": [arn]})
        self.assertEqual(overrides(), {in_a: "zonal_shift_active", in_b: "no_override"})

    def test_one_active_shift_per_resource(self):
        arn, other = self.load_balancer("web"), self.load_balancer("api")
        first = self.start(arn, self.zone_ids[0])["zonalShiftId"]
        for zone in self.zone_ids[:2]:
            conflict = self.error(self.start, arn=arn, zone=zone)
            self.assertEqual(conflict["ResponseMetadata"]["HTTPStatusCode"], 409)
            self.assertEqual(conflict["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"], "ConflictException")
            self.assertEqual((conflict["Error"]["Code"], conflict["reason"], conflict["zonalShiftId"]),
                             ("ConflictException", "ZonalShiftAlreadyExists", first))
        self.start(other, self.zone_ids[1])  # another resource is not blocked
        self.assertEqual([i["zonalShiftId"] for i in self.arc.list_zonal_shifts(resourceIdentifier=arn)["items"]],
                         [first])
        self.arc.cancel_zonal_shift(zonalShiftId=first)
        second = self.start(arn, self.zone_ids[1])["zonalShiftId"]
        self.assertEqual([(i["zonalShiftId"], i["status"]) for i in
                          self.arc.list_zonal_shifts(resourceIdentifier=arn)["items"]],
                         [(first, "CANCELED"), (second, "ACTIVE")])

    def test_bad_expires_in_or_zone_is_a_validation_error_and_changes_nothing(self):
        arn = self.load_balancer(zones=2)
        for expires in ("0m", "30", "30s", "90", "73h", "4321m", "1d", "01h"):
            response = self.error(self.start, arn=arn, zone=self.zone_ids[0], expires=expires)
            self.assertEqual((response["Error"]["Code"], response["reason"],
                              response["ResponseMetadata"]["HTTPStatusCode"]),
                             ("ValidationException", "InvalidExpiresIn", 400), expires)
        for zone in ("us-east-1a", self.zone_ids[2], "use1-az99"):  # a name, a zone the LB is not in, no zone
            response = self.error(self.start, arn=arn, zone=zone)
            self.assertEqual((response["Error"]["Code"], response["reason"]), ("ValidationException", "InvalidAz"),
                             zone)
        self.assertEqual(self.arc.list_zonal_shifts()["items"], [])
        for expires, seconds in (("1m", 60), ("72h", 259200), ("4320m", 259200)):
            shift = self.start(arn, self.zone_ids[0], expires)
            self.assertAlmostEqual((shift["expiryTime"] - shift["startTime"]).total_seconds(), seconds, delta=1)
            self.arc.cancel_zonal_shift(zonalShiftId=shift["zonalShiftId"])

    def test_missing_members_are_a_validation_error(self):
        raw = self.client("arc-zonal-shift", validate=False)
        arn = self.load_balancer()
        full = {"resourceIdentifier": arn, "awayFrom": self.zone_ids[0], "expiresIn": "1h", "comment": "c"}
        for name in full:
            response = self.error(raw.start_zonal_shift, **{k: v for k, v in full.items() if k != name})
            self.assertEqual((response["Error"]["Code"], response["reason"]), ("ValidationException", "MissingValue"),
                             name)
        response = self.error(raw.start_zonal_shift, **full | {"comment": "x" * 129})
        self.assertEqual(response["Error"]["Code"], "ValidationException")
        self.assertEqual(self.arc.list_zonal_shifts()["items"], [])

    def test_update_changes_comment_and_expiry_of_an_active_shift(self):
        arn = self.load_balancer()
        shift_id = self.start(arn, self.zone_ids[0], "10m")["zonalShiftId"]
        before = time.time()
        updated = self.arc.update_zonal_shift(zonalShiftId=shift_id, expiresIn="3h", comment="extended")
        self.assertEqual((updated["comment"], updated["status"]), ("extended", "ACTIVE"))
        self.assertAlmostEqual(updated["expiryTime"].timestamp(), before + 3 * 3600, delta=2)
        [item] = self.arc.list_zonal_shifts()["items"]
        self.assertEqual((item["comment"], item["expiryTime"]), ("extended", updated["expiryTime"]))
        for bad in ({}, {"expiresIn": "0h"}):
            response = self.error(self.arc.update_zonal_shift, zonalShiftId=shift_id, **bad)
            self.assertEqual(response["Error"]["Code"], "ValidationException")
        self.assertEqual(self.arc.list_zonal_shifts()["items"][0]["expiryTime"], updated["expiryTime"])
        self.arc.cancel_zonal_shift(zonalShiftId=shift_id)
        response = self.error(self.arc.update_zonal_shift, zonalShiftId=shift_id, comment="late")
        self.assertEqual((response["Error"]["Code"], response["reason"]),
                         ("ConflictException", "ZonalShiftStatusNotActive"))

    def test_a_shift_past_its_expiry_is_expired(self):
        arn = self.load_balancer()
        now = time.time()
        status, body = self.control("POST", "/_failover/arc/zonal-shift", {
            "account": self.account, "resource_identifier": arn, "away_from": self.zone_ids[0],
            "comment": "a person's shift", "start_time": now - 3600, "expiry_time": now - 60})
        self.assertEqual(status, 200, body)
        [item] = self.arc.list_zonal_shifts()["items"]
        self.assertEqual((item["zonalShiftId"], item["status"], item["comment"]),
                         (body["zonal_shift_id"], "EXPIRED", "a person's shift"))
        self.assertEqual(self.arc.list_zonal_shifts(status="ACTIVE")["items"], [])
        self.assertEqual(self.resource(arn)["zonalShifts"], [])
        response = self.error(self.arc.cancel_zonal_shift, zonalShiftId=body["zonal_shift_id"])
        self.assertEqual(response["reason"], "ZonalShiftStatusNotActive")
        self.start(arn, self.zone_ids[0])  # no longer blocks a new one
        self.assertEqual(sorted(i["status"] for i in self.arc.list_zonal_shifts()["items"]), ["ACTIVE", "EXPIRED"])

    # ------------------------------------------------------------------ others' shifts: autoshifts, practice runs

    def test_autoshift_set_by_the_control_endpoint(self):
        arn, other = self.load_balancer("web"), self.load_balancer("api")
        status, body = self.control("POST", "/_failover/arc/autoshift", {
            "account": self.account, "away_from": self.zone_ids[2], "status": "ACTIVE",
            "resource_identifiers": [arn]})
        self.assertEqual((status, body), (200, {"ok": True}))
        [autoshift] = self.arc.list_autoshifts()["items"]
        self.assertEqual((autoshift["awayFrom"], autoshift["status"]), (self.zone_ids[2], "ACTIVE"))
        self.assertNotIn("endTime", autoshift)
        resource = self.resource(arn)
        self.assertEqual(resource["zonalAutoshiftStatus"], "ENABLED")
        self.assertEqual([(a["awayFrom"], a["appliedStatus"]) for a in resource["autoshifts"]],
                         [(self.zone_ids[2], "APPLIED")])
        self.assertEqual(resource["appliedWeights"][self.zone_ids[2]], 0.0)
        self.assertEqual(self.resource(other)["autoshifts"], [])  # it did not enable autoshift
        self.assertEqual(self.arc.list_zonal_shifts()["items"], [])  # ListZonalShifts does not list autoshifts

        # a customer's shift takes precedence over the autoshift
        shift_id = self.start(arn, self.zone_ids[0])["zonalShiftId"]
        resource = self.resource(arn)
        self.assertEqual(resource["autoshifts"][0]["appliedStatus"], "NOT_APPLIED")
        self.assertEqual([(s["zonalShiftId"], s["appliedStatus"]) for s in resource["zonalShifts"]],
                         [(shift_id, "APPLIED")])
        self.assertEqual(resource["appliedWeights"],
                         {z: 0.0 if z == self.zone_ids[0] else 1.0 for z in self.zone_ids})

        status, body = self.control("POST", "/_failover/arc/autoshift", {
            "account": self.account, "away_from": self.zone_ids[2], "status": "COMPLETED"})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.arc.list_autoshifts(status="ACTIVE")["items"], [])
        [done] = self.arc.list_autoshifts(status="COMPLETED")["items"]
        self.assertGreaterEqual(done["endTime"], done["startTime"])
        self.assertEqual(self.resource(arn)["autoshifts"], [])

    def test_a_customer_shift_interrupts_a_practice_run(self):
        arn = self.load_balancer()
        status, body = self.control("POST", "/_failover/arc/zonal-shift", {
            "account": self.account, "resource_identifier": arn, "away_from": self.zone_ids[1],
            "shift_type": "PRACTICE_RUN"})
        self.assertEqual(status, 200, body)
        [practice] = self.arc.list_zonal_shifts()["items"]
        self.assertEqual((practice["shiftType"], practice["practiceRunOutcome"], practice["status"]),
                         ("PRACTICE_RUN", "PENDING", "ACTIVE"))
        [in_resource] = self.resource(arn)["zonalShifts"]
        self.assertEqual((in_resource["shiftType"], in_resource["appliedStatus"]), ("PRACTICE_RUN", "APPLIED"))
        self.start(arn, self.zone_ids[0])
        by_type = {i["shiftType"]: i for i in self.arc.list_zonal_shifts()["items"]}
        self.assertEqual((by_type["PRACTICE_RUN"]["status"], by_type["PRACTICE_RUN"]["practiceRunOutcome"]),
                         ("CANCELED", "INTERRUPTED"))
        self.assertEqual(by_type["ZONAL_SHIFT"]["status"], "ACTIVE")

    def test_control_endpoints_refuse_bad_input(self):
        arn, unregistered = self.load_balancer("web"), self.load_balancer("api", registered=False)
        for path, body in (
            ("/_failover/arc/autoshift", {"status": "ACTIVE"}),
            ("/_failover/arc/autoshift", {"away_from": self.zone_ids[0], "status": "RUNNING"}),
            ("/_failover/arc/autoshift", {"away_from": "us-east-1a", "resource_identifiers": [arn]}),
            ("/_failover/arc/autoshift", {"away_from": self.zone_ids[0], "resource_identifiers": [unregistered]}),
            ("/_failover/arc/autoshift", {"away_from": self.zone_ids[0], "status": "COMPLETED"}),
            ("/_failover/arc/zonal-shift", {"resource_identifier": arn}),
            ("/_failover/arc/zonal-shift", {"resource_identifier": arn, "away_from": self.zone_ids[0],
                                            "shift_type": "FIS_EXPERIMENT"}),
            ("/_failover/arc/zonal-shift", {"resource_identifier": unregistered, "away_from": self.zone_ids[0]}),
        ):
            status, result = self.control("POST", path, {"account": self.account} | body)
            self.assertEqual(status, 400, (path, body, result))
            self.assertIsInstance(result["error"], str)
        self.assertEqual(self.arc.list_autoshifts()["items"], [])
        self.assertEqual(self.arc.list_zonal_shifts()["items"], [])

    # ------------------------------------------------------------------ paging and the wire

    def test_list_pages_with_next_token(self):
        arns = [self.load_balancer(f"lb{i}") for i in range(3)]
        ids = [self.start(arn, self.zone_ids[0])["zonalShiftId"] for arn in arns]
        seen, token = [], None
        while True:
            page = self.arc.list_zonal_shifts(maxResults=2, **({"nextToken": token} if token else {}))
            self.assertLessEqual(len(page["items"]), 2)
            seen += [i["zonalShiftId"] for i in page["items"]]
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(seen, ids)
        response = self.error(self.arc.list_zonal_shifts, nextToken="not-a-token")
        self.assertEqual((response["Error"]["Code"], response["reason"]), ("ValidationException", "InvalidToken"))
        raw = self.client("arc-zonal-shift", validate=False)
        for bad in ({"maxResults": 0}, {"maxResults": 101}, {"status": "RUNNING"}):
            self.assertEqual(self.error(raw.list_zonal_shifts, **bad)["Error"]["Code"], "ValidationException")

    def raw(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict, dict]:
        """A request signed (by header only: the emulator checks no signature) for arc-zonal-shift."""
        auth = (f"AWS4-HMAC-SHA256 Credential={self.account}/20261202/us-east-1/arc-zonal-shift/aws4_request, "
                "SignedHeaders=host, Signature=0")
        req = urllib.request.Request(self.url + path, data=body, method=method, headers={"Authorization": auth})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read())

    def test_unknown_operations_and_bad_bodies(self):
        for method, path, body, status, code in (
            ("GET", "/practiceruns", None, 404, "UnknownOperationException"),
            ("PUT", "/zonalshifts", b"{}", 404, "UnknownOperationException"),
            ("GET", "/managedresources/", None, 404, "UnknownOperationException"),
            ("POST", "/zonalshifts", b"{not json", 400, "SerializationException"),
            ("POST", "/zonalshifts", b"[1, 2]", 400, "SerializationException"),
        ):
            got, headers, result = self.raw(method, path, body)
            self.assertEqual((got, headers.get("x-amzn-ErrorType")), (status, code), (method, path))
            self.assertIsInstance(result["message"], str)
        self.assertEqual(self.arc.list_zonal_shifts()["items"], [])

    def assert_shape(self, value, shape, where: str):
        """value (as boto3 parsed it) has every required member of the model's shape, and nothing the shape lacks."""
        if shape.type_name == "structure":
            self.assertLessEqual(set(shape.required_members), set(value), where)
            self.assertLessEqual(set(value) - {"ResponseMetadata"}, set(shape.members), where)
            for name, member in value.items():
                if name != "ResponseMetadata":
                    self.assert_shape(member, shape.members[name], f"{where}.{name}")
        elif shape.type_name == "list":
            for i, item in enumerate(value):
                self.assert_shape(item, shape.member, f"{where}[{i}]")
        elif shape.type_name == "string" and shape.enum:
            self.assertIn(value, shape.enum, where)

    def test_answers_have_the_model_shapes(self):
        arn = self.load_balancer()
        self.ok("POST", "/_failover/arc/autoshift", {"account": self.account, "away_from": self.zone_ids[2],
                                                     "resource_identifiers": [arn]})
        self.ok("POST", "/_failover/arc/zonal-shift", {"account": self.account, "resource_identifier": arn,
                                                       "away_from": self.zone_ids[1], "shift_type": "PRACTICE_RUN"})
        during_practice = self.arc.get_managed_resource(resourceIdentifier=arn)
        self.assertEqual(len(during_practice["zonalShifts"]), 1)
        self.assertEqual(len(during_practice["autoshifts"]), 1)
        model = self.arc.meta.service_model
        self.assert_shape(during_practice, model.operation_model("GetManagedResource").output_shape, "practice")
        shift_id = self.start(arn, self.zone_ids[0])["zonalShiftId"]
        answers = {
            "GetManagedResource": self.arc.get_managed_resource(resourceIdentifier=arn),
            "ListZonalShifts": self.arc.list_zonal_shifts(maxResults=1),
            "ListAutoshifts": self.arc.list_autoshifts(),
            "UpdateZonalShift": self.arc.update_zonal_shift(zonalShiftId=shift_id, comment="c"),
            "CancelZonalShift": self.arc.cancel_zonal_shift(zonalShiftId=shift_id),
        }
        for operation, answer in answers.items():
            self.assert_shape(answer, model.operation_model(operation).output_shape, operation)
        self.assertIn("nextToken", answers["ListZonalShifts"])

    def test_wire_format_and_call_log(self):
        arn = self.load_balancer()
        response = self.error(self.start, arn=arn, zone=self.zone_ids[0], expires="9d")
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        self.assertEqual((headers["x-amzn-errortype"], headers["content-type"]),
                         ("ValidationException", "application/json"))
        self.assertIn("expiresIn", response["message"])
        self.start(arn, self.zone_ids[0])
        self.resource(arn)
        calls = {(c["service"], c["action"]): c["count"]
                 for c in self.ok("GET", f"/_failover/calls?account={self.account}")["calls"]}
        self.assertEqual(calls[("arc-zonal-shift", "StartZonalShift")], 2)
        self.assertEqual(calls[("arc-zonal-shift", "GetManagedResource")], 1)


class AutoScalingHealthTest(LauncherTest):
    """moto 5.2.5 only recorded SetInstanceHealth's status; AWS terminates and replaces an unhealthy instance."""

    def setUp(self):
        super().setUp()
        self.asg = self.client("autoscaling")
        self.ec2 = self.client("ec2")
        self.elb = self.client("elbv2")
        subnets = sorted(self.ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])[:3]
        self.tg = self.elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=subnets[0]["VpcId"],
                                               TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        self.asg.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12c6146b",
                                             InstanceType="t3.micro")
        self.subnet_ids = ",".join(s["SubnetId"] for s in subnets)  # us-east-1a, b, c

    def group(self, name: str = "web-asg", **extra) -> list[str]:
        self.asg.create_auto_scaling_group(**{
            "AutoScalingGroupName": name, "LaunchConfigurationName": "lc", "MinSize": 2, "MaxSize": 4,
            "DesiredCapacity": 2, "VPCZoneIdentifier": self.subnet_ids, "TargetGroupARNs": [self.tg]} | extra)
        return self.members(name)

    def members(self, name: str = "web-asg") -> list[str]:
        [group] = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        return sorted(i["InstanceId"] for i in group["Instances"])

    def registered(self) -> list[str]:
        return sorted(t["Target"]["Id"] for t in self.elb.describe_target_health(TargetGroupArn=self.tg)[
            "TargetHealthDescriptions"])

    def state(self, instance_id: str) -> str:
        return self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0][
            "State"]["Name"]

    def test_grace_period_defaults_to_zero_and_keeps_zero(self):
        self.group("a")
        self.group("b", HealthCheckGracePeriod=0)
        self.group("c", HealthCheckGracePeriod=120)
        periods = {g["AutoScalingGroupName"]: g["HealthCheckGracePeriod"]
                   for g in self.asg.describe_auto_scaling_groups()["AutoScalingGroups"]}
        self.assertEqual(periods, {"a": 0, "b": 0, "c": 120})

    def test_an_unhealthy_instance_is_replaced(self):
        old = self.group()
        self.assertEqual(self.registered(), old)
        self.asg.set_instance_health(InstanceId=old[0], HealthStatus="Unhealthy", ShouldRespectGracePeriod=True)
        now = self.members()
        self.assertEqual(len(now), 2)
        self.assertNotIn(old[0], now)
        self.assertIn(old[1], now)
        self.assertEqual(self.registered(), now)
        self.assertEqual(self.state(old[0]), "terminated")
        described = self.asg.describe_auto_scaling_instances()["AutoScalingInstances"]
        self.assertEqual(sorted(i["InstanceId"] for i in described), now)
        self.assertEqual({i["HealthStatus"].upper() for i in described}, {"HEALTHY"})
        self.assertEqual(self.asg.describe_auto_scaling_instances(InstanceIds=[old[0]])["AutoScalingInstances"], [])
        [group] = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-asg"])["AutoScalingGroups"]
        self.assertEqual(group["DesiredCapacity"], 2)

    def zones(self) -> dict[str, str]:
        return {i["InstanceId"]: i["AvailabilityZone"]
                for i in self.asg.describe_auto_scaling_instances()["AutoScalingInstances"]}

    def test_instances_spread_over_the_zones_and_a_replacement_fills_the_gap(self):
        self.group(DesiredCapacity=3, MaxSize=6)
        zones = self.zones()
        self.assertEqual(sorted(zones.values()), ["us-east-1a", "us-east-1b", "us-east-1c"])
        [in_b] = [i for i, z in zones.items() if z == "us-east-1b"]
        self.asg.set_instance_health(InstanceId=in_b, HealthStatus="Unhealthy")
        after = self.zones()
        self.assertNotIn(in_b, after)
        self.assertEqual(sorted(after.values()), ["us-east-1a", "us-east-1b", "us-east-1c"])
        self.asg.set_desired_capacity(AutoScalingGroupName="web-asg", DesiredCapacity=5)
        self.assertEqual(sorted(self.zones().values()),
                         ["us-east-1a", "us-east-1a", "us-east-1b", "us-east-1b", "us-east-1c"])
        self.assertEqual(self.registered(), sorted(self.zones()))

    def test_the_grace_period_is_respected_when_asked(self):
        old = self.group(HealthCheckGracePeriod=300)
        self.asg.set_instance_health(InstanceId=old[0], HealthStatus="Unhealthy", ShouldRespectGracePeriod=True)
        self.assertEqual(self.members(), old)
        self.assertEqual(self.registered(), old)
        [described] = self.asg.describe_auto_scaling_instances(InstanceIds=[old[0]])["AutoScalingInstances"]
        self.assertEqual(described["HealthStatus"].upper(), "UNHEALTHY")
        self.assertEqual(self.state(old[0]), "running")
        self.asg.set_instance_health(InstanceId=old[0], HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
        self.assertNotIn(old[0], self.members())
        self.assertEqual(self.state(old[0]), "terminated")

    def test_healthy_changes_nothing_and_bad_input_is_a_validation_error(self):
        old = self.group()
        self.asg.set_instance_health(InstanceId=old[0], HealthStatus="Healthy")
        self.assertEqual(self.members(), old)
        stray = self.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        for kwargs in ({"InstanceId": "i-0123456789abcdef0", "HealthStatus": "Unhealthy"},
                       {"InstanceId": stray, "HealthStatus": "Unhealthy"},
                       {"InstanceId": old[0], "HealthStatus": "Sick"}):
            response = self.error(self.asg.set_instance_health, **kwargs)
            self.assertEqual((response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]),
                             ("ValidationError", 400), kwargs)
        self.assertEqual(self.members(), old)
        self.assertEqual(self.registered(), old)
        self.assertEqual(self.state(stray), "running")


if __name__ == "__main__":
    unittest.main()
