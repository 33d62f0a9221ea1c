//! The client paths of a promotion: each way clients reach the primary (the DNS record, the RDS Proxy) and what
//! the promotion did to it, in the summary (`Client paths: …`) and in `details.client_paths`. The DNS step's
//! own sentence and next steps are [`super::promotion`]'s; the proxy step's are added here.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use crate::decide::{DnsResult, Promotion, Propagation, ProxyResult};
use crate::model::{DNS_RECORD_TAG, PROXY_TAG};

/// The DNS path: its record, and its state in a word or two.
fn dns_path(dns: &DnsResult) -> Value {
    let (name, state) = match dns {
        DnsResult::Untagged => (None, "not tagged".to_owned()),
        DnsResult::NotPlanned { .. } => (None, "not planned".to_owned()),
        DnsResult::NoEndpointYet { record } => (Some(record), "pending: no endpoint yet".to_owned()),
        DnsResult::WouldRepoint { record, .. } => (Some(record), "would repoint".to_owned()),
        DnsResult::Repointed { record, propagation, .. } => (
            Some(record),
            match propagation {
                Propagation::InSync { .. } => "repointed, in sync".to_owned(),
                Propagation::Pending { .. } => "repointed, propagation pending".to_owned(),
                Propagation::Unknown { .. } | Propagation::NotChecked => "repointed".to_owned(),
            },
        ),
        DnsResult::AlreadyThere { record, .. } => (Some(record), "already there".to_owned()),
        DnsResult::Elsewhere { record, points_to, .. } => {
            (Some(record), format!("left alone: points at {}", points_to.join(", ")))
        }
        DnsResult::Missing { record } => (Some(record), "not found".to_owned()),
        DnsResult::FollowsGlobal { record, .. } => (Some(record), "at the global writer endpoint".to_owned()),
    };
    json!({"path": "dns-record", "tag": DNS_RECORD_TAG, "name": name, "state": state})
}

/// The proxy path: `<proxy>/<target group>`, and its state.
fn proxy_path(proxy: &ProxyResult) -> Value {
    let name = match proxy {
        ProxyResult::WouldMove { proxy, target_group, .. }
        | ProxyResult::Moved { proxy, target_group, .. }
        | ProxyResult::Registered { proxy, target_group, .. }
        | ProxyResult::AlreadyThere { proxy, target_group, .. }
        | ProxyResult::LeftAlone { proxy, target_group, .. }
        | ProxyResult::LeftEmpty { proxy, target_group, .. }
        | ProxyResult::NotFound { proxy, target_group, .. } => Some(format!("{proxy}/{target_group}")),
        ProxyResult::Untagged | ProxyResult::NotPlanned { .. } => None,
    };
    json!({"path": "rds-proxy", "tag": PROXY_TAG, "name": name, "state": proxy.state()})
}

/// `report` (a promotion's, made with `dns`) with the proxy step's sentence, its warning, its next step and the
/// client paths.
pub fn with_client_paths(mut report: Report, p: &Promotion, dns: &DnsResult, proxy: &ProxyResult) -> Report {
    if let Some(sentence) = proxy.sentence() {
        report.summary.push(' ');
        report.summary.push_str(&sentence);
    }
    let paths = [dns_path(dns), proxy_path(proxy)];
    let line: Vec<String> = paths
        .iter()
        .map(|path| {
            let what = if path["path"] == "dns-record" { "DNS record" } else { "RDS Proxy" };
            match path["name"].as_str() {
                Some(name) => format!("{what} {name}: {}", path["state"].as_str().unwrap_or_default()),
                None => format!("{what}: {}", path["state"].as_str().unwrap_or_default()),
            }
        })
        .collect();
    report.summary.push_str(&format!(" Client paths: {}.", line.join("; ")));
    report.details["proxy"] = serde_json::to_value(proxy).unwrap_or(Value::Null);
    report.details["client_paths"] = json!(paths);
    if report.outcome == Outcome::Succeeded && proxy.is_warning() {
        report.title.push_str("; RDS Proxy target not moved");
        report.severity = Severity::Warning;
    }
    if report.outcome == Outcome::Succeeded {
        report.next_steps.extend(next_step(p, proxy));
    }
    // A run stopped between the two calls leaves the group without a target until the retry: say how to end that.
    if let (Outcome::Failed, ProxyResult::WouldMove { proxy, target_group, to, .. }) = (report.outcome, proxy) {
        report.next_steps.push(format!(
            "If {proxy} (target group {target_group}) has no target now (aws rds describe-db-proxy-targets \
             --db-proxy-name {proxy} --target-group-name {target_group}), register {to} by hand: aws rds \
             register-db-proxy-targets --db-proxy-name {proxy} --target-group-name {target_group} \
             --db-instance-identifiers {to}."
        ));
    }
    report
}

/// What a person does about the proxy after the promotion, with the command.
fn next_step(p: &Promotion, proxy: &ProxyResult) -> Option<String> {
    let primary = &p.primary.id;
    Some(match proxy {
        ProxyResult::Moved { proxy, to, .. }
        | ProxyResult::Registered { proxy, to, .. }
        | ProxyResult::AlreadyThere { proxy, to, .. } => format!(
            "Check that {proxy}'s target {to} is AVAILABLE: aws rds describe-db-proxy-targets --db-proxy-name {proxy}."
        ),
        ProxyResult::LeftAlone { proxy, target_group, points_to, .. } => format!(
            "{proxy} (target group {target_group}) was left pointing to {}: if it should follow {primary}, run aws \
             rds deregister-db-proxy-targets --db-proxy-name {proxy} --target-group-name {target_group} \
             --db-instance-identifiers {}, then aws rds register-db-proxy-targets --db-proxy-name {proxy} \
             --target-group-name {target_group} --db-instance-identifiers {}; otherwise remove the {PROXY_TAG} tag \
             from {primary}.",
            points_to.join(", "),
            points_to.join(" "),
            p.replica.id
        ),
        ProxyResult::LeftEmpty { proxy, target_group, .. } => format!(
            "{proxy} (target group {target_group}) was left without a target: if it should follow {primary}, run \
             aws rds register-db-proxy-targets --db-proxy-name {proxy} --target-group-name {target_group} \
             --db-instance-identifiers {}; otherwise remove the {PROXY_TAG} tag from {primary}.",
            p.replica.id
        ),
        ProxyResult::NotFound { proxy, target_group, what } => format!(
            "The {what} of {PROXY_TAG}={proxy}/{target_group} on {primary} does not exist: point the tag at the \
             proxy clients use (aws rds describe-db-proxies), and register {} in it by hand.",
            p.replica.id
        ),
        ProxyResult::NotPlanned { reason } => format!("Move any RDS Proxy of {primary} by hand: {reason}."),
        ProxyResult::Untagged | ProxyResult::WouldMove { .. } => return None,
    })
}
