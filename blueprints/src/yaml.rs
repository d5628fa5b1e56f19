//! A YAML tree that remembers where every node came from, so that every later error can
//! point at a line and column.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in the blueprint file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    fn min_with(self, other: Pos) -> Pos {
        if (self.line, self.col) <= (other.line, other.col) {
            self
        } else {
            other
        }
    }
}

impl From<Marker> for Pos {
    fn from(m: Marker) -> Self {
        Pos {
            line: m.line().max(1),
            col: m.col() + 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string; `quoted` says it was written in quotes (so `"3"` stays a string).
    Str {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// The value came from `{{ ... }}` interpolation, so its type is decided where it is used.
    pub templated: bool,
}

impl Node {
    /// The name of this node's type, as the JSON Schema would call it.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str { .. } => "string",
            Value::Seq(_) => "array",
            Value::Map(_) => "object",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Convert to JSON for serde; map keys become strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str { text, .. } => J::String(text.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    pub fn key_text(&self) -> String {
        match &self.value {
            Value::Str { text, .. } => text.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Null => "null".into(),
            _ => "<complex key>".into(),
        }
    }
}

/// A YAML syntax problem.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

/// Resolve a plain scalar the way YAML 1.2's core schema does.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Int(i);
    }
    let looks_numeric = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
    if looks_numeric && !text.contains(':') {
        if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() {
                return Value::Float(f);
            }
        }
    }
    Value::Str {
        text: text.to_string(),
        quoted: false,
    }
}

enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<(Node, Node)>, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    error: Option<SyntaxError>,
}

impl Builder {
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                None => {
                    let key = node.key_text();
                    if self.error.is_none() {
                        if let Some((prev, _)) = entries.iter().find(|(k, _)| k.key_text() == key) {
                            self.error = Some(SyntaxError {
                                pos: node.pos,
                                message: format!("duplicate key `{key}`"),
                                hint: Some(format!(
                                    "`{key}` was first set on line {}; keep one of them",
                                    prev.pos.line
                                )),
                            });
                        }
                    }
                    *pending = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from(mark);
        match ev {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(text, style, _, _) => {
                let value = match style {
                    TScalarStyle::Plain => resolve_plain(&text),
                    _ => Value::Str { text, quoted: true },
                };
                self.push_node(Node {
                    value,
                    pos,
                    templated: false,
                });
            }
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(pos, Vec::new())),
            Event::MappingStart(..) => self.stack.push(Frame::Map(pos, Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq(pos, items)) => Node {
                        value: Value::Seq(items),
                        pos,
                        templated: false,
                    },
                    Some(Frame::Map(pos, entries, _)) => {
                        // A block mapping is best located at its first key.
                        let pos = entries.first().map_or(pos, |(k, _)| k.pos.min_with(pos));
                        Node {
                            value: Value::Map(entries),
                            pos,
                            templated: false,
                        }
                    }
                    None => return,
                };
                self.push_node(node);
            }
            Event::Alias(_) if self.error.is_none() => {
                self.error = Some(SyntaxError {
                    pos,
                    message: "YAML aliases (*name) are not supported in blueprints".into(),
                    hint: Some("use `variables:` and {{ var.NAME }} to share values".into()),
                });
            }
            _ => {}
        }
    }
}

/// Parse one YAML document into a located tree.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    if let Some(err) = tab_indentation(source) {
        return Err(err);
    }
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(source);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        pos: Pos::from(*e.marker()),
        message: format!("invalid YAML: {}", e.info()),
        hint: Some(
            "check indentation, colons after keys, and quotes around values with `:` or `#`".into(),
        ),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    if builder.documents > 1 {
        return Err(SyntaxError {
            pos: Pos { line: 1, col: 1 },
            message: "the file holds more than one YAML document".into(),
            hint: Some("a blueprint is one document; remove the extra `---`".into()),
        });
    }
    Ok(builder.root.unwrap_or(Node {
        value: Value::Null,
        pos: Pos { line: 1, col: 1 },
        templated: false,
    }))
}

/// YAML forbids tabs in indentation; the parser notices late and points elsewhere.
fn tab_indentation(source: &str) -> Option<SyntaxError> {
    source.lines().enumerate().find_map(|(i, line)| {
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        indent.find('\t').map(|col| SyntaxError {
            pos: Pos {
                line: i + 1,
                col: indent[..col].chars().count() + 1,
            },
            message: "a tab is used for indentation".into(),
            hint: Some("YAML indents with spaces only; replace the tab with spaces".into()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_positions_and_types() {
        let n = parse("a: 1\nb:\n  - x\n  - \"2\"\n").unwrap();
        let Value::Map(entries) = &n.value else {
            panic!()
        };
        assert_eq!(entries[0].1.value, Value::Int(1));
        assert_eq!(entries[1].0.pos, Pos { line: 2, col: 1 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!(
            items[1].value,
            Value::Str {
                text: "2".into(),
                quoted: true
            }
        );
        assert_eq!(items[1].pos.line, 4);
    }

    #[test]
    fn rejects_duplicate_keys_and_bad_syntax() {
        assert!(parse("a: 1\na: 2\n")
            .unwrap_err()
            .message
            .contains("duplicate key"));
        assert!(parse("a: [1, 2\n").is_err());
    }
}
