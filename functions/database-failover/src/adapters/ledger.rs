//! One authority per primary across regions: [`HomeLedgers`] keeps the decisions about a primary in the ledger
//! table of the primary's own region, whichever stack makes them, so that the stacks of two regions that both
//! see one failure (`ALLOW_CROSS_REGION`) serialise on one lease and find each other's decision.
//!
//! The table of another region is the one `HOME_LEDGER_TABLES` names for it, else this stack's own table name
//! (the convention: both regions deploy the same stack name, and the template names the table after the
//! stack). Its client is derived from the home client with a region override, like the RDS clients.
//! - A resource's records go where its last read came from: the home region's table, or, when that region's
//!   DynamoDB did not answer at all (a connection failure or a timeout: [`AwsError::unreachable`]), this
//!   stack's own table: the decision is made alone, and [`Ledger::alone`] says why, for the report.
//! - A resource that has records in the own table (a decision made alone) stays there, alone, even once the home
//!   region answers again: its decision is completed, never made a second time (one more `Query`, in the own
//!   region, per read of another region's primary).
//! - Any other error of the home table (`AccessDenied`, a missing table) stops the work, naming the fix.
//! - A change begun in another region's table also honours this stack's own pause (read first, unless forced);
//!   the home table's own pause is checked by the transaction itself.
//! - The pause switch is this stack's own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aws_sdk_dynamodb::config::Region;
use failover_core::aws::AwsError;
use failover_core::ledger::{Begin, Begun, DynamoLedger, Ledger, Pause, Record, Settle, Snapshot};

use super::RegionClients;

/// The ledger resources that belong to a region: a primary's promotion decisions (`db-instance:<region>/<id>`).
const REGIONAL_PREFIX: &str = "db-instance:";

/// The region whose ledger holds `resource`'s records, when the resource names one.
pub fn home_region(resource: &str) -> Option<&str> {
    let (region, _) = resource.strip_prefix(REGIONAL_PREFIX)?.split_once('/')?;
    (!region.is_empty()).then_some(region)
}

/// [`Ledger`] over the own region's table and, for a primary of another region, that region's table.
pub struct HomeLedgers {
    own: DynamoLedger,
    own_region: String,
    own_table: String,
    tables: BTreeMap<String, String>,
    /// Other regions' resources in their regions' tables ([`Self::own_only`]: not).
    cross_region: bool,
    clients: RegionClients<aws_sdk_dynamodb::Client>,
    /// Resources whose last read fell back to the own table, with why.
    alone: Mutex<HashMap<String, String>>,
}

impl HomeLedgers {
    /// As the configuration says: other regions' ledgers only with `ALLOW_CROSS_REGION` (without it the stack
    /// decides nothing about a primary of another region, and the template grants no table there).
    pub fn from_config(client: aws_sdk_dynamodb::Client, config: &crate::Config) -> Self {
        let ledgers = Self::new(client, &config.common.ledger_table, config.home_ledger_tables.clone());
        if config.allow_cross_region {
            ledgers
        } else {
            ledgers.own_only()
        }
    }

    /// Every resource in the own table.
    pub fn own_only(mut self) -> Self {
        self.cross_region = false;
        self
    }

    /// `client` is the own region's client; `tables` is `HOME_LEDGER_TABLES` (region → table name).
    pub fn new(client: aws_sdk_dynamodb::Client, own_table: &str, tables: BTreeMap<String, String>) -> Self {
        Self::with_clients(client, own_table, tables, |home, region| {
            aws_sdk_dynamodb::Client::from_conf(
                home.config().to_builder().region(Region::new(region.to_owned())).build(),
            )
        })
    }

    /// [`HomeLedgers::new`] with another region's client made by `derive` (tests: a region that cannot be
    /// reached).
    pub fn with_clients(
        client: aws_sdk_dynamodb::Client,
        own_table: &str,
        tables: BTreeMap<String, String>,
        derive: fn(&aws_sdk_dynamodb::Client, &str) -> aws_sdk_dynamodb::Client,
    ) -> Self {
        let own_region = client.config().region().map(|r| r.to_string()).unwrap_or_default();
        HomeLedgers {
            own: DynamoLedger::new(client.clone(), own_table),
            own_table: own_table.to_owned(),
            clients: RegionClients::new(client, own_region.clone(), derive),
            own_region,
            tables,
            cross_region: true,
            alone: Mutex::new(HashMap::new()),
        }
    }

    /// The table of `region`'s ledger: the one `HOME_LEDGER_TABLES` names, else the own table's name.
    pub fn table_in(&self, region: &str) -> &str {
        self.tables.get(region).map_or(self.own_table.as_str(), String::as_str)
    }

    /// The home region's ledger of `resource`, when it is not this stack's own region.
    fn home_of(&self, resource: &str) -> Option<(String, DynamoLedger)> {
        let elsewhere = |r: &&str| self.cross_region && *r != self.own_region && !self.own_region.is_empty();
        let region = home_region(resource).filter(elsewhere)?;
        Some((region.to_owned(), DynamoLedger::new(self.clients.get(region), self.table_in(region))))
    }

    fn alone_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.alone.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where `resource`'s changes go: its home ledger (`Some`), unless its last read fell back to the own one.
    fn target(&self, resource: &str) -> Option<DynamoLedger> {
        if self.alone_map().contains_key(resource) {
            return None;
        }
        self.home_of(resource).map(|(_, ledger)| ledger)
    }

    /// The ledger `resource`'s changes go to ([`Self::target`], else the own one).
    fn writer(&self, resource: &str) -> DynamoLedger {
        self.target(resource).unwrap_or_else(|| self.own.clone())
    }
}

impl Ledger for HomeLedgers {
    async fn read(&self, resource: &str, now: i64) -> Result<Snapshot, AwsError> {
        let Some((region, home)) = self.home_of(resource) else { return self.own.read(resource, now).await };
        // A decision this stack made alone stays in its own ledger, where it is completed or reported: read
        // from the home region only, it would be unknown there once that region answers again.
        let own = self.own.read(resource, now).await?;
        if !own.records.is_empty() || own.version > 0 {
            let why = format!("this stack decided about it alone earlier, when {region}'s ledger could not be reached");
            self.alone_map().insert(resource.to_owned(), why);
            return Ok(own);
        }
        match home.read(resource, now).await {
            Ok(snapshot) => {
                self.alone_map().remove(resource);
                Ok(snapshot)
            }
            Err(error) if error.unreachable() => {
                tracing::warn!(resource, region, %error, "home region's ledger not reached; deciding alone");
                let why = format!("the home region's ledger could not be reached ({error})");
                self.alone_map().insert(resource.to_owned(), why);
                self.own.read(resource, now).await
            }
            Err(error) => {
                let table = self.table_in(&region);
                let fix = format!(
                    "decisions about a primary in {region} are made in {region}'s ledger (table {table}): check that \
                     the table exists there (the stack deployed in {region} under the same name, or its table's ARN \
                     in HomeLedgerTables / HOME_LEDGER_TABLES) and that this stack may use it (AllowCrossRegion \
                     grants DynamoDB on those tables)"
                );
                Err(AwsError { message: format!("{}; {fix}", error.message), ..error })
            }
        }
    }

    async fn begin(&self, snapshot: &Snapshot, begin: &Begin<'_>) -> Result<Begun, AwsError> {
        let Some(home) = self.target(&snapshot.resource) else { return self.own.begin(snapshot, begin).await };
        if !begin.force {
            if let Some(pause) = self.own.paused().await? {
                return Ok(Begun::Paused(pause));
            }
        }
        home.begin(snapshot, begin).await
    }

    async fn end(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
        records: &[Record],
    ) -> Result<bool, AwsError> {
        self.writer(resource).end(resource, owner, now, retention_secs, settle, records).await
    }

    async fn settle(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
    ) -> Result<bool, AwsError> {
        self.writer(resource).settle(resource, owner, now, retention_secs, settle).await
    }

    async fn pause(&self, pause: &Pause) -> Result<(), AwsError> {
        self.own.pause(pause).await
    }

    async fn resume(&self) -> Result<bool, AwsError> {
        self.own.resume().await
    }

    async fn paused(&self) -> Result<Option<Pause>, AwsError> {
        self.own.paused().await
    }

    fn alone(&self, resource: &str) -> Option<String> {
        self.alone_map().get(resource).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_primarys_decisions_belong_to_its_region() {
        assert_eq!(home_region("db-instance:us-east-1/orders"), Some("us-east-1"));
        assert_eq!(home_region("db-cluster:us-east-1/orders"), None);
        assert_eq!(home_region("db-instance:/orders"), None);
        assert_eq!(home_region("control"), None);
    }

    fn in_us_west_2(tables: &[(&str, &str)]) -> HomeLedgers {
        let config = aws_sdk_dynamodb::Config::builder()
            .region(Region::new("us-west-2"))
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let tables = tables.iter().map(|(r, t)| (r.to_string(), t.to_string())).collect();
        HomeLedgers::new(aws_sdk_dynamodb::Client::from_conf(config), "shop-ledger", tables)
    }

    #[test]
    fn another_regions_primary_is_decided_in_that_regions_table_unless_cross_region_is_off() {
        let ledgers = in_us_west_2(&[("eu-west-1", "eu-ledger")]);
        assert_eq!(ledgers.home_of("db-instance:us-east-1/orders").map(|(r, _)| r).as_deref(), Some("us-east-1"));
        assert_eq!(ledgers.table_in("us-east-1"), "shop-ledger", "the convention: the same name");
        assert_eq!(ledgers.table_in("eu-west-1"), "eu-ledger", "HOME_LEDGER_TABLES");
        assert!(ledgers.home_of("db-instance:us-west-2/orders").is_none(), "its own region: its own table");
        assert!(ledgers.home_of("db-cluster:us-east-1/orders").is_none());
        assert!(in_us_west_2(&[]).own_only().home_of("db-instance:us-east-1/orders").is_none());
    }
}
