//! The proxy step of a promotion: the RDS Proxy target group a primary's `failover:rds-proxy` tag names
//! (`<proxy-name>[/<target-group>]`, recorded with the decision) follows the promoted replica, compare-and-swap
//! style ([`decide::proxy_step`]): its targets are read; only when the failed primary is the target is it
//! deregistered and the new primary registered (in that order: a target group holds one instance; the module
//! doc of `decide/proxy.rs` says why the gap is short and safe). A target group that holds another instance is
//! left alone, and the result says where it points; a missing proxy or group changes nothing. It runs where the
//! DNS step runs: once the promoted replica takes writes, after the DNS step.
//!
//! Idempotency: a retry of the same decision (the record stays pending until every step is done) reads the
//! targets again: the new primary already registered is "already there"; an empty group (a run cut short
//! between the two calls) gets the new primary registered, and the notification says so. Only a resumed
//! decision refills an empty group: one its first run finds empty was emptied by someone else and is left so. A registration that
//! RDS refuses as already registered is read again, to say truthfully what the group holds.
//!
//! AWS calls (in the primary's region): one `DescribeDBProxyTargets`, then `DeregisterDBProxyTargets` and
//! `RegisterDBProxyTargets` of one instance each when moving (one more `DescribeDBProxyTargets` only when the
//! registration is refused as already done). No ledger call: the promotion's `begin`/`end` frame it.

use failover_core::aws::AwsError;

use super::Context;
use crate::decide::{self, Promotion, ProxyResult, ProxyStep};
use crate::model::{ProxyMove, ProxyTargets, TargetChange};
use crate::ports::{Databases, Ports};
use crate::report::Failure;

/// The proxy step of `p`, once its replica takes writes; `done` gets the changes made.
pub async fn follow<P: Ports>(
    ctx: &Context<'_, P>,
    p: &Promotion,
    done: &mut Vec<String>,
) -> Result<ProxyResult, Failure> {
    let Ok(Some(m)) = &p.proxy else {
        let planned = p.planned_proxy();
        if planned.is_warning() {
            tracing::warn!(replica = %p.replica, proxy = ?planned, "RDS Proxy target not changed");
        }
        return Ok(planned);
    };
    let result = run(ctx, &p.primary.region, m, &p.replica.id, p.resumed, done).await;
    result.map_err(|error| Failure { step: "move the RDS Proxy target", error: error.into(), done: done.clone() })
}

/// Moves `m`'s target group in `region` from `m.from` to `to`, or says why not; `resumed`: completing a
/// decision an earlier run recorded (only then is an empty group refilled).
pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    region: &str,
    m: &ProxyMove,
    to: &str,
    resumed: bool,
    done: &mut Vec<String>,
) -> Result<ProxyResult, AwsError> {
    let (b, from) = (&m.binding, m.from.clone());
    let (proxy, target_group, to) = (b.proxy.clone(), b.target_group.clone(), to.to_owned());
    let targets = ctx.databases.proxy_targets(region, b).await?;
    let (deregistered, register) = match decide::proxy_step(&targets, &from, &to, resumed) {
        ProxyStep::Move { register } => {
            if ctx.databases.deregister_proxy_target(region, b, &from).await? == TargetChange::Gone {
                return Ok(not_found(m, "proxy or target group"));
            }
            tracing::info!(proxy, target_group, instance = from, "deregistered the failed primary from the proxy");
            done.push(format!("deregistered {from} from {b}"));
            (true, register)
        }
        ProxyStep::Register => (false, true),
        ProxyStep::AlreadyThere => return Ok(ProxyResult::AlreadyThere { proxy, target_group, to }),
        ProxyStep::Elsewhere { points_to } => return Ok(left_alone(m, points_to)),
        ProxyStep::Empty => {
            let result = ProxyResult::LeftEmpty { proxy, target_group, from };
            tracing::warn!(?result, "RDS Proxy target not changed");
            return Ok(result);
        }
        ProxyStep::NotFound { what } => return Ok(not_found(m, what)),
    };
    let result = if deregistered {
        ProxyResult::Moved { proxy, target_group, from, to: to.clone() }
    } else {
        ProxyResult::Registered { proxy, target_group, from, to: to.clone() }
    };
    if !register {
        return Ok(result);
    }
    match ctx.databases.register_proxy_target(region, b, &to).await? {
        TargetChange::Changed => {}
        TargetChange::Gone => return Ok(not_found(m, "proxy or target group")),
        // Refused as registered: what the group holds now is what is reported.
        TargetChange::AlreadyDone => {
            return Ok(match ctx.databases.proxy_targets(region, b).await? {
                ProxyTargets::Found(now) if now.iter().any(|t| t.id.eq_ignore_ascii_case(&to)) => result,
                ProxyTargets::Found(now) => left_alone(m, now.into_iter().map(|t| t.id).collect()),
                _ => not_found(m, "proxy or target group"),
            });
        }
    }
    tracing::info!(?result, "registered the new primary in the proxy");
    done.push(format!("registered {to} in {b}"));
    Ok(result)
}

fn left_alone(m: &ProxyMove, points_to: Vec<String>) -> ProxyResult {
    let result = ProxyResult::LeftAlone {
        proxy: m.binding.proxy.clone(),
        target_group: m.binding.target_group.clone(),
        from: m.from.clone(),
        points_to,
    };
    tracing::warn!(?result, "RDS Proxy target not changed");
    result
}

fn not_found(m: &ProxyMove, what: &str) -> ProxyResult {
    let result = ProxyResult::NotFound {
        proxy: m.binding.proxy.clone(),
        target_group: m.binding.target_group.clone(),
        what: what.to_owned(),
    };
    tracing::warn!(?result, "RDS Proxy target not changed");
    result
}
