//! Structural check of a located YAML tree against the blueprint's JSON Schema. It reports
//! every unknown key, wrong type and bad enum value in one pass, each at its own position,
//! before serde ever sees the document (serde stops at the first problem and has no lines).
//! It also gives interpolated values the type the schema expects where they are used: `"42"`
//! from `{{ env.PR }}` stays a string in `tags`, and `"{{ var.min }}"` becomes a number in `min`.

use serde_json::Value as J;

use crate::diagnostic::did_you_mean;
use crate::yaml::{Node, Pos, Value};

/// A structural problem at `pos`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

pub struct Checker<'s> {
    root: &'s J,
    pub problems: Vec<Problem>,
}

impl<'s> Checker<'s> {
    pub fn new(root: &'s J) -> Self {
        Self {
            root,
            problems: Vec::new(),
        }
    }

    fn resolve(&self, schema: &'s J) -> &'s J {
        let mut s = schema;
        while let Some(r) = s.get("$ref").and_then(J::as_str) {
            let name = r.trim_start_matches("#/definitions/");
            match self.root.get("definitions").and_then(|d| d.get(name)) {
                Some(def) => s = def,
                None => break,
            }
        }
        s
    }

    fn push(&mut self, pos: Pos, message: String, hint: Option<String>) {
        self.problems.push(Problem { pos, message, hint });
    }

    /// Check `node` (at `path`) against `schema`.
    pub fn check(&mut self, node: &mut Node, schema: &'s J, path: &str) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(J::as_array) {
            for s in all {
                self.check(node, s, path);
            }
        }
        if let Some(any) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(J::as_array)
        {
            self.check_alternatives(node, any, path);
            return;
        }
        if let Some(types) = schema.get("type") {
            if node.templated {
                coerce(node, types);
            }
            if !type_matches(node, types) {
                let expected = describe_types(types);
                self.push(
                    node.pos,
                    format!("`{path}` must be {expected}, found {}", found(node)),
                    type_hint(types, node),
                );
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(J::as_array) {
            self.check_enum(node, options, path);
        }
        if let (Some(min), Value::Int(i)) = (schema.get("minimum").and_then(J::as_f64), &node.value)
        {
            if (*i as f64) < min {
                self.push(
                    node.pos,
                    format!("`{path}` must be at least {min}, found {i}"),
                    None,
                );
            }
        }
        if let (Some("uint32"), Value::Int(i)) =
            (schema.get("format").and_then(J::as_str), &node.value)
        {
            if *i > i64::from(u32::MAX) {
                self.push(
                    node.pos,
                    format!("`{path}` is too large: {i}"),
                    Some(format!("at most {}", u32::MAX)),
                );
            }
        }
        let pos = node.pos;
        match &mut node.value {
            Value::Map(entries) => self.check_object(pos, entries, schema, path),
            Value::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.check(item, item_schema, &format!("{path}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }

    fn check_alternatives(&mut self, node: &mut Node, any: &'s [J], path: &str) {
        let mut attempts = Vec::new();
        for alt in any {
            let mut sub = Checker::new(self.root);
            let mut candidate = node.clone();
            sub.check(&mut candidate, alt, path);
            if sub.problems.is_empty() {
                *node = candidate;
                return;
            }
            let alt_schema = self.resolve(alt);
            let shape_fits = alt_schema.get("type").is_none_or(|t| type_matches(node, t));
            attempts.push((shape_fits, sub.problems, alt_schema));
        }
        // Report the problems of the alternative whose shape fits, or a summary of the expected shapes.
        if let Some((_, problems, _)) = attempts.iter().find(|(fits, _, _)| *fits) {
            self.problems.extend(problems.iter().cloned());
        } else {
            let expected: Vec<String> = attempts
                .iter()
                .filter_map(|(_, _, s)| s.get("type").map(describe_types))
                .collect();
            self.push(
                node.pos,
                format!(
                    "`{path}` must be {}, found {}",
                    expected.join(" or "),
                    found(node)
                ),
                None,
            );
        }
    }

    fn check_enum(&mut self, node: &Node, options: &[J], path: &str) {
        let json = node.to_json();
        if options.contains(&json) {
            return;
        }
        let names: Vec<&str> = options.iter().filter_map(J::as_str).collect();
        let hint = match node
            .as_str()
            .and_then(|s| did_you_mean(s, names.iter().copied()))
        {
            Some(s) => format!("did you mean `{s}`? (one of: {})", names.join(", ")),
            None => format!("expected one of: {}", names.join(", ")),
        };
        self.push(
            node.pos,
            format!("`{path}` has unknown value {json}"),
            Some(hint),
        );
    }

    fn check_object(&mut self, pos: Pos, entries: &mut [(Node, Node)], schema: &'s J, path: &str) {
        let props = schema.get("properties").and_then(J::as_object);
        let additional = schema.get("additionalProperties");
        for (key, value) in entries.iter_mut() {
            let name = key.key_text();
            let child = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            if let Some(prop) = props.and_then(|p| p.get(&name)) {
                self.check(value, prop, &child);
            } else if additional == Some(&J::Bool(false)) {
                let hint = match did_you_mean(
                    &name,
                    props.into_iter().flat_map(|p| p.keys()).map(String::as_str),
                ) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "known keys here: {}",
                        props
                            .into_iter()
                            .flat_map(|p| p.keys())
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let place = if path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in `{path}`")
                };
                self.push(key.pos, format!("unknown key `{name}` {place}"), Some(hint));
            } else if let Some(extra) = additional.filter(|a| a.is_object()) {
                self.check(value, extra, &child);
            }
        }
        for req in schema
            .get("required")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .filter_map(J::as_str)
        {
            if !entries.iter().any(|(k, _)| k.key_text() == req) {
                let place = if path.is_empty() {
                    "the blueprint".to_string()
                } else {
                    format!("`{path}`")
                };
                self.push(
                    pos,
                    format!("{place} is missing the required key `{req}`"),
                    Some(format!("add `{req}:` here; `hoist schema` lists every key")),
                );
            }
        }
    }
}

/// Give an interpolated scalar the type wanted here, when its text allows it.
fn coerce(node: &mut Node, types: &J) {
    let wants = |t: &str| types == t || types.as_array().is_some_and(|a| a.iter().any(|x| x == t));
    let text = match &node.value {
        Value::Str { text, .. } => text.clone(),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => node.to_json().to_string(),
        _ => return,
    };
    if wants("string") {
        node.value = Value::Str { text, quoted: true };
        return;
    }
    let typed = crate::yaml::resolve_plain(&text);
    let fits = matches!(
        (&typed, wants("integer"), wants("number"), wants("boolean")),
        (Value::Int(_), true, _, _)
            | (Value::Int(_) | Value::Float(_), _, true, _)
            | (Value::Bool(_), _, _, true)
    );
    if fits {
        node.value = typed;
    }
}

fn type_matches(node: &Node, types: &J) -> bool {
    let have = node.type_name();
    let ok = |t: &str| t == have || (t == "number" && have == "integer");
    match types {
        J::String(t) => ok(t),
        J::Array(ts) => ts.iter().filter_map(J::as_str).any(ok),
        _ => true,
    }
}

fn describe_types(types: &J) -> String {
    let one = |t: &str| match t {
        "object" => "a mapping".to_string(),
        "array" => "a list".to_string(),
        "integer" => "a whole number".to_string(),
        "null" => "empty".to_string(),
        other => format!("a {other}"),
    };
    match types {
        J::String(t) => one(t),
        J::Array(ts) => ts
            .iter()
            .filter_map(J::as_str)
            .filter(|t| *t != "null")
            .map(one)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "valid".into(),
    }
}

fn found(node: &Node) -> String {
    match &node.value {
        Value::Str { text, .. } => format!("the string {text:?}"),
        Value::Map(_) => "a mapping".into(),
        Value::Seq(_) => "a list".into(),
        Value::Null => "nothing".into(),
        _ => format!("{} {}", node.type_name(), node.to_json()),
    }
}

fn type_hint(types: &J, node: &Node) -> Option<String> {
    let wants = |t: &str| types == t || types.as_array().is_some_and(|a| a.iter().any(|x| x == t));
    match &node.value {
        Value::Str { quoted: true, text } if wants("integer") && text.parse::<i64>().is_ok() => {
            Some("remove the quotes around the number".into())
        }
        Value::Int(_) | Value::Float(_) | Value::Bool(_) if wants("string") => {
            Some("put the value in quotes to make it a string".into())
        }
        Value::Map(_) if wants("array") => Some("start each item with `- `".into()),
        _ => None,
    }
}
