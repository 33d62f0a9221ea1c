//! Tags as the functions read them: configuration on users' resources, never state.

use std::collections::BTreeMap;

/// Tags of one resource, key → value.
pub type Tags = BTreeMap<String, String>;

/// A resource opts in with `<key>=true`, exactly: the deployment's IAM policies compare the tag with
/// `StringEquals` (case-sensitive, no trimming), so `TRUE` or ` true` would let the function choose a resource
/// that IAM then refuses to touch.
pub fn opted_in(tags: &Tags, key: &str) -> bool {
    tags.get(key).is_some_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exactly_true_opts_in() {
        let with = |v: &str| Tags::from([("failover:enabled".to_owned(), v.to_owned())]);
        assert!(opted_in(&with("true"), "failover:enabled"));
        for value in ["TRUE", "True", " true", "true ", "yes", "1", ""] {
            assert!(!opted_in(&with(value), "failover:enabled"), "{value:?}");
        }
        assert!(!opted_in(&with("true"), "other"));
        assert!(!opted_in(&Tags::new(), "failover:enabled"));
    }
}
