//! The settings contract is declared once, in Rust (`config::SETTINGS` of each function, with the common ones
//! from `failover_core::config`). Everything else that names a setting is held equal to that declaration here:
//! - `docs/settings.json`, which `tools/check_template.py` reads to check the template's variables and its
//!   parameters' defaults (regenerate it with `UPDATE_CONTRACT=1 cargo test -p integration-tests --test
//!   against_local_aws settings_contract`);
//! - the README's settings table (name, function, default, meaning).

use failover_core::config::Setting;
use integration_tests::repo_root;
use std::collections::BTreeMap;

fn functions() -> [(&'static str, &'static [&'static Setting]); 2] {
    [("target-failover", target_failover::config::SETTINGS), ("database-failover", database_failover::config::SETTINGS)]
}

/// Function name → its settings, serialized without a `serde_json::Value` in between, so that the text does not
/// depend on whether some dependency enables serde_json's `preserve_order`.
fn contract() -> BTreeMap<&'static str, &'static [&'static Setting]> {
    functions().into_iter().collect()
}

#[test]
fn docs_settings_json_is_the_declaration() {
    let path = repo_root().join("docs/settings.json");
    let expected = format!("{}\n", serde_json::to_string_pretty(&contract()).unwrap());
    if std::env::var_os("UPDATE_CONTRACT").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "{} differs from the settings declared in the functions' config::SETTINGS; regenerate it with \
         `UPDATE_CONTRACT=1 cargo test -p integration-tests --test against_local_aws settings_contract`",
        path.display()
    );
}

/// The README's table, as the declaration says it must read.
fn expected_table() -> String {
    let mut rows: Vec<(&Setting, Vec<&str>)> = Vec::new();
    for (function, settings) in functions() {
        for setting in settings {
            match rows.iter_mut().find(|(s, _)| s.name == setting.name) {
                Some((_, used_by)) => used_by.push(function),
                None => rows.push((setting, vec![function])),
            }
        }
    }
    let mut table = "| Variable | Function | Default | Meaning |\n| --- | --- | --- | --- |\n".to_owned();
    for (setting, used_by) in rows {
        let function = if used_by.len() == functions().len() { "both".to_owned() } else { used_by.join(", ") };
        let default = match setting.default {
            None => "(required)".to_owned(),
            Some("") => "(unset)".to_owned(),
            Some(value) => format!("`{value}`"),
        };
        table.push_str(&format!("| `{}` | {function} | {default} | {} |\n", setting.name, setting.meaning));
    }
    table
}

#[test]
fn readme_settings_table_is_the_declaration() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let table = expected_table();
    assert!(readme.contains(&table), "README.md's settings table must read exactly:\n\n{table}");
}

#[test]
fn every_setting_is_declared_once_with_one_default_and_meaning() {
    let mut seen: Vec<&Setting> = Vec::new();
    for (function, settings) in functions() {
        for setting in settings {
            assert!(!setting.meaning.is_empty(), "{function}: {} has no meaning", setting.name);
            if let Some(other) = seen.iter().find(|s| s.name == setting.name) {
                assert_eq!(*other, *setting, "{} is declared twice, differently", setting.name);
            }
            seen.push(setting);
        }
    }
}
