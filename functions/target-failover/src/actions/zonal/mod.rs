//! The zonal actions of a load balancer: [`evacuate`] a failing zone with ARC zonal shift,
//! [`return_zone`] it when it recovers (after the [`hold`] when the shift silenced the alarm); [`facts`] is what
//! they read. This file dispatches a per-zone alarm
//! (`LoadBalancer` and `AvailabilityZone` dimensions, [`crate::route::ZonalAlarm`]) and the `evacuate-zone` and
//! `return-zone` commands to them; the policy is [`crate::decide::zonal`]'s. A target group's alarm reaches
//! [`evacuate`] through [`zone_watch`] (signal 2), and `status` and `readiness` add [`status`] and
//! [`readiness`].
//!
//! The load balancer is a ledger resource, `load-balancer:<ARN>`, with records `zonal-shift#<time>-<invocation>`
//! (a shift this function started) and `deferred#<shift>` (a shift someone else started, deferred to). At most
//! one shift per load balancer, never away from the last healthy zone nor below a group's floor (the incident's
//! baseline floor while one of the group's removals is open); a shift someone else started is deferred to and
//! never cancelled; a group that loses no healthy target with the zone (empty, idle) does not block it. The OK cancels the shifts of that zone its own alarm started; `return-zone`
//! all of this function's.
//!
//! AWS calls: ALARM and `evacuate-zone` make [`evacuate`]'s (at most one `StartZonalShift`, inside one
//! `begin`/`end`); OK and `return-zone` make [`return_zone`]'s (one `CancelZonalShift` per shift of ours).

use failover_core::report::Report;

use self::evacuate::{Options, ZoneSignal};
use super::Context;
use crate::command::Command;
use crate::config::Failback;
use crate::ports::Ports;
use crate::route::AlarmRoute;

pub mod evacuate;
pub mod facts;
pub mod hold;
pub mod readiness;
pub mod reports;
pub mod return_zone;
pub mod status;
pub mod traffic;
pub mod zone_watch;

/// A per-zone alarm: ALARM evacuates the zone ([`evacuate`]), OK returns it ([`return_zone`]).
/// `owed`: a retry of the event whose notification was not published publishes what it did ([`reports`]).
pub async fn on_alarm<P: Ports>(ctx: &Context<'_, P>, route: &AlarmRoute, owed: bool) -> Vec<Report> {
    let Some(zonal) = &route.zone else { return Vec::new() };
    let dry_run = ctx.config.common.dry_run;
    if route.recovered {
        let ask = return_zone::Return {
            load_balancer: &zonal.load_balancer,
            zone: Some(&zonal.zone),
            alarm_arn: Some(&route.alarm_arn),
            dry_run,
            mode: ctx.config.failback,
            owed,
            silenced: route.silenced,
            due: false,
        };
        return return_zone::run(ctx, ask).await;
    }
    let why = format!("{} is in ALARM", ctx.trigger.strip_prefix("alarm ").unwrap_or(ctx.trigger));
    let signal = ZoneSignal { load_balancer: zonal.load_balancer.clone(), zone: zonal.zone.clone(), why };
    let options = Options { expires_minutes: None, alarm_arn: Some(route.alarm_arn.clone()), owed };
    evacuate::evacuate_with(ctx, &signal, dry_run, &options).await
}

/// `evacuate-zone` (the alarm's guards; `"force": true` only acts while automation is paused) and `return-zone`
/// (this function's shifts only).
pub async fn run<P: Ports>(ctx: &Context<'_, P>, command: &Command, dry_run: bool) -> Vec<Report> {
    match command {
        Command::EvacuateZone { load_balancer, zone, expires_minutes } => {
            let why = "requested by a person".to_owned();
            let signal = ZoneSignal { load_balancer: load_balancer.clone(), zone: zone.clone(), why };
            let options = Options { expires_minutes: *expires_minutes, alarm_arn: None, owed: false };
            evacuate::evacuate_with(ctx, &signal, dry_run, &options).await
        }
        Command::ReturnZone { load_balancer } => {
            let ask = return_zone::Return {
                load_balancer,
                zone: None,
                alarm_arn: None,
                dry_run,
                mode: Failback::Auto,
                owed: false,
                silenced: false,
                due: false,
            };
            return_zone::run(ctx, ask).await
        }
        _ => Vec::new(),
    }
}
