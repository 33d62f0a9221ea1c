//! Notifications published through the shared SNS notifier arrive at a subscriber with their attributes.

use failover_core::notify::{NotificationFormat, Notifier, Severity, SnsNotifier};
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use integration_tests::{Account, Subscriber};
use serde_json::json;

fn notification() -> Report {
    Report {
        function: "target-failover".into(),
        action: "deregister-targets".into(),
        outcome: Outcome::Succeeded,
        severity: Severity::Warning,
        title: "1 target deregistered from web".into(),
        summary: "Alarm failover-web_[5xx] <!here> fired; i-0abc left web (3 of 4 healthy remain).".into(),
        incident_id: "target-failover/web".into(),
        resources: vec!["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1".into()],
        details: json!({"healthy_after": 3, "floor": 2}),
        next_steps: vec!["Investigate i-0abc, then restore it with the restore command.".into()],
        error: None,
        region_switch: None,
    }
}

#[tokio::test]
async fn json_notification_arrives_with_its_attributes() {
    let account = Account::new().await;
    let subscriber = Subscriber::create(&account, "failover-json").await;
    let notifier = SnsNotifier::new(account.sns(), subscriber.topic_arn.clone(), NotificationFormat::Json);

    notifier.publish(&notification()).await.expect("publish");

    let received = subscriber.received().await;
    assert_eq!(received.len(), 1, "{received:?}");
    let message = &received[0];
    assert_eq!(message.subject.as_deref(), Some("[failover] succeeded: 1 target deregistered from web"));
    assert_eq!(message.attribute("outcome"), "succeeded");
    assert_eq!(message.attribute("severity"), "warning");
    assert_eq!(message.attribute("action"), "deregister-targets");
    assert_eq!(message.attribute("function"), "target-failover");
    let body = message.body();
    assert_eq!(body["summary"], notification().summary);
    assert_eq!(body["details"]["healthy_after"], 3);
    assert_eq!(body["incident_id"], "target-failover/web");
}

#[tokio::test]
async fn chatbot_notification_arrives_escaped_with_its_attributes() {
    let account = Account::new().await;
    let subscriber = Subscriber::create(&account, "failover-chat").await;
    let notifier = SnsNotifier::new(account.sns(), subscriber.topic_arn.clone(), NotificationFormat::Chatbot);

    let mut refused = notification();
    refused.outcome = Outcome::Refused;
    refused.severity = Severity::Critical;
    notifier.publish(&refused).await.expect("publish");

    let received = subscriber.received().await;
    assert_eq!(received.len(), 1, "{received:?}");
    let message = &received[0];
    assert_eq!(message.attribute("outcome"), "refused");
    assert_eq!(message.attribute("severity"), "critical");
    let body = message.body();
    assert_eq!(body["version"], "1.0");
    assert_eq!(body["source"], "custom");
    assert_eq!(body["metadata"]["threadId"], "target-failover/web");
    let description = body["content"]["description"].as_str().unwrap();
    // As Slack reads it: no mention can be injected, and the name shows as it is (no backslashes).
    assert!(description.contains("failover-web_[5xx] &lt;!here&gt; fired"), "{description}");
}

#[tokio::test]
async fn publishing_to_a_missing_topic_is_an_error_naming_the_topic() {
    let account = Account::new().await;
    let topic = format!("arn:aws:sns:us-east-1:{}:does-not-exist", account.id);
    let notifier = SnsNotifier::new(account.sns(), topic.clone(), NotificationFormat::Json);
    let error = notifier.publish(&notification()).await.expect_err("no such topic");
    assert!(error.to_string().contains(&topic), "{error}");
}
