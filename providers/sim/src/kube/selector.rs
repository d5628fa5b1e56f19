//! Label and field selectors, as list requests give them in `labelSelector` and
//! `fieldSelector`, and the matching of label maps (a Deployment's nodeSelector, a list).

use std::collections::BTreeMap;

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// Split on commas outside parentheses: `a in (x,y),b` is two requirements.
fn split_top(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn set_of(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// Parse `labelSelector`; an Err says what is wrong, for a 400.
pub fn parse_labels(text: &str) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    for part in split_top(text) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let bad = || format!("unable to parse requirement {part:?}");
        let req = if let Some(key) = part.strip_prefix('!') {
            Requirement::NotExists(key.trim().to_string())
        } else if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = part.split_once("==") {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = part.split_once('=') {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else if let Some((k, rest)) = part.split_once(" notin ") {
            Requirement::NotIn(k.trim().into(), set_of(rest).ok_or_else(bad)?)
        } else if let Some((k, rest)) = part.split_once(" in ") {
            Requirement::In(k.trim().into(), set_of(rest).ok_or_else(bad)?)
        } else {
            Requirement::Exists(part.to_string())
        };
        let key = match &req {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::NotExists(k) => k,
        };
        if !valid_key(key) {
            return Err(bad());
        }
        out.push(req);
    }
    Ok(out)
}

/// The labels of an object (or any JSON map of strings).
pub fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn matches(reqs: &[Requirement], labels: &BTreeMap<String, String>) -> bool {
    reqs.iter().all(|r| match r {
        Requirement::Equals(k, v) => labels.get(k) == Some(v),
        Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
        Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
        Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
        Requirement::Exists(k) => labels.contains_key(k),
        Requirement::NotExists(k) => !labels.contains_key(k),
    })
}

/// Whether every `key: value` of a nodeSelector (or matchLabels) is among `labels`.
pub fn subset(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    string_map(selector)
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}

/// One `fieldSelector` term: a field path, whether it must equal, and the value.
pub type FieldTerm = (String, bool, String);

/// Parse `fieldSelector` (`metadata.name=x,metadata.namespace!=y`); only the metadata fields
/// every kind supports are known.
pub fn parse_fields(text: &str) -> Result<Vec<FieldTerm>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
            (f, false, v)
        } else if let Some((f, v)) = part.split_once("==") {
            (f, true, v)
        } else if let Some((f, v)) = part.split_once('=') {
            (f, true, v)
        } else {
            return Err(format!("invalid selector: {part:?}; expected field=value"));
        };
        let field = field.trim();
        if !matches!(field, "metadata.name" | "metadata.namespace") {
            return Err(format!(
                "field label not supported: {field} (the simulated server knows metadata.name and metadata.namespace)"
            ));
        }
        out.push((field.to_string(), eq, value.trim().to_string()));
    }
    Ok(out)
}

pub fn fields_match(terms: &[FieldTerm], obj: &Value) -> bool {
    terms.iter().all(|(field, eq, value)| {
        let key = field.trim_start_matches("metadata.");
        let actual = obj["metadata"][key].as_str().unwrap_or("");
        (actual == value) == *eq
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_every_operator() {
        let labels: BTreeMap<String, String> = [("app", "web"), ("tier", "front")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let yes = [
            "app=web",
            "app==web",
            "app!=db",
            "app in (web, db)",
            "tier notin (back)",
            "app",
            "!missing",
            "app=web,tier in (front),!x",
        ];
        for s in yes {
            assert!(matches(&parse_labels(s).unwrap(), &labels), "{s}");
        }
        for s in [
            "app=db",
            "app notin (web)",
            "missing",
            "!app",
            "app in (x,y)",
        ] {
            assert!(!matches(&parse_labels(s).unwrap(), &labels), "{s}");
        }
        assert!(parse_labels("app in web").is_err());
        assert!(parse_labels("a b c").is_err());
    }
}
