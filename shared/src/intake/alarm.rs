//! CloudWatch alarm state changes, normalised from the three delivery paths (CloudWatch User Guide, "Alarm events and EventBridge").

use std::collections::BTreeMap;

use serde::Serialize;

use super::json::Node;
use super::{split_arn, IntakeError};

pub(crate) const EVENTBRIDGE: &str = "CloudWatch alarm event";
pub(crate) const ALARM_ACTION: &str = "CloudWatch alarm action";
pub(crate) const SNS_ALARM: &str = "CloudWatch alarm SNS message";

/// How the alarm reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    EventBridge,
    Sns,
    AlarmAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    fn parse(node: &Node<'_>) -> Result<Self, IntakeError> {
        match node.str()? {
            "OK" => Ok(AlarmState::Ok),
            "ALARM" => Ok(AlarmState::Alarm),
            "INSUFFICIENT_DATA" => Ok(AlarmState::InsufficientData),
            _ => Err(node.invalid("OK, ALARM or INSUFFICIENT_DATA")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// What the alarm watches: one metric, a metric-math or anomaly-detection expression over several, or other
/// alarms (composite: no metrics at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmKind {
    Metric,
    MetricMath,
    Composite,
}

/// One entry of the alarm's metrics: a metric (namespace, name, dimensions) or an expression.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlarmMetric {
    pub id: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Always a map here, whether AWS sent a map (EventBridge, alarm action) or a `{name,value}` list (SNS).
    pub dimensions: BTreeMap<String, String>,
    pub stat: Option<String>,
    /// Seconds; may exceed 65,535.
    pub period: Option<u64>,
    /// Metric-math or anomaly-detection expression, for entries without a metric.
    pub expression: Option<String>,
}

/// A CloudWatch alarm's change of state, whichever way it was delivered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmChange {
    pub delivery: Delivery,
    pub alarm_name: String,
    pub alarm_arn: String,
    pub account: String,
    /// From the alarm ARN: SNS gives only a display name such as "US East (N. Virginia)".
    pub region: String,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
    pub reason: String,
    /// As AWS wrote it, e.g. `2024-05-01T10:00:00.120+0000`.
    pub time: Option<String>,
    pub description: Option<String>,
    pub kind: AlarmKind,
    pub metrics: Vec<AlarmMetric>,
    /// The delivery's own id (EventBridge event id or SNS message id), for logs.
    pub delivery_id: Option<String>,
}

impl AlarmChange {
    /// Distinct values of a dimension across all the alarm's metrics, in order of appearance. Blank values are
    /// left out: CloudWatch never sends one (values are 1 to 1,024 characters), and an empty identifier must not
    /// reach a `Describe*` call, where it can mean "all of them".
    pub fn dimension_values(&self, key: &str) -> Vec<&str> {
        let mut values: Vec<&str> = Vec::new();
        for metric in &self.metrics {
            if let Some(value) = metric.dimensions.get(key).filter(|v| !v.trim().is_empty()) {
                if !values.contains(&value.as_str()) {
                    values.push(value);
                }
            }
        }
        values
    }

    /// The alarm entered ALARM from another state (or from an unknown one).
    pub fn entered_alarm(&self) -> bool {
        self.state == AlarmState::Alarm && self.previous_state != Some(AlarmState::Alarm)
    }
}

/// EventBridge `CloudWatch Alarm State Change`.
pub(crate) fn from_eventbridge(root: &Node<'_>) -> Result<AlarmChange, IntakeError> {
    let resources = root.req("resources")?.items()?;
    let arn_node = resources
        .iter()
        .find(|r| r.value.as_str().is_some_and(|s| s.contains(":alarm:")))
        .or(resources.first())
        .ok_or_else(|| root.missing("resources[0]"))?;
    let detail = root.req("detail")?;
    let alarm = AlarmParts::from_inner(&detail)?;
    let envelope_account = root.opt_str("account")?;
    let envelope_region = root.opt_str("region")?;
    alarm.finish(Delivery::EventBridge, arn_node, envelope_account, envelope_region, root.opt_str("id")?)
}

/// A direct Lambda alarm action: `{source, alarmArn, accountId, time, region, alarmData{...}}`.
pub(crate) fn from_alarm_action(root: &Node<'_>) -> Result<AlarmChange, IntakeError> {
    let arn_node = root.req("alarmArn")?;
    let data = root.req("alarmData")?;
    let mut alarm = AlarmParts::from_inner(&data)?;
    if alarm.time.is_none() {
        alarm.time = root.opt_str("time")?.map(str::to_owned);
    }
    alarm.finish(Delivery::AlarmAction, &arn_node, root.opt_str("accountId")?, root.opt_str("region")?, None)
}

/// The alarm notification that CloudWatch publishes to SNS (already parsed from its JSON string).
pub(crate) fn from_sns_message(root: &Node<'_>, message_id: Option<&str>) -> Result<AlarmChange, IntakeError> {
    let arn_node = root.req("AlarmArn")?;
    let mut metrics = Vec::new();
    let mut kind = AlarmKind::Metric;
    if let Some(trigger) = root.get("Trigger") {
        if let Some(list) = trigger.get("Metrics") {
            for entry in list.items()? {
                let metric = metric_entry(&entry, &SNS_KEYS)?;
                if metric.expression.is_some() {
                    kind = AlarmKind::MetricMath;
                }
                metrics.push(metric);
            }
        } else if trigger.get("MetricName").is_some() || trigger.get("Namespace").is_some() {
            metrics.push(AlarmMetric {
                id: None,
                namespace: trigger.opt_str("Namespace")?.map(str::to_owned),
                name: trigger.opt_str("MetricName")?.map(str::to_owned),
                dimensions: dimensions(trigger.get("Dimensions"))?,
                stat: trigger
                    .get_any(&["Statistic", "ExtendedStatistic"])
                    .map(|n| n.str())
                    .transpose()?
                    .map(str::to_owned),
                period: trigger.get("Period").map(|n| n.u64()).transpose()?,
                expression: None,
            });
        }
    }
    if metrics.is_empty() {
        kind = AlarmKind::Composite;
    }
    let alarm = AlarmParts {
        name: root.req_str("AlarmName")?.to_owned(),
        state: AlarmState::parse(&root.req("NewStateValue")?)?,
        previous_state: root.get("OldStateValue").map(|n| AlarmState::parse(&n)).transpose()?,
        reason: root.opt_str("NewStateReason")?.unwrap_or_default().to_owned(),
        time: root.opt_str("StateChangeTime")?.map(str::to_owned),
        description: root.opt_str("AlarmDescription")?.map(str::to_owned),
        kind,
        metrics,
    };
    alarm.finish(Delivery::Sns, &arn_node, root.opt_str("AWSAccountId")?, None, message_id)
}

/// The fields shared by the EventBridge `detail` and the alarm action's `alarmData`.
struct AlarmParts {
    name: String,
    state: AlarmState,
    previous_state: Option<AlarmState>,
    reason: String,
    time: Option<String>,
    description: Option<String>,
    kind: AlarmKind,
    metrics: Vec<AlarmMetric>,
}

impl AlarmParts {
    fn from_inner(inner: &Node<'_>) -> Result<Self, IntakeError> {
        let state = inner.req("state")?;
        let previous = inner.get("previousState");
        let configuration = inner.get("configuration");
        let mut metrics = Vec::new();
        let mut kind = AlarmKind::Metric;
        if let Some(list) = configuration.as_ref().and_then(|c| c.get("metrics")) {
            for entry in list.items()? {
                let metric = metric_entry(&entry, &INNER_KEYS)?;
                if metric.expression.is_some() {
                    kind = AlarmKind::MetricMath;
                }
                metrics.push(metric);
            }
        }
        if metrics.is_empty() {
            kind = AlarmKind::Composite;
        }
        Ok(AlarmParts {
            name: inner.req_str("alarmName")?.to_owned(),
            state: AlarmState::parse(&state.req("value")?)?,
            previous_state: previous
                .as_ref()
                .and_then(|p| p.get("value"))
                .map(|n| AlarmState::parse(&n))
                .transpose()?,
            reason: state.opt_str("reason")?.unwrap_or_default().to_owned(),
            time: state.opt_str("timestamp")?.map(str::to_owned),
            description: configuration
                .as_ref()
                .map(|c| c.opt_str("description"))
                .transpose()?
                .flatten()
                .map(str::to_owned),
            kind,
            metrics,
        })
    }

    /// Account and region come from the alarm ARN; the envelope's are used only when the ARN lacks them.
    fn finish(
        self,
        delivery: Delivery,
        arn_node: &Node<'_>,
        envelope_account: Option<&str>,
        envelope_region: Option<&str>,
        delivery_id: Option<&str>,
    ) -> Result<AlarmChange, IntakeError> {
        let arn = arn_node.str()?;
        let parts = split_arn(arn).filter(|p| p.service == "cloudwatch").ok_or_else(|| {
            arn_node.invalid("a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>)")
        })?;
        let region = if parts.region.is_empty() { envelope_region.unwrap_or_default() } else { parts.region };
        let account = if parts.account.is_empty() { envelope_account.unwrap_or_default() } else { parts.account };
        if region.is_empty() || account.is_empty() {
            return Err(arn_node.invalid("an alarm ARN with a region and an account"));
        }
        Ok(AlarmChange {
            delivery,
            alarm_name: self.name,
            alarm_arn: arn.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            state: self.state,
            previous_state: self.previous_state,
            reason: self.reason,
            time: self.time,
            description: self.description,
            kind: self.kind,
            metrics: self.metrics,
            delivery_id: delivery_id.map(str::to_owned),
        })
    }
}

/// The spellings of a metric entry's fields: camel case in EventBridge and alarm actions, Pascal case in SNS.
struct MetricKeys {
    id: &'static str,
    expression: &'static str,
    metric_stat: &'static str,
    metric: &'static str,
    namespace: &'static str,
    name: &'static str,
    dimensions: &'static str,
    stat: &'static str,
    period: &'static str,
}

const INNER_KEYS: MetricKeys = MetricKeys {
    id: "id",
    expression: "expression",
    metric_stat: "metricStat",
    metric: "metric",
    namespace: "namespace",
    name: "name",
    dimensions: "dimensions",
    stat: "stat",
    period: "period",
};

const SNS_KEYS: MetricKeys = MetricKeys {
    id: "Id",
    expression: "Expression",
    metric_stat: "MetricStat",
    metric: "Metric",
    namespace: "Namespace",
    name: "MetricName",
    dimensions: "Dimensions",
    stat: "Stat",
    period: "Period",
};

/// One entry of a metrics list: a metric with its statistic, or an expression over other entries.
fn metric_entry(entry: &Node<'_>, keys: &MetricKeys) -> Result<AlarmMetric, IntakeError> {
    let mut metric = AlarmMetric {
        id: entry.opt_str(keys.id)?.map(str::to_owned),
        expression: entry.opt_str(keys.expression)?.map(str::to_owned),
        ..AlarmMetric::default()
    };
    if let Some(stat) = entry.get(keys.metric_stat) {
        let inner = stat.req(keys.metric)?;
        metric.namespace = inner.opt_str(keys.namespace)?.map(str::to_owned);
        metric.name = inner.opt_str(keys.name)?.map(str::to_owned);
        metric.dimensions = dimensions(inner.get(keys.dimensions))?;
        metric.stat = stat.opt_str(keys.stat)?.map(str::to_owned);
        metric.period = stat.get(keys.period).map(|n| n.u64()).transpose()?;
    }
    Ok(metric)
}

/// Dimensions as a map (`{"TargetGroup": "targetgroup/web/1a2b"}`) or as a list of `{name, value}` (SNS,
/// either capitalisation), always returned as a map.
fn dimensions(node: Option<Node<'_>>) -> Result<BTreeMap<String, String>, IntakeError> {
    let mut map = BTreeMap::new();
    let Some(node) = node else { return Ok(map) };
    if let Some(object) = node.value.as_object() {
        for key in object.keys() {
            if let Some(value) = node.get(key) {
                map.insert(key.clone(), value.str()?.to_owned());
            }
        }
        return Ok(map);
    }
    if node.value.is_array() {
        for item in node.items()? {
            let name = item.get_any(&["name", "Name"]).ok_or_else(|| item.missing("name"))?;
            let value = item.get_any(&["value", "Value"]).ok_or_else(|| item.missing("value"))?;
            map.insert(name.str()?.to_owned(), value.str()?.to_owned());
        }
        return Ok(map);
    }
    Err(node.wrong_type("a map or a list of {name, value}"))
}
