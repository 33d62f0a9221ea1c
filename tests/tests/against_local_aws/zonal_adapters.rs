//! target-failover's [`Zonal`] port over the SDK ([`ElbClient::from_sdk`]) against the local AWS: the load
//! balancer reads (ELB), the zone facts (EC2's query protocol, without aws-sdk-ec2) and ARC zonal shift. Each
//! test takes its own account and asserts what AWS answers, and that reads change nothing.

use std::collections::BTreeSet;

use crate::shop;

use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use integration_tests::Account;
use shop::{Calls, Counting, Shop};
use std::sync::Mutex;
use target_failover::adapters::ElbClient;
use target_failover::model::ShiftKind;
use target_failover::ports::{LoadBalancer, Zonal};

/// A registered load balancer, its zones' AZ IDs (from EC2, through the adapter), and the adapter.
async fn registered(account: &Account, name: &str) -> (String, Vec<String>, ElbClient) {
    let lb = account.load_balancer(name, 2).await;
    account.register_with_arc(&lb, true).await;
    let elb = ElbClient::from_sdk(&account.sdk);
    let balancer = elb.balancer(&lb).await.expect("describe").expect("the load balancer exists");
    let ids = elb.zone_ids().await.expect("zone ids");
    let zones = balancer.zones.iter().map(|z| ids.get(z).cloned().expect("an AZ ID for each zone")).collect();
    (lb, zones, elb)
}

#[tokio::test]
async fn balancer_gives_the_type_the_zone_names_and_every_attached_group() {
    let mut shop = Shop::new().await;
    let blue = shop.group("blue", TargetTypeEnum::Instance, true, &[]).await;
    let green = shop.group("green", TargetTypeEnum::Instance, false, &[]).await;
    shop.listener(&[(blue.as_str(), 1), (green.as_str(), 0)]).await;
    let elb = ElbClient::new(shop.account.elbv2());

    let balancer = elb.balancer(&shop.lb).await.expect("describe").expect("the load balancer exists");
    assert_eq!(balancer.arn, shop.lb);
    assert_eq!(balancer.kind, "application");
    assert_eq!(balancer.zones.len(), 2, "{balancer:?}");
    assert!(balancer.zones.iter().all(|z| z.starts_with("us-east-1")), "{balancer:?}");
    assert_eq!(balancer.groups.iter().cloned().collect::<BTreeSet<_>>(), BTreeSet::from([blue.clone(), green]));

    assert_eq!(elb.balancers_of(&blue).await.expect("balancers of"), vec![shop.lb.clone()]);
}

#[tokio::test]
async fn a_load_balancer_without_groups_has_none() {
    let account = Account::new().await;
    let lb = account.load_balancer("empty", 2).await;
    let balancer = ElbClient::new(account.elbv2()).balancer(&lb).await.expect("describe").expect("exists");
    assert!(balancer.groups.is_empty(), "{balancer:?}");
}

#[tokio::test]
async fn a_missing_load_balancer_or_group_is_none_or_empty_not_an_error() {
    let account = Account::new().await;
    let lb = account.load_balancer("gone", 2).await;
    let elb = ElbClient::new(account.elbv2());
    account.elbv2().delete_load_balancer().load_balancer_arn(&lb).send().await.expect("delete");
    assert_eq!(elb.balancer(&lb).await.expect("a missing load balancer is not an error"), None);

    let group = lb.replace(":loadbalancer/app/gone/", ":targetgroup/nothing/");
    assert_eq!(elb.balancers_of(&group).await.expect("a missing group is not an error"), Vec::<String>::new());
}

#[tokio::test]
async fn zone_ids_are_the_az_ids_arc_knows_the_load_balancer_zones_by() {
    let account = Account::new().await;
    let (lb, zones, elb) = registered(&account, "site").await;

    let ids = elb.zone_ids().await.expect("zone ids");
    assert!(ids.len() >= 2, "{ids:?}");
    assert!(ids.iter().all(|(name, id)| name.starts_with("us-east-1") && id.starts_with("use1-az")), "{ids:?}");
    // EC2 (through the query client) and ARC (from EC2's subnets, on the local AWS's side) agree.
    let resource = elb.managed_resource(&lb).await.expect("get managed resource").expect("registered");
    let weights: BTreeSet<String> = resource.applied_weights.keys().cloned().collect();
    assert_eq!(weights, zones.iter().cloned().collect::<BTreeSet<_>>());
    // Read once per process: a second read gives the same map.
    assert_eq!(elb.zone_ids().await.expect("zone ids again"), ids);
}

#[tokio::test]
async fn instance_zones_places_instances_in_their_zones_and_leaves_missing_ids_out() {
    let account = Account::new().await;
    let a = account.instances_in("us-east-1a", 2);
    let b = account.instances_in("us-east-1b", 1);
    let elb = ElbClient::from_sdk(&account.sdk);
    let mut ids: Vec<String> = a.iter().chain(&b).cloned().collect();
    ids.push("i-0123456789abcdef0".into());
    ids.push("not-an-instance".into());

    let zones = elb.instance_zones(&ids).await.expect("describe instances");
    assert_eq!(zones.len(), 3, "{zones:?}");
    assert!(a.iter().all(|id| zones.get(id).map(String::as_str) == Some("us-east-1a")), "{zones:?}");
    assert_eq!(zones.get(&b[0]).map(String::as_str), Some("us-east-1b"));
    assert!(elb.instance_zones(&[]).await.expect("no ids").is_empty());
}

#[tokio::test]
async fn an_unregistered_load_balancer_is_no_managed_resource_and_cannot_be_shifted() {
    let account = Account::new().await;
    let lb = account.load_balancer("plain", 2).await;
    let elb = ElbClient::from_sdk(&account.sdk);
    assert_eq!(elb.managed_resource(&lb).await.expect("not registered is not an error"), None);
    let zone = elb.zone_ids().await.expect("zone ids").into_values().next().expect("a zone");
    let refused = elb.start_shift(&lb, &zone, 60, "test").await.expect_err("not registered");
    assert_eq!(refused.code.as_deref(), Some("ResourceNotFoundException"));
    assert!(!refused.transient);

    account.register_with_arc(&lb, true).await;
    let resource = elb.managed_resource(&lb).await.expect("get managed resource").expect("registered now");
    assert_eq!(resource.arn, lb);
    assert!(resource.shifts.is_empty());
    assert!(resource.applied_weights.values().all(|w| *w == 1.0), "{resource:?}");
}

#[tokio::test]
async fn a_started_shift_is_active_conflicts_with_a_second_and_cancels_once() {
    let account = Account::new().await;
    let (lb, zones, elb) = registered(&account, "site").await;
    let long = "x".repeat(300);

    let id = elb.start_shift(&lb, &zones[0], 90, &long).await.expect("start zonal shift");
    let resource = elb.managed_resource(&lb).await.expect("get").expect("registered");
    let [shift] = resource.shifts.as_slice() else { panic!("one shift: {resource:?}") };
    assert_eq!(shift.kind, ShiftKind::ZonalShift);
    assert_eq!(shift.id.as_deref(), Some(id.as_str()));
    assert_eq!(shift.away_from, zones[0]);
    assert!(shift.applied);
    // ARC's comment is at most 128 characters: a longer one is cut, not refused.
    assert_eq!(shift.comment.as_deref().map(str::len), Some(128));
    let (started, expires) = (shift.started_at.expect("start"), shift.expires_at.expect("expiry"));
    assert_eq!(expires - started, 90 * 60);
    assert_eq!(resource.applied_weights.get(&zones[0]), Some(&0.0));

    let second = elb.start_shift(&lb, &zones[1], 60, "second").await.expect_err("one shift per resource");
    assert_eq!(second.code.as_deref(), Some("ConflictException"));
    assert!(second.message.contains(&id) || second.message.contains("already"), "{second}");

    let bad = elb.start_shift(&lb, "us-east-1a", 60, "a zone name").await.expect_err("an AZ ID is needed");
    assert_eq!(bad.code.as_deref(), Some("ValidationException"));

    assert!(elb.cancel_shift(&id).await.expect("cancel"), "the shift was active");
    assert!(!elb.cancel_shift(&id).await.expect("cancel again"), "already cancelled: not active");
    assert!(!elb.cancel_shift("00000000-0000-0000-0000-000000000000").await.expect("unknown id"));
    let resource = elb.managed_resource(&lb).await.expect("get").expect("registered");
    assert!(resource.shifts.is_empty(), "{resource:?}");
}

#[tokio::test]
async fn shifts_others_started_show_with_their_kind() {
    let account = Account::new().await;
    let (lb, zones, elb) = registered(&account, "site").await;

    account.autoshift(&zones[1], true, &[&lb]);
    let resource = elb.managed_resource(&lb).await.expect("get").expect("registered");
    let [shift] = resource.shifts.as_slice() else { panic!("one autoshift: {resource:?}") };
    assert_eq!((shift.kind, shift.away_from.as_str(), shift.id.as_deref()), (ShiftKind::Autoshift, &*zones[1], None));
    assert!(shift.applied);
    assert!(resource.autoshift_enabled);

    account.autoshift(&zones[1], false, &[&lb]);
    let practice = account.shift_by_others(&lb, &zones[0], "PRACTICE_RUN");
    let resource = elb.managed_resource(&lb).await.expect("get").expect("registered");
    let [shift] = resource.shifts.as_slice() else { panic!("one practice run: {resource:?}") };
    assert_eq!((shift.kind, shift.id.as_deref()), (ShiftKind::PracticeRun, Some(practice.as_str())));

    // A person's shift wins over the practice run, which ARC then interrupts.
    let person = account.shift_by_others(&lb, &zones[0], "ZONAL_SHIFT");
    let resource = elb.managed_resource(&lb).await.expect("get").expect("registered");
    let person_shift = resource.shifts.iter().find(|s| s.id.as_deref() == Some(person.as_str())).expect("listed");
    assert_eq!(person_shift.kind, ShiftKind::ZonalShift);
    assert_eq!(person_shift.comment.as_deref(), Some("started by someone else"));
}

#[tokio::test]
async fn without_arc_or_ec2_clients_the_zonal_calls_are_not_modelled() {
    let account = Account::new().await;
    let elb = ElbClient::new(account.elbv2());
    for error in [
        elb.zone_ids().await.map(|_| ()).expect_err("no EC2 client"),
        elb.managed_resource("arn").await.map(|_| ()).expect_err("no ARC client"),
        elb.cancel_shift("id").await.map(|_| ()).expect_err("no ARC client"),
    ] {
        assert_eq!(error.code.as_deref(), Some("NotModelled"), "{error}");
    }
    // The target-group reads still work.
    assert!(elb.target_groups().await.expect("target groups").is_empty());
}

#[tokio::test]
async fn the_shops_counting_port_counts_each_zonal_call_and_fails_it_on_demand() {
    let shop = Shop::new().await;
    shop.account.register_with_arc(&shop.lb, true).await;
    let calls = Mutex::new(Calls::new());
    let fail = Mutex::new(Calls::from([("managed_resource", 1), ("zone_ids", 1)]));
    let port = Counting { inner: ElbClient::from_sdk(&shop.account.sdk), calls: &calls, fail: &fail };

    let error = port.managed_resource(&shop.lb).await.expect_err("the first call fails");
    assert!(error.transient, "{error}");
    assert!(port.managed_resource(&shop.lb).await.expect("then it goes through").is_some());
    assert!(port.zone_ids().await.is_err());
    let zones = port.zone_ids().await.expect("zone ids");
    let balancer = port.balancer(&shop.lb).await.expect("balancer").expect("exists");
    let away = zones.get(&balancer.zones[0]).expect("an AZ ID").clone();
    let id = port.start_shift(&shop.lb, &away, 5, "counted").await.expect("start");
    assert!(port.cancel_shift(&id).await.expect("cancel"));
    assert!(port
        .balancers_of("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1")
        .await
        .expect("none")
        .is_empty());
    assert!(port.instance_zones(&[]).await.expect("none").is_empty());
    assert_eq!(
        shop::calls(&calls),
        vec![
            ("balancer", 1),
            ("balancers_of", 1),
            ("cancel_shift", 1),
            ("instance_zones", 1),
            ("managed_resource", 2),
            ("start_shift", 1),
            ("zone_ids", 2)
        ]
    );
}
