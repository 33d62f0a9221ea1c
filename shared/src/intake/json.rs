//! A small reader over `serde_json::Value` that remembers where it is, so that every rejection names the
//! field (`detail.state.value`) and the kind of event it was reading. Nulls count as absent: AWS sends
//! `null` for optional fields (`AlarmDescription`, `Unit`, `Subject`).

use serde_json::Value;

use super::IntakeError;

/// Longest piece of a rejected value quoted back in an error message.
const QUOTE_LIMIT: usize = 60;

#[derive(Clone)]
pub(crate) struct Node<'a> {
    pub(crate) value: &'a Value,
    path: String,
    context: &'static str,
}

impl<'a> Node<'a> {
    pub(crate) fn root(value: &'a Value, context: &'static str) -> Self {
        Node { value, path: String::new(), context }
    }

    /// The same value read as another kind of event (an SNS message parsed from its string).
    pub(crate) fn nested(value: &'a Value, path: &str, context: &'static str) -> Self {
        Node { value, path: path.to_owned(), context }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn get(&self, key: &str) -> Option<Node<'a>> {
        match self.value.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Node { value, path: self.child_path(key), context: self.context }),
        }
    }

    /// The first of several spellings that is present (SNS writes `name`, the API writes `Name`).
    pub(crate) fn get_any(&self, keys: &[&str]) -> Option<Node<'a>> {
        keys.iter().find_map(|key| self.get(key))
    }

    pub(crate) fn req(&self, key: &str) -> Result<Node<'a>, IntakeError> {
        self.get(key).ok_or_else(|| self.missing(key))
    }

    pub(crate) fn missing(&self, key: &str) -> IntakeError {
        IntakeError::Missing { field: self.child_path(key), context: self.context }
    }

    pub(crate) fn req_str(&self, key: &str) -> Result<&'a str, IntakeError> {
        self.req(key)?.str()
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, IntakeError> {
        self.get(key).map(|n| n.str()).transpose()
    }

    pub(crate) fn items(&self) -> Result<Vec<Node<'a>>, IntakeError> {
        let items = self.value.as_array().ok_or_else(|| self.wrong_type("an array"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node { value, path: format!("{}[{i}]", self.path), context: self.context })
            .collect())
    }

    pub(crate) fn str(&self) -> Result<&'a str, IntakeError> {
        self.value.as_str().ok_or_else(|| self.wrong_type("a string"))
    }

    pub(crate) fn bool(&self) -> Result<bool, IntakeError> {
        match self.value {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(self.wrong_type("true or false")),
        }
    }

    /// A whole number (seconds, counts); AWS sends periods above 65,535 and sometimes `60.0` or `"60"`.
    pub(crate) fn u64(&self) -> Result<u64, IntakeError> {
        let number = match self.value {
            Value::Number(n) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15).map(|f| f as u64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        number.ok_or_else(|| self.wrong_type("a non-negative whole number"))
    }

    pub(crate) fn wrong_type(&self, expected: &'static str) -> IntakeError {
        IntakeError::WrongType { field: self.path.clone(), context: self.context, expected, got: describe(self.value) }
    }

    pub(crate) fn invalid(&self, expected: &'static str) -> IntakeError {
        let raw = self.value.as_str().map(str::to_owned).unwrap_or_else(|| self.value.to_string());
        IntakeError::InvalidValue { field: self.path.clone(), context: self.context, value: quote(&raw), expected }
    }
}

/// What a JSON value is, for error messages: its type, and a short quote of strings and numbers.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", quote(s)),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// A value quoted for a message, cut at [`QUOTE_LIMIT`] characters so huge inputs give short errors.
pub(crate) fn quote(s: &str) -> String {
    let length = s.chars().count();
    if length <= QUOTE_LIMIT {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(QUOTE_LIMIT).collect();
        format!("{cut:?}… ({length} characters)")
    }
}
