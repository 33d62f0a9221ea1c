//! A pure mapping from an intake [`Event`] (or a manual [`Command`], parsed here: [`invocation`]) to the work
//! it asks for, or a skip with its reason; and, once the instance an event names is described, what it turned
//! out to be ([`described`]). No I/O here.

use failover_core::intake::{AlarmChange, Event, RdsEvent, RdsSourceType};
use failover_core::invoke::InvokeError;
use failover_core::notify::Severity;
use failover_core::shell::Home;

use crate::command::{self, Command, Subject};
use crate::config::Config;
use crate::decide::{Info, Refusal, Trigger};
use crate::model::{DbRef, Instance};

/// AWS's own failovers: reported for information, never acted on (Multi-AZ 0013 started, 0015 / 0049
/// completed; Aurora 0071 completed, 0072 / 0073 started).
pub const INFORMATIONAL_EVENT_IDS: &[&str] =
    &["RDS-EVENT-0013", "RDS-EVENT-0015", "RDS-EVENT-0049", "RDS-EVENT-0071", "RDS-EVENT-0072", "RDS-EVENT-0073"];
/// Multi-AZ: AWS's own failover of an instance started (0013) or completed (0015, 0049). Recorded on the
/// primary's ledger besides being notified: a failover under way holds promotions back
/// ([`crate::decide::aws_first`]).
pub const MULTI_AZ_FAILOVER_EVENT_IDS: &[&str] = &["RDS-EVENT-0013", "RDS-EVENT-0015", "RDS-EVENT-0049"];
/// Aurora: AWS's own failover of a cluster completed. Recorded on the cluster's ledger besides being notified
/// ([`crate::actions::aws_failover`]): it counts for the cooldown as the function's own failovers do.
pub const CLUSTER_FAILOVER_COMPLETED: &str = "RDS-EVENT-0071";
/// Replica-side events: replication stopped (0045), streaming terminated (0057). What a cross-region replica
/// sees when its primary's region is gone.
pub const REPLICA_SIDE_EVENT_IDS: &[&str] = &["RDS-EVENT-0045", "RDS-EVENT-0057"];
/// Problems a person usually fixes in place in minutes, keeping the primary: storage full (0221), invalid
/// parameters (0035; 0036 is an incompatible network). Notified with the fix, never promoted, unless
/// `FAILURE_EVENT_IDS` lists them.
pub const FIX_IN_PLACE_EVENT_IDS: &[&str] = &["RDS-EVENT-0221", "RDS-EVENT-0035"];
/// An instance back in service: restarted (0006), started (0088). An old primary whose promotion is done is
/// fenced then ([`crate::actions::fence`]); any other instance is a logged skip.
pub const AVAILABILITY_EVENT_IDS: &[&str] = &["RDS-EVENT-0006", "RDS-EVENT-0088"];
/// Aurora: the cluster's own failover failed.
pub const CLUSTER_FAILOVER_FAILED: &str = "RDS-EVENT-0069";
/// The work an event asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Not ours, or nothing to do: logged, never notified.
    Skip(String),
    /// AWS's own failover: one informational notification.
    Inform(Info),
    /// A database instance that may be a failed primary (or, once described, a replica or an Aurora member).
    Instance { at: DbRef, trigger: Trigger },
    /// An instance back in service ([`AVAILABILITY_EVENT_IDS`]): fenced if it is an old primary.
    Returned { at: DbRef, event_id: String },
    /// `unfence`: restore the groups an old primary's fence recorded.
    Unfence { at: DbRef, by: Option<String>, reason: Option<String> },
    /// A primary to fix in place (see [`FIX_IN_PLACE_EVENT_IDS`]): notified with the fix.
    FixInPlace { at: DbRef, event_id: String, message: String },
    /// A replica reported that replication stopped.
    Replica { at: DbRef, trigger: Trigger },
    /// An Aurora cluster to fail over.
    Cluster { region: String, id: String, trigger: Trigger },
    /// `promote`: the named replica, with the same guards.
    Promote { at: DbRef, trigger: Trigger },
    /// `status`: what a failure would do now; changes nothing.
    Status { region: String, subject: Subject },
    /// `timeline`: the last incident in the ledger; changes nothing.
    Timeline { region: String, subject: Subject },
    /// `switchover-global`: a planned switchover of a global database to `target` (an ARN, or an identifier in
    /// `region`).
    SwitchoverGlobal { region: String, global: String, target: String },
    /// An alarm or RDS event about a cluster in another region (`ALLOW_CROSS_REGION`): if it is the primary of
    /// a global database with a secondary here, its unplanned failover is decided on.
    GlobalPrimary { region: String, id: String, cause: String },
    /// `approve` of a pending decision.
    Approve { decision: String, by: String },
    /// `reject` of a pending decision.
    Reject { decision: String, by: String },
    /// `readiness`: what a failover would meet, for the region or one resource; changes nothing.
    Readiness { region: String, subject: Option<Subject> },
    /// Ours, but unusable as it stands: notified.
    Refuse(Refusal),
    /// `pause`: automation stops changing anything until `resume`.
    Pause { reason: Option<String>, by: Option<String> },
    /// `resume`.
    Resume,
}

/// An event's work, with the invocation's dry run and a person's `force`.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub route: Route,
    pub dry_run: bool,
    pub force: bool,
}

/// Where an invocation's event goes: a manual command is parsed ([`crate::command`]; an invalid one is an
/// error), an alarm or RDS event from another account than the function's ([`Home`]) is a logged skip, and
/// any other event is [`route`]d.
pub fn invocation(event: &Event, home: &Home, config: &Config) -> Result<Routed, InvokeError> {
    if let Event::Manual(manual) = event {
        let (command, force) = command::read(manual)?;
        let dry_run = manual.dry_run.unwrap_or(config.common.dry_run);
        return Ok(Routed { route: self::command(command, &home.region, force), dry_run, force });
    }
    let route = foreign_account(event, home)
        .or_else(|| config.allow_cross_region.then(|| global_primary(event, &home.region)).flatten())
        .unwrap_or_else(|| route(event, &config.failure_event_ids, &home.region));
    Ok(Routed { route, dry_run: config.common.dry_run, force: false })
}

/// An alarm or RDS event from another account than the function's own: a logged skip, whatever the
/// EventBridge rule let through. `None` when it is this account's, or when either account is unknown.
pub fn foreign_account(event: &Event, home: &Home) -> Option<Route> {
    let account = match event {
        Event::Rds(rds) => rds.account.as_str(),
        Event::Alarm(alarm) => alarm.account.as_str(),
        _ => return None,
    };
    let own = &home.account;
    (!account.is_empty() && !own.is_empty() && account != own)
        .then(|| Route::Skip(format!("event from account {account}, not this function's account {own}: not ours")))
}

/// An alarm entering ALARM on one DB cluster, or a cluster's failover failing (RDS-EVENT-0069), in another region
/// than `home_region`: the primary of a global database may be down ([`Route::GlobalPrimary`]). `None` for
/// anything else (then [`route`] decides).
pub fn global_primary(event: &Event, home_region: &str) -> Option<Route> {
    let (region, id, cause) = match event {
        Event::Alarm(alarm) if alarm.entered_alarm() && alarm.dimension_values("DBInstanceIdentifier").is_empty() => {
            let clusters = alarm.dimension_values("DBClusterIdentifier");
            let [cluster] = clusters.as_slice() else { return None };
            (alarm.region.as_str(), (*cluster).to_owned(), format!("alarm {}", alarm.alarm_name))
        }
        Event::Rds(rds) if rds.source_type == RdsSourceType::Cluster && rds.event_id == CLUSTER_FAILOVER_FAILED => {
            (rds.region.as_str(), rds.source_id.clone(), format!("{} ({})", rds.event_id, rds.message))
        }
        _ => return None,
    };
    (!region.is_empty() && region != home_region).then(|| Route::GlobalPrimary { region: region.to_owned(), id, cause })
}

/// When an RDS event or alarm says the failure happened (its `time`); `None` for commands and other events.
pub fn failure_time(event: &Event) -> Option<i64> {
    let time = match event {
        Event::Rds(rds) => rds.time.as_deref(),
        Event::Alarm(alarm) => alarm.time.as_deref(),
        _ => None,
    };
    time.and_then(failover_core::time::parse_time)
}

/// Which work an alarm or RDS event asks for. Manual commands are parsed by [`crate::command`], then mapped
/// by [`command()`]. An event about a resource in another region than the function's (`home_region`) is a logged
/// skip: the deployment in that region owns it (a cross-region replica is reached from its own region's events).
pub fn route(event: &Event, failure_event_ids: &[String], home_region: &str) -> Route {
    let region = match event {
        Event::Rds(rds) => Some(rds.region.as_str()),
        Event::Alarm(alarm) => Some(alarm.region.as_str()),
        _ => None,
    };
    if let Some(region) = region.filter(|r| !r.is_empty() && *r != home_region) {
        return Route::Skip(format!("event about {region}, not this function's region {home_region}: not ours"));
    }
    match event {
        Event::Rds(rds) => route_rds(rds, failure_event_ids),
        Event::Alarm(alarm) => route_alarm(alarm),
        Event::Manual(m) => Route::Skip(format!("manual command {} is parsed by the command module", m.command)),
        Event::Unsupported { source, detail_type } => Route::Skip(format!("not handled: {detail_type} from {source}")),
    }
}

fn route_rds(rds: &RdsEvent, failure_event_ids: &[String]) -> Route {
    let id = rds.event_id.as_str();
    if INFORMATIONAL_EVENT_IDS.contains(&id) {
        return Route::Inform(Info {
            resource: rds.source_id.clone(),
            region: rds.region.clone(),
            cluster: rds.source_type == RdsSourceType::Cluster,
            event_id: rds.event_id.clone(),
            message: rds.message.clone(),
        });
    }
    match &rds.source_type {
        RdsSourceType::Cluster if id == CLUSTER_FAILOVER_FAILED => Route::Cluster {
            region: rds.region.clone(),
            id: rds.source_id.clone(),
            trigger: Trigger::FailureEvent { event_id: rds.event_id.clone(), message: rds.message.clone() },
        },
        RdsSourceType::Instance if REPLICA_SIDE_EVENT_IDS.contains(&id) => {
            let at = DbRef::new(&rds.region, &rds.source_id);
            Route::Replica { trigger: Trigger::ReplicaSide { replica: at.clone(), cause: rds.event_id.clone() }, at }
        }
        RdsSourceType::Instance if failure_event_ids.iter().any(|f| f == id) => Route::Instance {
            at: DbRef::new(&rds.region, &rds.source_id),
            trigger: Trigger::FailureEvent { event_id: rds.event_id.clone(), message: rds.message.clone() },
        },
        RdsSourceType::Instance if AVAILABILITY_EVENT_IDS.contains(&id) => {
            Route::Returned { at: DbRef::new(&rds.region, &rds.source_id), event_id: rds.event_id.clone() }
        }
        RdsSourceType::Instance if FIX_IN_PLACE_EVENT_IDS.contains(&id) => Route::FixInPlace {
            at: DbRef::new(&rds.region, &rds.source_id),
            event_id: rds.event_id.clone(),
            message: rds.message.clone(),
        },
        other => Route::Skip(format!("{id} on {:?} {} is not a failure this function acts on", other, rds.source_id)),
    }
}

fn route_alarm(alarm: &AlarmChange) -> Route {
    let instances = alarm.dimension_values("DBInstanceIdentifier");
    let clusters = alarm.dimension_values("DBClusterIdentifier");
    if instances.is_empty() && clusters.is_empty() {
        return Route::Skip(format!(
            "alarm {} has no DBInstanceIdentifier or DBClusterIdentifier dimension",
            alarm.alarm_name
        ));
    }
    if !alarm.entered_alarm() {
        return Route::Skip(format!(
            "alarm {} is {} (from {}): database-failover acts only on entering ALARM and never fails back",
            alarm.alarm_name,
            alarm.state.as_str(),
            alarm.previous_state.map_or("unknown", |s| s.as_str())
        ));
    }
    let trigger = Trigger::Alarm { name: alarm.alarm_name.clone() };
    match (instances.as_slice(), clusters.as_slice()) {
        ([], [cluster]) => Route::Cluster { region: alarm.region.clone(), id: (*cluster).to_owned(), trigger },
        ([instance], []) => Route::Instance { at: DbRef::new(&alarm.region, *instance), trigger },
        _ => Route::Refuse(Refusal {
            resource: alarm.alarm_name.clone(),
            reason: format!(
                "alarm {} watches several databases ({}); it cannot say which one failed",
                alarm.alarm_name,
                instances.iter().chain(clusters.iter()).copied().collect::<Vec<_>>().join(", ")
            ),
            severity: Severity::Warning,
            replicas: Vec::new(),
        }),
    }
}

/// The work a manual command asks for; identifiers without a region are in `home_region`.
pub fn command(command: Command, home_region: &str, force: bool) -> Route {
    let region_or_home = |region: Option<String>| region.unwrap_or_else(|| home_region.to_owned());
    match command {
        Command::Status { region, subject } => Route::Status { region: region_or_home(region), subject },
        Command::Promote { region, replica } => {
            let at = DbRef::new(region_or_home(region), replica);
            Route::Promote { trigger: Trigger::ManualPromote { replica: at.clone(), force }, at }
        }
        Command::FailoverCluster { region, cluster, target } => {
            let trigger = Trigger::ManualFailover { target, force };
            Route::Cluster { region: region_or_home(region), id: cluster, trigger }
        }
        Command::Pause { reason, by } => Route::Pause { reason, by },
        Command::Resume => Route::Resume,
        Command::Unfence { region, instance, by, reason } => {
            Route::Unfence { at: DbRef::new(region_or_home(region), instance), by, reason }
        }
        Command::Readiness { region, subject } => Route::Readiness { region: region_or_home(region), subject },
        Command::Timeline { region, subject } => Route::Timeline { region: region_or_home(region), subject },
        Command::SwitchoverGlobal { region, global, target } => {
            Route::SwitchoverGlobal { region: region_or_home(region), global, target }
        }
        Command::Approve { decision, by } => Route::Approve { decision, by },
        Command::Reject { decision, by } => Route::Reject { decision, by },
    }
}

/// What an instance named by an event or alarm turned out to be, once described.
#[derive(Debug, Clone, PartialEq)]
pub enum Described {
    /// Not a replica nor an Aurora member: a primary, whose failure is decided on.
    Primary,
    /// A replica under an alarm: its source is checked, as for a replica-side event.
    ReplicaSide(Trigger),
    /// An Aurora member under an alarm: its cluster fails over if, and only if, it is the writer.
    ClusterMember {
        cluster: String,
    },
    Skip(String),
}

/// Settles an instance event or alarm on `at` ([`Route::Instance`]) once the instance is described: only alarms
/// reach through a replica or an Aurora member; RDS's own events on them are not failures this function acts on.
pub fn described(at: &DbRef, instance: &Instance, trigger: &Trigger) -> Described {
    let id = &at.id;
    match (&instance.cluster, &instance.source, trigger) {
        (Some(cluster), _, Trigger::Alarm { .. }) => Described::ClusterMember { cluster: cluster.clone() },
        (Some(cluster), _, _) => Described::Skip(format!(
            "{id} belongs to DB cluster {cluster}: RDS fails an Aurora or Multi-AZ DB cluster over by itself on \
             instance failures; cluster alarms, writer alarms and RDS-EVENT-0069 drive this function"
        )),
        (None, Some(_), Trigger::Alarm { name }) => {
            Described::ReplicaSide(Trigger::ReplicaSide { replica: at.clone(), cause: format!("alarm {name}") })
        }
        (None, Some(_), _) => Described::Skip(format!("{id} is a read replica: a failed replica is not failed over")),
        (None, None, _) => Described::Primary,
    }
}

#[cfg(test)]
mod tests;
