//! The integration tests against the local AWS, as one test binary: one link of the SDK crates and one launcher
//! (`integration_tests::local_aws`) for all of them, instead of one each. Each module is one area; run one with
//! `cargo test -p integration-tests --test against_local_aws <module>::`.

mod database_authority;
mod database_aws_first;
mod database_failover;
mod database_fence;
mod database_global;
mod database_global_dns;
mod database_global_incident;
mod database_identity;
mod database_incident;
mod database_lineage;
mod database_multi_az_cluster;
mod database_onset;
mod database_policy;
mod database_proxy;
mod database_readiness;
mod database_regions;
mod database_timeline;
mod delivery;
mod ledger;
mod notifications;
mod region_switch;
mod settings_contract;
mod shop;
mod target_cross_zone;
mod target_failover;
mod target_fan_out;
mod target_hold;
mod target_incident;
mod target_readiness;
mod target_replace;
mod target_timeline;
mod target_zonal;
mod target_zone_signal;
mod zonal_adapters;

/// A step of a `timeline` response's `details.timeline.entries`: (at, what, record, trigger, outcome).
pub type Step<'a> = (i64, &'a str, &'a str, &'a str, &'a str);

/// The steps a `timeline` response lists, in its order.
pub fn timeline_steps(details: &serde_json::Value) -> Vec<Step<'_>> {
    fn text<'v>(entry: &'v serde_json::Value, field: &str) -> &'v str {
        entry[field].as_str().expect("a text field")
    }
    let entries = details["timeline"]["entries"].as_array().expect("timeline entries");
    entries
        .iter()
        .map(|e| {
            (e["at"].as_i64().expect("at"), text(e, "what"), text(e, "record"), text(e, "trigger"), text(e, "outcome"))
        })
        .collect()
}
