//! Property tests of target-failover across a whole incident, through the handler over an in-memory fleet and
//! ledger ([`MemoryLedger`]):
//! - for any sequence of instance alarms and OKs over one group spread over one to three zones, with zonal
//!   shifts a person starts and ends (reported by ELB's `AdministrativeOverride` or only by ARC) and the
//!   evacuations the function starts, the targets serving (healthy, or registered again and passing their health
//!   checks by the next event) never fall below the floor of the group as it was before the incident (its
//!   baseline), and no zone that takes traffic is ever left without one;
//! - every removal is closed by the OK of the alarm that made it, and then every target is back;
//! - failback ([`decide::plan_failback`]) never gives weight to a group that is failing;
//! - an invocation that dies between its change and its notification: the retry publishes that notification,
//!   once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use failover_core::aws::AwsError;
use failover_core::outcome::Outcome;
use proptest::prelude::*;
use serde_json::{json, Value};
use target_failover::actions::ledger;
use target_failover::decide::{self, Floor, OptedIn};
use target_failover::model::{
    ActiveShift, AdminOverride, Balancer, ForwardAction, HealthThresholds, Location, ManagedResource, SavedWeights,
    ShiftKind, Tags, Target, TargetHealth, TargetState, Weight,
};
use target_failover::ports::{ListedGroup, LoadBalancer};
use target_failover::{App, Config, Home};

use test_support::memory_ledger::MemoryLedger;
use test_support::Recorder;

const GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/00000000000000aa";
const PREFIX: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012";

const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/00000000000000ff";
/// Zone names and AZ IDs; target `i` is in zone `i % zones`.
const ZONES: [(&str, &str); 3] = [("us-east-1a", "use1-az1"), ("us-east-1b", "use1-az2"), ("us-east-1c", "use1-az3")];

/// One opted-in group behind one load balancer registered with ARC: target id → state. A target registered
/// again is `initial` until the next event.
#[derive(Clone, Default)]
struct Fleet {
    targets: Arc<Mutex<BTreeMap<String, TargetState>>>,
    zones: usize,
    /// The one active shift (ARC allows one per resource): the zone it moves traffic away from, and whose it is.
    shift: Arc<Mutex<Option<(usize, ShiftKind, String)>>>,
    /// ELB reports `zonal_shift_active` for the targets of the zone shifted away (else only ARC tells).
    overridden: bool,
}

impl Fleet {
    fn new(size: usize) -> Self {
        Fleet::in_zones(size, 1, true)
    }

    fn in_zones(size: usize, zones: usize, overridden: bool) -> Self {
        let targets = (0..size).map(|i| (instance(i), TargetState::Healthy)).collect();
        Fleet { targets: Arc::new(Mutex::new(targets)), zones, overridden, ..Fleet::default() }
    }

    fn zone_of(&self, id: &str) -> usize {
        usize::from_str_radix(id.trim_start_matches("i-"), 16).unwrap_or(0) % self.zones.max(1)
    }

    fn shifted_away(&self) -> Option<usize> {
        self.shift.lock().unwrap().as_ref().map(|(zone, _, _)| *zone)
    }

    /// A person starts a zonal shift away from the zone (refused by ARC while a shift is active), or ends theirs.
    fn person(&self, zone: Option<usize>) {
        let mut shift = self.shift.lock().unwrap();
        match zone {
            Some(zone) if shift.is_none() => *shift = Some((zone % self.zones, ShiftKind::ZonalShift, "person".into())),
            None if shift.as_ref().is_some_and(|(_, _, id)| id == "person") => *shift = None,
            _ => {}
        }
    }

    /// Registered targets in the zone (those registered again serve by the next event).
    fn count_in(&self, zone: usize) -> usize {
        self.targets.lock().unwrap().keys().filter(|id| self.zone_of(id) == zone).count()
    }

    /// The load balancer's health checks pass for the targets registered again.
    fn settle(&self) {
        self.targets.lock().unwrap().values_mut().for_each(|s| *s = TargetState::Healthy);
    }

    fn count(&self) -> usize {
        self.targets.lock().unwrap().len()
    }
}

fn instance(i: usize) -> String {
    format!("i-{i:017x}")
}

impl LoadBalancer for Fleet {
    type Actions = ();

    async fn tags(&self, arns: &[String]) -> Result<Vec<(String, Option<Tags>)>, AwsError> {
        let tags = Tags::from([("failover:enabled".to_owned(), "true".to_owned())]);
        Ok(arns.iter().map(|arn| (arn.clone(), Some(tags.clone()))).collect())
    }
    async fn instance_groups(&self) -> Result<Vec<ListedGroup>, AwsError> {
        Ok(vec![ListedGroup::arn_only(GROUP)])
    }
    async fn target_health(&self, _group: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        let targets = self.targets.lock().unwrap();
        let away = self.shifted_away().filter(|_| self.overridden);
        let health = |(id, state): (&String, &TargetState)| {
            let mut health = TargetHealth::new(Target::new(id.clone(), Some(80)), *state);
            if away == Some(self.zone_of(id)) {
                health.admin_override = AdminOverride::ZonalShiftActive;
            }
            health
        };
        Ok(Some(targets.iter().map(health).collect()))
    }
    async fn health_thresholds(&self, _group: &str) -> Result<Option<HealthThresholds>, AwsError> {
        Ok(Some(HealthThresholds::from_attributes([])))
    }
    async fn deregister(&self, _group: &str, targets: &[Target]) -> Result<(), AwsError> {
        let mut fleet = self.targets.lock().unwrap();
        targets.iter().for_each(|t| {
            fleet.remove(&t.id);
        });
        Ok(())
    }
    async fn register(&self, _group: &str, targets: &[Target]) -> Result<(), AwsError> {
        let mut fleet = self.targets.lock().unwrap();
        targets.iter().for_each(|t| {
            fleet.insert(t.id.clone(), TargetState::Initial);
        });
        Ok(())
    }
    async fn forwards_to(&self, _group: &str, _: &[String]) -> Result<Vec<(ForwardAction, ())>, AwsError> {
        Ok(Vec::new())
    }
    async fn set_weights(&self, _location: &Location, _actions: &(), _weights: &[Weight]) -> Result<(), AwsError> {
        Ok(())
    }
}

/// The alarm action of the instance's own alarm, `seconds` after 10:00.
fn instance_alarm(i: usize, state: &str, seconds: usize) -> Value {
    let previous = if state == "OK" { "ALARM" } else { "OK" };
    let time = format!("2024-05-01T{:02}:{:02}:{:02}.000+0000", 10 + seconds / 3600, seconds / 60 % 60, seconds % 60);
    json!({
        "source": "aws.cloudwatch", "alarmArn": format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:i-{i}"),
        "accountId": "123456789012", "time": time, "region": "us-east-1",
        "alarmData": {
            "alarmName": format!("i-{i}"),
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": time},
            "previousState": {"value": previous, "reason": "", "timestamp": "2024-05-01T09:00:00.000+0000"},
            "configuration": {"metrics": [{"id": "m1", "returnData": true, "metricStat": {
                "metric": {"namespace": "Shop/Web", "name": "Http5xxRate", "dimensions": {"InstanceId": instance(i)}},
                "period": 60, "stat": "Average"}}]}
        }
    })
}

fn app<'r>(fleet: &Fleet, recorder: &'r Recorder, floor: Floor) -> App<Fleet, &'r Recorder, MemoryLedger> {
    let (targets, percent) = (floor.min_targets.to_string(), floor.min_percent.to_string());
    let config = Config::from_lookup(&test_support::lookup(&[
        ("NOTIFICATION_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:failover"),
        ("LEDGER_TABLE", "failover-ledger"),
        ("MIN_HEALTHY_TARGETS", targets.as_str()),
        ("MIN_HEALTHY_PERCENT", percent.as_str()),
        // The floor and the zones are what this checks, and every OK brings every target back: a target the
        // random sequence removes twice would otherwise stay out (target_hold.rs tests that).
        ("FLAP_WINDOW_MINUTES", "0"),
    ]))
    .expect("config");
    let home = Home { partition: "aws".into(), account: "123456789012".into(), region: "us-east-1".into() };
    App::with_ports(config, fleet.clone(), recorder, MemoryLedger::new(), home)
}

/// The ledger's clock in [`a_retry_after_a_crash_between_the_change_and_its_notification_publishes_it_once`].
static NOW: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_714_557_600);

fn clock() -> i64 {
    NOW.load(std::sync::atomic::Ordering::SeqCst)
}

/// Dies (panics) at its first publication, as an invocation killed between its change and its notification;
/// then records like [`Recorder`].
#[derive(Default)]
struct CrashOnce {
    crashed: std::sync::atomic::AtomicBool,
    recorder: Recorder,
}

impl failover_core::report::Notifier for CrashOnce {
    async fn publish(&self, report: &failover_core::report::Report) -> Result<(), failover_core::report::NotifyError> {
        if !self.crashed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            panic!("the invocation dies before its notification");
        }
        self.recorder.publish(report).await
    }
}

#[test]
fn a_retry_after_a_crash_between_the_change_and_its_notification_publishes_it_once() {
    let fleet = Fleet::new(4);
    let notifier = CrashOnce::default();
    let config = Config::from_lookup(&test_support::lookup(&[
        ("NOTIFICATION_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:failover"),
        ("LEDGER_TABLE", "failover-ledger"),
    ]))
    .expect("config");
    let home = Home { partition: "aws".into(), account: "123456789012".into(), region: "us-east-1".into() };
    let app = App::with_ports(config, fleet.clone(), &notifier, MemoryLedger::new(), home).with_clock(clock);
    let runtime = runtime();
    let event = instance_alarm(0, "ALARM", 1);

    let crashed =
        runtime.block_on(futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(app.handle(event.clone()))));
    assert!(crashed.is_err(), "the first run died");
    assert_eq!(fleet.count(), 3, "after its change");
    assert!(notifier.recorder.published().is_empty());

    // Lambda retries a minute or more later, once the dead run's lease has run out.
    NOW.fetch_add(3600, std::sync::atomic::Ordering::SeqCst);
    let retry = runtime.block_on(app.handle(event.clone())).expect("the retry");
    let again = runtime.block_on(app.handle(event)).expect("another retry");

    assert_eq!(fleet.count(), 3, "nothing more removed");
    let published = notifier.recorder.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!((published[0].outcome, published[0].action.as_str()), (Outcome::Succeeded, "deregister-targets"));
    assert!(published[0].summary.contains(&instance(0)), "{:?}", published[0]);
    assert_eq!(retry.status, Outcome::Succeeded);
    assert_eq!(again.status, Outcome::Skipped, "the transition is recorded: stale");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn over_any_alarm_ok_and_shift_sequence_the_serving_targets_keep_the_baseline_floor_and_every_zone_taking_traffic_and_every_removal_closes(
        size in 1usize..12,
        zones in 1usize..=3,
        overridden in any::<bool>(),
        min_targets in 0u32..4,
        min_percent in 0u32..=100,
        events in prop::collection::vec((0usize..12, 0u8..8), 1..30),
    ) {
        let floor = Floor::new(min_targets, min_percent);
        let (fleet, recorder) = (Fleet::in_zones(size, zones, overridden), Recorder::new());
        let app = app(&fleet, &recorder, floor);
        let runtime = runtime();
        // The floor of the group before the incident; a group already at or below it loses nothing.
        let baseline_floor = floor.for_registered(size).max(1).min(size);
        let mut clock = 0;
        for (step, (i, kind)) in events.iter().enumerate() {
            fleet.settle();
            clock += 1;
            // Mostly alarms and OKs; now and then a person shifts traffic away from a zone, or ends their shift.
            let state = match kind {
                0..=3 => "ALARM",
                4..=5 => "OK",
                6 => { fleet.person(Some(*i)); continue }
                _ => { fleet.person(None); continue }
            };
            runtime.block_on(app.handle(instance_alarm(i % size, state, clock))).expect("handled");
            let serving = fleet.count();
            prop_assert!(serving >= baseline_floor, "step {step}: {serving} targets left, baseline floor {baseline_floor}");
            // Every zone that takes traffic (and had targets) keeps a serving target.
            for zone in (0..zones.min(size)).filter(|z| fleet.shifted_away() != Some(*z)) {
                prop_assert!(fleet.count_in(zone) > 0, "step {step}: zone {} takes traffic and has no target", ZONES[zone].0);
            }
        }
        // Every alarm returns to OK: every removal closes and every target is back.
        for i in 0..size {
            clock += 1;
            runtime.block_on(app.handle(instance_alarm(i, "OK", clock))).expect("handled");
        }
        prop_assert_eq!(fleet.count(), size);
        let open: Vec<_> =
            app.ledger().all_records().into_iter().filter(|r| r.key.starts_with("removal#") && ledger::open(r)).collect();
        prop_assert!(open.is_empty(), "removals left open: {open:?}");
    }

    #[test]
    fn failback_never_gives_weight_to_a_group_that_is_failing(
        weights in prop::collection::vec(0u32..=400, 2..5),
        failing in prop::collection::vec(any::<bool>(), 5),
        edit in 0u32..20,
    ) {
        // Groups g0.. share one listener; the failing ones (g0 always) were shifted to the standby one by one,
        // each recording the weights before its own shift; then a person edits the standby's weight up a little.
        let group = |i: usize| format!("{PREFIX}:targetgroup/g{i}/{i:016x}");
        let standby = format!("{PREFIX}:targetgroup/standby/{:016x}", 99);
        let location = Location::Listener(format!("{PREFIX}:listener/app/shop/1111111111111111/2222222222222222"));
        let mut current: Vec<Weight> = weights.iter().enumerate().map(|(i, w)| Weight::new(group(i), *w)).collect();
        let mut saved_by_group = BTreeMap::new();
        let opted_in = OptedIn::from([location.arn().to_owned()]);
        for i in (0..weights.len()).filter(|i| *i == 0 || failing[*i]) {
            let action = ForwardAction { location: location.clone(), weights: current.clone() };
            let plan = decide::plan_shift(&[action], &group(i), &standby, &SavedWeights::new(), &opted_in);
            if let Some(change) = plan.changes.first() {
                let before = change.before.iter().map(|w| (w.group_arn.clone(), w.weight)).collect();
                saved_by_group.insert(i, SavedWeights::from([(location.key(), before)]));
                current = change.after.clone();
            }
        }
        for w in current.iter_mut().filter(|w| w.group_arn == standby) {
            w.weight = (w.weight + edit).min(999);
        }
        // g0 recovers.
        let Some(saved) = saved_by_group.get(&0) else { return Ok(()) };
        let action = ForwardAction { location: location.clone(), weights: current.clone() };
        let plan = decide::plan_failback(&[action], &group(0), Some(&standby), saved, &opted_in);
        for change in &plan.changes {
            for w in &change.after {
                let still_failing = (1..weights.len()).any(|i| failing[i] && w.group_arn == group(i));
                prop_assert!(!(still_failing && w.weight > 0), "failing {} got weight {}: {:?}", w.group_arn, w.weight, change);
                prop_assert!(w.weight <= 999);
            }
        }
    }
}

impl target_failover::ports::Zonal for Fleet {
    async fn balancer(&self, arn: &str) -> Result<Option<Balancer>, AwsError> {
        let zones = ZONES[..self.zones].iter().map(|(name, _)| name.to_string()).collect();
        Ok((arn == LB).then(|| Balancer {
            arn: LB.into(),
            kind: "application".into(),
            zones,
            groups: vec![GROUP.into()],
        }))
    }
    async fn balancers_of(&self, _group: &str) -> Result<Vec<String>, AwsError> {
        Ok(vec![LB.to_owned()])
    }
    async fn zone_ids(&self) -> Result<BTreeMap<String, String>, AwsError> {
        Ok(ZONES.iter().map(|(name, id)| (name.to_string(), id.to_string())).collect())
    }
    async fn instance_zones(&self, ids: &[String]) -> Result<BTreeMap<String, String>, AwsError> {
        Ok(ids.iter().map(|id| (id.clone(), ZONES[self.zone_of(id)].0.to_owned())).collect())
    }
    async fn managed_resource(&self, arn: &str) -> Result<Option<ManagedResource>, AwsError> {
        let away = self.shifted_away();
        let weight = |z: usize| if away == Some(z) { 0.0 } else { 1.0 };
        let active = self.shift.lock().unwrap().clone();
        let shifts = active.iter().map(|(zone, kind, id)| ActiveShift {
            kind: *kind,
            id: Some(id.clone()),
            away_from: ZONES[*zone].1.into(),
            applied: true,
            comment: None,
            started_at: None,
            expires_at: None,
        });
        Ok(Some(ManagedResource {
            arn: arn.into(),
            applied_weights: (0..self.zones).map(|z| (ZONES[z].1.to_owned(), weight(z))).collect(),
            shifts: shifts.collect(),
            autoshift_enabled: false,
        }))
    }
    async fn start_shift(&self, arn: &str, away_from: &str, _minutes: u32, _comment: &str) -> Result<String, AwsError> {
        let mut shift = self.shift.lock().unwrap();
        let zone = ZONES.iter().position(|(_, id)| *id == away_from).filter(|_| shift.is_none());
        let Some(zone) = zone else {
            let message = "a zonal shift is already active".into();
            let code = Some("ConflictException".into());
            return Err(AwsError {
                operation: "StartZonalShift",
                resource: arn.into(),
                code,
                transient: false,
                message,
            });
        };
        *shift = Some((zone, ShiftKind::ZonalShift, "ours".into()));
        Ok("ours".into())
    }
    async fn cancel_shift(&self, id: &str) -> Result<bool, AwsError> {
        let mut shift = self.shift.lock().unwrap();
        let ours = shift.as_ref().is_some_and(|(_, _, active)| active == id);
        if ours {
            *shift = None;
        }
        Ok(ours)
    }
}
impl target_failover::ports::Fleet for Fleet {}
