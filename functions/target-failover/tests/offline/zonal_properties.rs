//! Property test of zone evacuation, through the handler over an in-memory AWS (load balancers, their target
//! groups with targets placed in zones, ARC zonal shift) and ledger: for any sequence of zone signals (per-zone
//! alarms into ALARM and back to OK, `evacuate-zone` and `return-zone` commands) over several load balancers and
//! zones, with shifts others start and end (autoshifts, a person's shift) and targets failing and recovering,
//! - the function never starts a zonal shift on a load balancer that already has one: at most one zone is
//!   shifted away per load balancer;
//! - it never evacuates the last healthy zone, nor a zone whose loss leaves the group below its floor (by the
//!   facts at the moment of the call);
//! - it never cancels a shift it did not start;
//! - once every zone's alarm is OK again and `return-zone` ran, none of its shifts is left active.
//!
//! Beside it, the case the sequence cannot produce: someone starts a shift between the function's read and its
//! `StartZonalShift` (ARC's `ConflictException`): a refusal naming the code, the record abandoned.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use failover_core::aws::AwsError;
use proptest::prelude::*;
use serde_json::{json, Value};
use target_failover::decide::Floor;
use target_failover::model::{
    ActiveShift, Balancer, ForwardAction, HealthThresholds, Location, ManagedResource, ShiftKind, Tags, Target,
    TargetHealth, TargetState, Weight,
};
use target_failover::ports::{Fleet, ListedGroup, LoadBalancer, Zonal};
use target_failover::{App, Config, Home};
use test_support::memory_ledger::MemoryLedger;
use test_support::Recorder;

const PREFIX: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012";
const ZONES: [(&str, &str); 3] = [("us-east-1a", "use1-az1"), ("us-east-1b", "use1-az2"), ("us-east-1c", "use1-az3")];
/// The defaults: `MIN_HEALTHY_TARGETS=1`, `MIN_HEALTHY_PERCENT=50`.
const FLOOR: Floor = Floor::new(1, 50);

fn lb_arn(lb: usize) -> String {
    format!("{PREFIX}:loadbalancer/app/lb{lb}/000000000000000{lb}")
}

fn group_arn(lb: usize) -> String {
    format!("{PREFIX}:targetgroup/web{lb}/00000000000000a{lb}")
}

/// One load balancer: its zones (indexes into [`ZONES`]), its one opted-in group's targets (id → zone index,
/// healthy), and ARC's active shifts on it.
#[derive(Debug, Clone, Default)]
struct Site {
    zones: Vec<usize>,
    targets: BTreeMap<String, (usize, bool)>,
    shifts: Vec<ActiveShift>,
}

#[derive(Default)]
struct World {
    sites: Vec<Site>,
    next_id: usize,
    /// Every broken promise, as found at the moment of the call.
    violations: Vec<String>,
    /// The ids of the shifts this function started.
    ours: Vec<String>,
    /// Someone starts a shift between the function's read and its `StartZonalShift`: ARC answers conflict.
    race: bool,
}

#[derive(Clone, Default)]
struct Aws(Arc<Mutex<World>>);

impl Aws {
    fn site_of(&self, arn: &str) -> Option<usize> {
        (0..self.0.lock().unwrap().sites.len()).find(|i| lb_arn(*i) == arn || group_arn(*i) == arn)
    }
}

impl LoadBalancer for Aws {
    type Actions = ();

    async fn tags(&self, arns: &[String]) -> Result<Vec<(String, Option<Tags>)>, AwsError> {
        let tags = Tags::from([("failover:enabled".to_owned(), "true".to_owned())]);
        Ok(arns.iter().map(|arn| (arn.clone(), self.site_of(arn).map(|_| tags.clone()))).collect())
    }
    async fn instance_groups(&self) -> Result<Vec<ListedGroup>, AwsError> {
        Ok((0..self.0.lock().unwrap().sites.len()).map(|n| ListedGroup::arn_only(group_arn(n))).collect())
    }
    async fn target_health(&self, group: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        let Some(site) = self.site_of(group) else { return Ok(None) };
        let world = self.0.lock().unwrap();
        let health = |(id, (_, healthy)): (&String, &(usize, bool))| {
            let state = if *healthy { TargetState::Healthy } else { TargetState::Unhealthy };
            TargetHealth::new(Target::new(id.clone(), Some(80)), state)
        };
        Ok(Some(world.sites[site].targets.iter().map(health).collect()))
    }
    async fn health_thresholds(&self, _group: &str) -> Result<Option<HealthThresholds>, AwsError> {
        Ok(Some(HealthThresholds::from_attributes([])))
    }
    async fn deregister(&self, group: &str, _targets: &[Target]) -> Result<(), AwsError> {
        self.0.lock().unwrap().violations.push(format!("deregistered from {group}: no zonal signal removes targets"));
        Ok(())
    }
    async fn register(&self, _group: &str, _targets: &[Target]) -> Result<(), AwsError> {
        Ok(())
    }
    async fn forwards_to(&self, _group: &str, _: &[String]) -> Result<Vec<(ForwardAction, ())>, AwsError> {
        Ok(Vec::new())
    }
    async fn set_weights(&self, _location: &Location, _actions: &(), _weights: &[Weight]) -> Result<(), AwsError> {
        Ok(())
    }
}

impl Zonal for Aws {
    async fn balancer(&self, arn: &str) -> Result<Option<Balancer>, AwsError> {
        let Some(site) = self.site_of(arn).filter(|i| lb_arn(*i) == arn) else { return Ok(None) };
        let zones = self.0.lock().unwrap().sites[site].zones.iter().map(|z| ZONES[*z].0.to_owned()).collect();
        Ok(Some(Balancer { arn: arn.into(), kind: "application".into(), zones, groups: vec![group_arn(site)] }))
    }
    async fn zone_ids(&self) -> Result<BTreeMap<String, String>, AwsError> {
        Ok(ZONES.iter().map(|(name, id)| (name.to_string(), id.to_string())).collect())
    }
    async fn instance_zones(&self, ids: &[String]) -> Result<BTreeMap<String, String>, AwsError> {
        let world = self.0.lock().unwrap();
        let placed = world.sites.iter().flat_map(|s| s.targets.iter());
        Ok(placed.filter(|(id, _)| ids.contains(id)).map(|(id, (z, _))| (id.clone(), ZONES[*z].0.to_owned())).collect())
    }
    async fn managed_resource(&self, arn: &str) -> Result<Option<ManagedResource>, AwsError> {
        let Some(site) = self.site_of(arn) else { return Ok(None) };
        let world = self.0.lock().unwrap();
        let site = &world.sites[site];
        let weight = |id: &str| if site.shifts.iter().any(|s| s.away_from == id) { 0.0 } else { 1.0 };
        let applied_weights = site.zones.iter().map(|z| (ZONES[*z].1.to_owned(), weight(ZONES[*z].1))).collect();
        Ok(Some(ManagedResource {
            arn: arn.into(),
            applied_weights,
            shifts: site.shifts.clone(),
            autoshift_enabled: true,
        }))
    }
    async fn start_shift(&self, arn: &str, away_from: &str, minutes: u32, _comment: &str) -> Result<String, AwsError> {
        let site = self.site_of(arn).expect("a known load balancer");
        let mut world = self.0.lock().unwrap();
        let broken = check_start(&world.sites[site], away_from);
        world.violations.extend(broken.into_iter().map(|v| format!("{arn}: {v}")));
        if !world.sites[site].shifts.is_empty() || world.race {
            return Err(AwsError {
                operation: "StartZonalShift",
                resource: arn.into(),
                code: Some("ConflictException".into()),
                transient: false,
                message: "a zonal shift is already active".into(),
            });
        }
        world.next_id += 1;
        let id = format!("ours-{}", world.next_id);
        world.ours.push(id.clone());
        world.sites[site].shifts.push(shift(ShiftKind::ZonalShift, Some(id.clone()), away_from, minutes));
        Ok(id)
    }
    async fn cancel_shift(&self, id: &str) -> Result<bool, AwsError> {
        let mut world = self.0.lock().unwrap();
        if !world.ours.iter().any(|o| o == id) {
            world.violations.push(format!("cancelled {id}, a shift it did not start"));
        }
        let before: usize = world.sites.iter().map(|s| s.shifts.len()).sum();
        world.sites.iter_mut().for_each(|s| s.shifts.retain(|a| a.id.as_deref() != Some(id)));
        Ok(world.sites.iter().map(|s| s.shifts.len()).sum::<usize>() < before)
    }
}

impl Fleet for Aws {}

fn shift(kind: ShiftKind, id: Option<String>, away_from: &str, minutes: u32) -> ActiveShift {
    ActiveShift {
        kind,
        id,
        away_from: away_from.into(),
        applied: true,
        comment: None,
        started_at: Some(0),
        expires_at: Some(i64::from(minutes) * 60),
    }
}

/// What a start away from `away_from` breaks, by the facts now.
fn check_start(site: &Site, away_from: &str) -> Vec<String> {
    let mut broken = Vec::new();
    if !site.shifts.is_empty() {
        broken.push(format!("a second shift away from {away_from} while {:?} is active", site.shifts));
    }
    let zone = ZONES.iter().position(|(_, id)| *id == away_from).expect("a known AZ ID");
    let healthy_elsewhere = site.targets.values().filter(|(z, healthy)| *healthy && *z != zone).count();
    if healthy_elsewhere == 0 {
        broken.push(format!("evacuated the last healthy zone {away_from}"));
    }
    let required = FLOOR.for_registered(site.targets.len()).max(1);
    let healthy_inside = site.targets.values().filter(|(z, healthy)| *healthy && *z == zone).count();
    if healthy_inside > 0 && healthy_elsewhere < required {
        broken.push(format!("left {healthy_elsewhere} healthy outside {away_from}, below the floor {required}"));
    }
    broken
}

#[derive(Debug, Clone)]
enum Step {
    /// The per-zone alarm of a load balancer's zone changes state.
    Alarm {
        lb: usize,
        zone: usize,
        ok: bool,
    },
    EvacuateZone {
        lb: usize,
        zone: usize,
    },
    ReturnZone {
        lb: usize,
    },
    /// Someone else's shift (an autoshift or a person's) starts, when none is active; or all of them end.
    Others {
        lb: usize,
        zone: usize,
        autoshift: bool,
    },
    OthersEnd {
        lb: usize,
    },
    /// A target fails or recovers.
    Health {
        lb: usize,
        target: usize,
        healthy: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..2usize, 0..3usize, any::<bool>()).prop_map(|(lb, zone, ok)| Step::Alarm { lb, zone, ok }),
        1 => (0..2usize, 0..3usize).prop_map(|(lb, zone)| Step::EvacuateZone { lb, zone }),
        1 => (0..2usize).prop_map(|lb| Step::ReturnZone { lb }),
        1 => (0..2usize, 0..3usize, any::<bool>()).prop_map(|(lb, zone, autoshift)| Step::Others { lb, zone, autoshift }),
        1 => (0..2usize).prop_map(|lb| Step::OthersEnd { lb }),
        2 => (0..2usize, 0..9usize, any::<bool>()).prop_map(|(lb, target, healthy)| Step::Health { lb, target, healthy }),
    ]
}

/// A load balancer over two or three zones with 0 to 3 targets in each, some unhealthy.
fn site() -> impl Strategy<Value = Site> {
    (any::<bool>(), proptest::collection::vec((0..4usize, 0..4usize), 3)).prop_map(|(three, per_zone)| {
        let zones: Vec<usize> = if three { vec![0, 1, 2] } else { vec![0, 1] };
        let mut targets = BTreeMap::new();
        for zone in &zones {
            let (count, unhealthy) = per_zone[*zone];
            for k in 0..count {
                targets.insert(
                    format!("i-{zone}{k}{:014x}", targets.len()),
                    (*zone, k >= count.saturating_sub(unhealthy)),
                );
            }
        }
        Site { zones, targets, shifts: Vec::new() }
    })
}

/// The handler over the in-memory AWS, a recording notifier and a fresh memory ledger; default settings.
fn app<'r>(aws: &Aws, recorder: &'r Recorder) -> App<Aws, &'r Recorder, MemoryLedger> {
    let config = Config::from_lookup(&test_support::lookup(&[
        ("NOTIFICATION_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:failover"),
        ("LEDGER_TABLE", "failover-ledger"),
    ]))
    .expect("config");
    let home = Home { partition: "aws".into(), account: "123456789012".into(), region: "us-east-1".into() };
    App::with_ports(config, aws.clone(), recorder, MemoryLedger::new(), home)
}

fn event(step: &Step, at: usize) -> Option<Value> {
    let time = format!("2024-05-01T{:02}:{:02}:{:02}.000+0000", 10 + at / 3600, at / 60 % 60, at % 60);
    Some(match step {
        Step::Alarm { lb, zone, ok } => {
            let (state, previous) = if *ok { ("OK", "ALARM") } else { ("ALARM", "OK") };
            let name = format!("lb{lb}-{}", ZONES[*zone].0);
            let dimensions = json!({"LoadBalancer": format!("app/lb{lb}/000000000000000{lb}"),
                                    "AvailabilityZone": ZONES[*zone].0, "TargetGroup": format!("targetgroup/web{lb}/1")});
            json!({
                "version": "0", "id": "e", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
                "account": "123456789012", "time": time, "region": "us-east-1",
                "resources": [format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}")],
                "detail": {"alarmName": name, "state": {"value": state, "timestamp": time},
                           "previousState": {"value": previous},
                           "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {
                               "namespace": "AWS/ApplicationELB", "name": "HTTPCode_Target_5XX_Count",
                               "dimensions": dimensions}}}]}}
            })
        }
        Step::EvacuateZone { lb, zone } => {
            json!({"command": "evacuate-zone", "load_balancer_arn": lb_arn(*lb), "zone": ZONES[*zone].1})
        }
        Step::ReturnZone { lb } => json!({"command": "return-zone", "load_balancer_arn": lb_arn(*lb)}),
        Step::Others { .. } | Step::OthersEnd { .. } | Step::Health { .. } => return None,
    })
}

/// Changes the world as others do (no invocation).
fn others(aws: &Aws, step: &Step) {
    let mut world = aws.0.lock().unwrap();
    world.next_id += 1;
    let next = world.next_id;
    match step {
        Step::Others { lb, zone, autoshift } => {
            let site = &mut world.sites[*lb];
            if site.shifts.is_empty() && site.zones.contains(zone) {
                let (kind, id) = if *autoshift {
                    (ShiftKind::Autoshift, None)
                } else {
                    (ShiftKind::ZonalShift, Some(format!("person-{next}")))
                };
                site.shifts.push(shift(kind, id, ZONES[*zone].1, 60));
            }
        }
        Step::OthersEnd { lb } => {
            let ours = world.ours.clone();
            world.sites[*lb].shifts.retain(|s| s.id.as_ref().is_some_and(|id| ours.contains(id)));
        }
        Step::Health { lb, target, healthy } => {
            if let Some((_, (_, h))) = world.sites[*lb].targets.iter_mut().nth(*target) {
                *h = *healthy;
            }
        }
        Step::Alarm { .. } | Step::EvacuateZone { .. } | Step::ReturnZone { .. } => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn over_any_zone_signals_at_most_one_zone_is_shifted_per_load_balancer_and_never_the_last_healthy_one(
        sites in proptest::collection::vec(site(), 2),
        steps in proptest::collection::vec(step(), 1..24),
    ) {
        let aws = Aws(Arc::new(Mutex::new(World { sites, ..World::default() })));
        let recorder = Recorder::new();
        let app = app(&aws, &recorder);
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("runtime");
        for (at, step) in steps.iter().enumerate() {
            match event(step, at + 1) {
                Some(event) => {
                    let handled = runtime.block_on(app.handle(event));
                    prop_assert!(handled.is_ok(), "{step:?}: {handled:?}");
                }
                None => others(&aws, step),
            }
            let world = aws.0.lock().unwrap();
            for (lb, site) in world.sites.iter().enumerate() {
                prop_assert!(site.shifts.len() <= 1, "after {step:?}, lb{lb} has {:?}", site.shifts);
            }
            prop_assert!(world.violations.is_empty(), "after {step:?}: {:?}", world.violations);
        }
        // Every zone recovers: the OKs (and a person's return-zone) leave none of this function's shifts active.
        let ends = (0..2).flat_map(|lb| (0..3).map(move |zone| Step::Alarm { lb, zone, ok: true }));
        for (at, step) in ends.chain((0..2).map(|lb| Step::ReturnZone { lb })).enumerate() {
            let handled = runtime.block_on(app.handle(event(&step, steps.len() + 1 + at).expect("an event")));
            prop_assert!(handled.is_ok(), "{step:?}: {handled:?}");
        }
        let world = aws.0.lock().unwrap();
        let left: Vec<&ActiveShift> = world
            .sites
            .iter()
            .flat_map(|s| s.shifts.iter())
            .filter(|s| s.id.as_ref().is_some_and(|id| world.ours.contains(id)))
            .collect();
        prop_assert!(left.is_empty(), "still shifted: {left:?}");
        prop_assert!(world.violations.is_empty(), "{:?}", world.violations);
    }
}

#[test]
fn a_conflict_from_start_zonal_shift_is_a_refusal_naming_the_code_and_its_record_is_abandoned() {
    let site = Site {
        zones: vec![0, 1],
        targets: (0..4).map(|i| (format!("i-{i:017x}"), (i % 2, true))).collect(),
        shifts: Vec::new(),
    };
    let aws = Aws(Arc::new(Mutex::new(World { sites: vec![site], race: true, ..World::default() })));
    let recorder = Recorder::new();
    let app = app(&aws, &recorder);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");

    let response = runtime.block_on(app.handle(event(&Step::EvacuateZone { lb: 0, zone: 0 }, 1).expect("a command")));

    assert_eq!(response.expect("handled").status, failover_core::outcome::Outcome::Refused);
    let published = recorder.published();
    assert_eq!(
        (published[0].action.as_str(), published[0].outcome),
        ("zonal-shift", failover_core::outcome::Outcome::Refused)
    );
    assert!(published[0].summary.contains("ConflictException"), "{:?}", published[0]);
    let snapshot = runtime
        .block_on(failover_core::ledger::Ledger::read(app.ledger(), &format!("load-balancer:{}", lb_arn(0)), 0))
        .expect("read");
    let states: Vec<_> =
        snapshot.records.iter().map(|r| (r.key.split('#').next().unwrap_or_default(), r.state)).collect();
    assert_eq!(states, vec![("zonal-shift", failover_core::ledger::State::Abandoned)]);
    assert!(aws.0.lock().unwrap().sites[0].shifts.is_empty());
}
