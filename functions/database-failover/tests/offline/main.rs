//! database-failover's tests that need no local AWS (property tests of the policy, SDK faults through
//! `aws-smithy-mocks`), as one test binary: one link of the SDK crates for both. Run one module with
//! `cargo test -p database-failover --test offline <module>::`.

mod fence_properties;
mod global_properties;
mod properties;
mod proxy_adapter;
mod sdk_adapters;
