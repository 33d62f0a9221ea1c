//! A pure mapping: an alarm to the groups and instances it concerns (or a load balancer's zone, or a skip with
//! its reason), a manual command to its action on its group. No I/O: the groups an `InstanceId` alarm
//! concerns are listed later, by the action that fans out over them ([`crate::actions::alarm`]).

use failover_core::intake::InvalidCommand;
use failover_core::intake::{split_arn, AlarmChange, AlarmState, Event, ManualCommand};

use crate::command::{self, Command, Subject};
use crate::model::{group_suffix, Target};

pub use failover_core::shell::Home;

/// An ELB resource's ARN (a target group's, a load balancer's) in the function's own account and region.
fn elb_arn(home: &Home, suffix: &str) -> String {
    format!("arn:{}:elasticloadbalancing:{}:{}:{}", home.partition, home.region, home.account, suffix)
}

/// The trigger of the schedule's tick, as its reports and records name it.
pub const TICK: &str = "schedule restore-holds";

/// What to do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Not this function's, or nothing to do: logged only.
    Skip { trigger: String, reason: String },
    /// An alarm about target groups or instances.
    Alarm { trigger: String, alarm: AlarmRoute },
    /// The schedule's tick (an EventBridge `Scheduled Event`): complete the restore holds that are due
    /// ([`crate::actions::hold`]).
    Tick { trigger: String },
    /// A manual command (on one group, or `pause`/`resume`); `force` acts while automation is paused.
    Command { trigger: String, command: Command, dry_run: bool, force: bool },
}

/// The groups and instances an alarm concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRoute {
    /// `true` for a return to OK (fail back), `false` for a change into ALARM.
    pub recovered: bool,
    /// The groups named by `TargetGroup` dimensions; `None`: every instance group (an `InstanceId` alarm).
    pub groups: Option<Vec<String>>,
    /// The instances named by `InstanceId` dimensions: the candidates, instead of the unhealthy targets.
    pub instances: Vec<Target>,
    /// `TargetGroup` dimensions that name no group, with why: skipped.
    pub bad_dimensions: Vec<String>,
    /// The alarm's ARN, which names it in the ledger (`alarm:<ARN>`).
    pub alarm_arn: String,
    /// When the alarm changed state (milliseconds since the epoch; `None` when the event does not say or
    /// cannot be read): an event no later than the last transition acted on is stale.
    pub changed_at: Option<i64>,
    /// The removal itself silences the alarm's metric (a load balancer's host count or traffic metric,
    /// [`crate::decide::recovery::silenced_by_removal`]): its OK re-registers only after the hold. A per-zone
    /// alarm's: the zonal shift silences it ([`crate::decide::recovery::silenced_by_shift`]): its OK cancels the
    /// shift only after the hold.
    pub silenced: bool,
    /// A per-zone load balancer alarm (`LoadBalancer` and `AvailabilityZone` dimensions): a zonal signal,
    /// evacuated (or returned) instead of acting on the groups, even when it also names a `TargetGroup`.
    pub zone: Option<ZonalAlarm>,
}

/// The load balancer and zone a per-zone alarm is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZonalAlarm {
    /// The load balancer's ARN, from the dimension `app/<name>/<id>` (or `net/...`) and the function's home.
    pub load_balancer: String,
    /// The zone's name, as the dimension gives it (`us-east-1a`).
    pub zone: String,
}

/// `Err` is an invalid manual command, with its reason.
pub fn route(event: &Event, home: &Home, dry_run: bool) -> Result<Route, InvalidCommand> {
    Ok(match event {
        Event::Alarm(alarm) => {
            let trigger = format!("alarm {}", alarm.alarm_name);
            match alarm_route(alarm, home) {
                Ok(alarm) => Route::Alarm { trigger, alarm },
                Err(reason) => Route::Skip { trigger, reason },
            }
        }
        Event::Manual(manual) => command_route(manual, home, dry_run)?,
        Event::Rds(rds) => Route::Skip {
            trigger: "rds event".to_owned(),
            reason: format!("RDS event {} is database-failover's", rds.event_id),
        },
        Event::Unsupported { source, detail_type } if source == "aws.events" && detail_type == "Scheduled Event" => {
            Route::Tick { trigger: TICK.to_owned() }
        }
        Event::Unsupported { source, detail_type } => {
            Route::Skip { trigger: "event".to_owned(), reason: format!("not handled: {detail_type} from {source}") }
        }
    })
}

/// `Err` is the reason to skip the alarm.
fn alarm_route(alarm: &AlarmChange, home: &Home) -> Result<AlarmRoute, String> {
    let recovered = alarm.state == AlarmState::Ok;
    if !recovered && !alarm.entered_alarm() {
        return Err(format!(
            "alarm state {} (previously {}): only a change into ALARM, or OK, is acted on",
            alarm.state.as_str(),
            alarm.previous_state.map_or("unknown", |s| s.as_str())
        ));
    }
    if let Some(why) = home.foreign(&alarm.account, &alarm.region) {
        return Err(format!("alarm {} is not this function's: {why}", alarm.alarm_name));
    }
    let changed_at = alarm.time.as_deref().and_then(failover_core::time::parse_time_ms);
    let silenced = crate::decide::recovery::silenced_by_removal(&alarm.metrics);
    if let Some(zone) = zonal_alarm(alarm, home)? {
        // A zone's alarm: silenced by the zonal shift, not by a removal.
        let silenced = crate::decide::recovery::silenced_by_shift(&alarm.metrics);
        let (groups, instances, bad_dimensions) = (Some(Vec::new()), Vec::new(), Vec::new());
        let alarm_arn = alarm.alarm_arn.clone();
        return Ok(AlarmRoute {
            recovered,
            groups,
            instances,
            bad_dimensions,
            alarm_arn,
            changed_at,
            silenced,
            zone: Some(zone),
        });
    }
    let dimensions = alarm.dimension_values("TargetGroup");
    let instances: Vec<Target> =
        alarm.dimension_values("InstanceId").into_iter().map(|id| Target::new(id, None)).collect();
    if dimensions.is_empty() && instances.is_empty() {
        let database =
            ["DBInstanceIdentifier", "DBClusterIdentifier"].iter().any(|d| !alarm.dimension_values(d).is_empty());
        return Err(if database {
            "a database alarm: database-failover's".to_owned()
        } else {
            "no TargetGroup or InstanceId dimension: not a target alarm".to_owned()
        });
    }
    let mut bad_dimensions = Vec::new();
    let groups = (!dimensions.is_empty()).then(|| {
        let mut arns = Vec::new();
        for dimension in dimensions {
            let arn = elb_arn(home, dimension);
            match group_suffix(&arn) {
                Some(_) => arns.push(arn),
                None => {
                    bad_dimensions.push(format!("TargetGroup dimension {dimension:?} is not targetgroup/<name>/<id>"))
                }
            }
        }
        arns
    });
    let alarm_arn = alarm.alarm_arn.clone();
    Ok(AlarmRoute { recovered, groups, instances, bad_dimensions, alarm_arn, changed_at, silenced, zone: None })
}

/// `Ok(None)`: not a per-zone load balancer alarm. `Err`: one that cannot be acted on (a malformed
/// `LoadBalancer` dimension, or several load balancers or zones in one alarm).
fn zonal_alarm(alarm: &AlarmChange, home: &Home) -> Result<Option<ZonalAlarm>, String> {
    let balancers = alarm.dimension_values("LoadBalancer");
    let zones = alarm.dimension_values("AvailabilityZone");
    let (Some(balancer), Some(zone)) = (balancers.first(), zones.first()) else { return Ok(None) };
    if balancers.len() > 1 || zones.len() > 1 {
        return Err(format!(
            "a per-zone alarm about {} load balancers and {} zones: one of each is evacuated at a time",
            balancers.len(),
            zones.len()
        ));
    }
    let parts: Vec<&str> = balancer.trim().split('/').collect();
    let valid = matches!(parts.as_slice(), [kind, name, id] if ["app", "net"].contains(kind) && !name.is_empty() && !id.is_empty());
    if !valid {
        return Err(format!("LoadBalancer dimension {balancer:?} is not app/<name>/<id> or net/<name>/<id>"));
    }
    let load_balancer = elb_arn(home, &format!("loadbalancer/{}", balancer.trim()));
    Ok(Some(ZonalAlarm { load_balancer, zone: zone.trim().to_owned() }))
}

fn command_route(manual: &ManualCommand, home: &Home, dry_run: bool) -> Result<Route, InvalidCommand> {
    let command = match command::parse(manual)? {
        // An incident id names a resource of the function's own account and region.
        Command::Timeline { of: Subject::Incident(suffix) } => Command::Timeline {
            of: if suffix.starts_with("targetgroup/") {
                Subject::Group(elb_arn(home, &suffix))
            } else {
                Subject::LoadBalancer(elb_arn(home, &suffix))
            },
        },
        command => command,
    };
    let force = manual.body.as_object().map(command::force).transpose()?.unwrap_or(false);
    if let Some((group, parts)) = command.group().and_then(|g| Some((g, split_arn(g)?))) {
        if let Some(why) = home.foreign(parts.account, parts.region) {
            return Err(format!("target group {group} is not this function's: {why}").into());
        }
    }
    if let Some((lb, parts)) = command.load_balancer().and_then(|l| Some((l, split_arn(l)?))) {
        if let Some(why) = home.foreign(parts.account, parts.region) {
            return Err(format!("load balancer {lb} is not this function's: {why}").into());
        }
    }
    let trigger = format!("manual command {}", command.name());
    Ok(Route::Command { trigger, dry_run: manual.dry_run.unwrap_or(dry_run), command, force })
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn home() -> Home {
        Home { partition: "aws".into(), account: "123456789012".into(), region: "us-east-1".into() }
    }

    fn alarm(state: &str, previous: &str, dimensions: serde_json::Value) -> Event {
        let payload = json!({
            "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
            "account": "123456789012", "region": "us-east-1", "time": "2024-05-01T10:00:00Z",
            "id": "1f0e9d8c", "version": "0",
            "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-unhealthy"],
            "detail": {"alarmName": "web-unhealthy",
                       "state": {"value": state}, "previousState": {"value": previous},
                       "configuration": {"metrics": [{"metricStat": {"metric": {
                           "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount",
                           "dimensions": dimensions}}}]}}
        });
        failover_core::intake::parse(&payload).expect("alarm")
    }

    const TG: &str = "targetgroup/web/73e2d6bc24d8a067";

    #[test]
    fn a_target_group_alarm_goes_to_that_group() {
        let Ok(Route::Alarm { trigger, alarm }) =
            route(&alarm("ALARM", "OK", json!({"TargetGroup": TG})), &home(), false)
        else {
            panic!("not routed to the group")
        };
        assert_eq!(trigger, "alarm web-unhealthy");
        assert!(!alarm.recovered && alarm.instances.is_empty());
        assert_eq!(alarm.groups, Some(vec![format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:{TG}")]));
    }

    #[test]
    fn an_instance_alarm_goes_to_every_instance_group_and_ok_means_recovered() {
        let Ok(Route::Alarm { alarm, .. }) =
            route(&alarm("OK", "ALARM", json!({"InstanceId": "i-0abc"})), &home(), false)
        else {
            panic!("not routed")
        };
        assert!(alarm.recovered && alarm.groups.is_none());
        assert_eq!(alarm.instances, vec![Target::new("i-0abc", None)]);
    }

    #[test]
    fn re_evaluations_database_alarms_and_foreign_alarms_are_skipped() {
        let skip = |event: &Event, home: &Home| match route(event, home, false) {
            Ok(Route::Skip { reason, .. }) => reason,
            other => panic!("not skipped: {other:?}"),
        };
        assert!(skip(&alarm("ALARM", "ALARM", json!({"TargetGroup": TG})), &home()).contains("only a change"));
        assert!(skip(&alarm("ALARM", "OK", json!({"DBInstanceIdentifier": "db"})), &home()).contains("database"));
        assert!(skip(&alarm("ALARM", "OK", json!({"LoadBalancer": "app/x/1"})), &home()).contains("not a target"));
        let zonal = json!({"LoadBalancer": "gwy/x/1", "AvailabilityZone": "us-east-1a"});
        assert!(skip(&alarm("ALARM", "OK", zonal), &home()).contains("not app/<name>/<id>"));
        let nlb = json!({"LoadBalancer": "net/x/1", "AvailabilityZone": "us-east-1a"});
        assert!(
            matches!(route(&alarm("ALARM", "OK", nlb), &home(), false), Ok(Route::Alarm { alarm, .. }) if alarm.zone.is_some())
        );
        let elsewhere = Home { region: "eu-west-1".into(), ..home() };
        assert!(skip(&alarm("ALARM", "OK", json!({"TargetGroup": TG})), &elsewhere).contains("region us-east-1"));
    }

    fn manual(payload: serde_json::Value) -> Event {
        failover_core::intake::parse(&payload).expect("manual command")
    }

    #[test]
    fn a_manual_command_goes_to_its_action_with_its_own_dry_run() {
        let arn = format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:{TG}");
        let event = manual(json!({"command": "shift", "target_group_arn": arn, "dry_run": true}));
        let Ok(Route::Command { trigger, command, dry_run, force: false }) = route(&event, &home(), false) else {
            panic!("not routed to the command")
        };
        assert_eq!(
            (trigger.as_str(), command, dry_run),
            ("manual command shift", Command::Shift { group: arn.clone() }, true)
        );
        let event = manual(json!({"command": "status", "target_group_arn": arn}));
        assert!(matches!(route(&event, &home(), true), Ok(Route::Command { dry_run: true, .. })));
    }

    #[test]
    fn a_timeline_of_an_incident_id_is_about_that_resource_of_the_functions_account_and_region() {
        let event = manual(json!({"command": "timeline", "incident": format!("target-failover/{TG}")}));
        let Ok(Route::Command { command, .. }) = route(&event, &home(), false) else { panic!("not routed") };
        let arn = format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:{TG}");
        assert_eq!(command, Command::Timeline { of: Subject::Group(arn) });
        let event = manual(json!({"command": "timeline", "incident": "loadbalancer/app/shop/1111"}));
        let Ok(Route::Command { command, .. }) = route(&event, &home(), false) else { panic!("not routed") };
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1111";
        assert_eq!(command, Command::Timeline { of: Subject::LoadBalancer(lb.into()) });
    }

    #[test]
    fn a_manual_command_on_a_group_of_another_account_is_invalid() {
        let arn = format!("arn:aws:elasticloadbalancing:us-east-1:999999999999:{TG}");
        let error =
            route(&manual(json!({"command": "status", "target_group_arn": arn})), &home(), false).unwrap_err().0;
        assert!(error.contains("account 999999999999"), "{error}");
    }

    #[test]
    fn a_per_zone_load_balancer_alarm_is_a_zonal_signal_even_with_a_target_group() {
        let dimensions = json!({"LoadBalancer": "app/shop/1111", "AvailabilityZone": "us-east-1a", "TargetGroup": TG});
        let Ok(Route::Alarm { alarm, .. }) = route(&alarm("ALARM", "OK", dimensions), &home(), false) else {
            panic!("not routed")
        };
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1111";
        assert_eq!(alarm.zone, Some(ZonalAlarm { load_balancer: lb.into(), zone: "us-east-1a".into() }));
        assert_eq!(alarm.groups, Some(vec![]));
    }

    #[test]
    fn the_per_zone_alarm_sample_in_events_is_a_zonal_signal() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/alarm-eventbridge-zone.json");
        let payload: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let event = failover_core::intake::parse(&payload).unwrap();
        let Ok(Route::Alarm { alarm, .. }) = route(&event, &home(), false) else { panic!("not routed") };
        let zone = alarm.zone.expect("a zonal signal");
        assert_eq!(zone.zone, "us-east-1a");
        assert!(zone.load_balancer.ends_with(":loadbalancer/app/shop-alb/50dc6c495c0c9188"), "{zone:?}");
    }

    #[test]
    fn a_zonal_command_on_a_load_balancer_of_another_account_is_invalid() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:999999999999:loadbalancer/app/shop/1111";
        let event = manual(json!({"command": "return-zone", "load_balancer_arn": lb}));
        let error = route(&event, &home(), false).unwrap_err().0;
        assert!(error.contains("load balancer") && error.contains("account 999999999999"), "{error}");
    }

    #[test]
    fn the_schedules_tick_completes_the_holds_and_an_alarm_says_whether_its_removal_silences_it() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/schedule-restore-holds.json");
        let tick: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let event = failover_core::intake::parse(&tick).expect("a scheduled event");
        assert_eq!(route(&event, &home(), false), Ok(Route::Tick { trigger: TICK.to_owned() }));
        let Ok(Route::Alarm { alarm: unhealthy, .. }) =
            route(&alarm("OK", "ALARM", json!({"TargetGroup": TG})), &home(), false)
        else {
            panic!("not routed")
        };
        assert!(unhealthy.silenced, "UnHealthyHostCount of a target group");
    }

    #[test]
    fn a_malformed_target_group_dimension_is_set_aside() {
        let Ok(Route::Alarm { alarm, .. }) =
            route(&alarm("ALARM", "OK", json!({"TargetGroup": "web"})), &home(), false)
        else {
            panic!("not routed")
        };
        assert_eq!(alarm.groups, Some(vec![]));
        assert_eq!(alarm.bad_dimensions.len(), 1);
    }
}
