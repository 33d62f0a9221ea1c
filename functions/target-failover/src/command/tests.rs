use super::*;
use serde_json::json;

const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";
const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188";

fn manual(body: Value) -> ManualCommand {
    ManualCommand {
        command: body["command"].as_str().unwrap().to_owned(),
        dry_run: body.get("dry_run").and_then(Value::as_bool),
        body,
        region_switch: None,
    }
}

#[test]
fn every_command_parses_with_its_fields() {
    assert_eq!(
        parse(&manual(json!({"command": "status", "target_group_arn": TG}))),
        Ok(Command::Status { group: TG.into() })
    );
    assert_eq!(
        parse(&manual(json!({"command": "deregister", "target_group_arn": TG,
            "targets": ["i-1", {"id": "10.0.0.7", "port": 8080}]}))),
        Ok(Command::Deregister {
            group: TG.into(),
            targets: vec![Target::new("i-1", None), Target::new("10.0.0.7", Some(8080))]
        })
    );
    assert!(matches!(
        parse(&manual(json!({"command": "restore", "target_group_arn": TG, "targets": ["i-1"], "dry_run": true}))),
        Ok(Command::Restore { .. })
    ));
    assert_eq!(
        parse(&manual(json!({"command": "shift", "target_group_arn": TG}))),
        Ok(Command::Shift { group: TG.into() })
    );
    assert_eq!(
        parse(&manual(json!({"command": "failback", "target_group_arn": TG, "force": true}))),
        Ok(Command::Failback { group: TG.into(), force: true })
    );
    assert_eq!(
        parse(&manual(json!({"command": "pause", "reason": "bad deploy", "by": "alice"}))),
        Ok(Command::Pause { by: Some("alice".into()), reason: Some("bad deploy".into()) })
    );
    assert_eq!(parse(&manual(json!({"command": "pause"}))), Ok(Command::Pause { by: None, reason: None }));
    assert_eq!(parse(&manual(json!({"command": "resume"}))), Ok(Command::Resume));
    assert_eq!(
        parse(&manual(json!({"command": "readiness", "dry_run": true}))),
        Ok(Command::Readiness { group: None })
    );
    assert_eq!(
        parse(&manual(json!({"command": "readiness", "target_group_arn": TG}))),
        Ok(Command::Readiness { group: Some(TG.into()) })
    );
    assert!(matches!(
        parse(&manual(json!({"command": "shift", "target_group_arn": TG, "force": true}))),
        Ok(Command::Shift { .. })
    ));
    assert_eq!(
        parse(&manual(json!({"command": "evacuate-zone", "load_balancer_arn": LB, "zone": "use1-az1",
                             "expires_minutes": 60, "dry_run": true}))),
        Ok(Command::EvacuateZone { load_balancer: LB.into(), zone: "use1-az1".into(), expires_minutes: Some(60) })
    );
    assert_eq!(
        parse(&manual(json!({"command": "evacuate-zone", "load_balancer_arn": LB, "zone": "us-east-1a"}))),
        Ok(Command::EvacuateZone { load_balancer: LB.into(), zone: "us-east-1a".into(), expires_minutes: None })
    );
    assert_eq!(
        parse(&manual(json!({"command": "return-zone", "load_balancer_arn": LB}))),
        Ok(Command::ReturnZone { load_balancer: LB.into() })
    );
}

#[test]
fn every_manual_target_sample_in_events_is_a_valid_command_of_its_name() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(name) = file.strip_prefix("manual-target-").and_then(|f| f.strip_suffix(".json")) else {
            continue;
        };
        let payload: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Ok(failover_core::intake::Event::Manual(manual)) = failover_core::intake::parse(&payload) else {
            panic!("{file}")
        };
        let command = parse(&manual).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(command.name(), name, "{file}");
        seen.push(name.to_owned());
    }
    seen.sort();
    let mut all = COMMANDS.map(str::to_owned).to_vec();
    all.sort();
    assert_eq!(seen, all, "one sample per command");
}

#[test]
fn mistakes_are_rejected_with_a_reason() {
    for (body, expected) in [
        (json!({"command": "reboot", "target_group_arn": TG}), "unknown command"),
        (json!({"command": "status"}), "needs target_group_arn"),
        (json!({"command": "status", "target_group_arn": "web"}), "must be a target group ARN"),
        (json!({"command": "deregister", "target_group_arn": TG}), "targets must be"),
        (json!({"command": "deregister", "target_group_arn": TG, "targets": []}), "must not be empty"),
        (json!({"command": "deregister", "target_group_arn": TG, "target": ["i-1"]}), "does not take field"),
        (json!({"command": "restore", "target_group_arn": TG, "targets": [{"id": "i-1", "port": 0}]}), "bad port"),
        (json!({"command": "failback", "target_group_arn": TG, "force": "yes"}), "force must be"),
        (json!({"command": "shift", "target_group_arn": TG, "force": 1}), "force must be"),
        (json!({"command": "pause", "reason": 5}), "reason must be a non-empty string"),
        (json!({"command": "pause", "target_group_arn": TG}), "does not take field"),
        (json!({"command": "resume", "why": "x"}), "does not take field"),
        (json!({"command": "readiness", "groups": "all"}), "does not take field"),
        (json!({"command": "readiness", "target_group_arn": "web"}), "must be a target group ARN"),
        (json!({"command": "evacuate-zone", "zone": "us-east-1a"}), "needs load_balancer_arn"),
        (json!({"command": "evacuate-zone", "load_balancer_arn": TG, "zone": "us-east-1a"}), "load balancer ARN"),
        (json!({"command": "evacuate-zone", "load_balancer_arn": LB}), "needs zone"),
        (json!({"command": "evacuate-zone", "load_balancer_arn": LB, "zone": "a", "expires_minutes": 0}), "1 to 4320"),
        (
            json!({"command": "evacuate-zone", "load_balancer_arn": LB, "zone": "a", "expires_minutes": 4321}),
            "1 to 4320",
        ),
        (json!({"command": "return-zone", "load_balancer_arn": LB, "zone": "a"}), "does not take field"),
    ] {
        let error = parse(&manual(body.clone())).expect_err(&body.to_string()).0;
        assert!(error.contains(expected), "{body}: {error}");
    }
}

#[test]
fn timeline_takes_a_group_a_load_balancer_or_an_incident_id_and_only_one() {
    let parsed = |body: Value| parse(&manual(body));
    assert_eq!(
        parsed(json!({"command": "timeline", "target_group_arn": TG})),
        Ok(Command::Timeline { of: Subject::Group(TG.into()) })
    );
    assert_eq!(
        parsed(json!({"command": "timeline", "load_balancer_arn": LB})),
        Ok(Command::Timeline { of: Subject::LoadBalancer(LB.into()) })
    );
    assert_eq!(
        parsed(json!({"command": "timeline", "incident": "target-failover/targetgroup/web/73e2d6bc24d8a067"})),
        Ok(Command::Timeline { of: Subject::Incident("targetgroup/web/73e2d6bc24d8a067".into()) })
    );
    assert_eq!(
        parsed(json!({"command": "timeline", "incident": "loadbalancer/app/shop/50dc6c495c0c9188"})),
        Ok(Command::Timeline { of: Subject::Incident("loadbalancer/app/shop/50dc6c495c0c9188".into()) })
    );
    for (body, expected) in [
        (json!({"command": "timeline"}), "needs one of"),
        (json!({"command": "timeline", "target_group_arn": TG, "load_balancer_arn": LB}), "needs one of"),
        (json!({"command": "timeline", "target_group_arn": LB}), "target_group_arn must be a target group ARN"),
        (json!({"command": "timeline", "load_balancer_arn": 7}), "load_balancer_arn must be"),
        (json!({"command": "timeline", "incident": "target-failover/web"}), "incident must be an incident id"),
        (json!({"command": "timeline", "incident": "targetgroup/web/1", "targets": []}), "does not take field"),
    ] {
        let error = parsed(body.clone()).unwrap_err().0;
        assert!(error.contains(expected), "{body}: {error}");
    }
}

#[test]
fn a_region_switch_step_is_its_command_with_the_metadata_kept_apart() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/region-switch-target-shift.json");
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let event = failover_core::intake::parse(&payload).unwrap();
    let origin = event.region_switch().cloned().expect("Region switch's metadata");
    assert_eq!((origin.step_name.as_str(), origin.execution_id.len()), ("shift-web-traffic", 36));
    let failover_core::intake::Event::Manual(manual) = &event else { panic!("a command") };
    assert_eq!(parse(manual), Ok(Command::Shift { group: TG.into() }), "the command alone");
    let mut typo = payload.clone();
    typo["StepNmae"] = json!("x");
    let Ok(failover_core::intake::Event::Manual(manual)) = failover_core::intake::parse(&typo) else { panic!() };
    let error = parse(&manual).unwrap_err().0;
    assert!(error.contains("StepNmae"), "a misspelt key is still refused: {error}");
}
