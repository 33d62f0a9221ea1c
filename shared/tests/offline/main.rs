//! failover-core's property tests (the intake, the ledger protocol, the timeline), as one test binary. Run one module with
//! `cargo test -p failover-core --test offline <module>::`.

mod intake_properties;
mod ledger_properties;
mod timeline_properties;
