//! target-failover's tests that need no local AWS (property tests over in-memory ports, SDK faults through
//! `aws-smithy-mocks`), as one test binary: one link of the SDK crates for all of them. Run one module with
//! `cargo test -p target-failover --test offline <module>::`.

mod faults;
mod fleet_adapter;
mod incident_properties;
mod properties;
mod zonal_faults;
mod zonal_properties;
mod zone_signal_properties;
