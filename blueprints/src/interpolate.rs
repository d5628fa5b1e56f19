//! `{{ var.NAME }}` and `{{ env.NAME }}` in string values, rendered with handlebars in strict
//! mode so that a misspelt variable is an error rather than an empty string.

use std::collections::BTreeMap;

use handlebars::{Handlebars, RenderErrorReason};
use serde_json::json;

use crate::check::Problem;
use crate::yaml::{Node, Value};

pub struct Interpolator {
    hb: Handlebars<'static>,
    context: serde_json::Value,
}

impl Interpolator {
    pub fn new(variables: serde_json::Value, env: &BTreeMap<String, String>) -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        Self {
            hb,
            context: json!({ "var": variables, "env": env }),
        }
    }

    /// Render every string under `node` in place, collecting a problem for each failure.
    pub fn apply(&self, node: &mut Node, problems: &mut Vec<Problem>) {
        match &mut node.value {
            Value::Str { text, .. } if text.contains("{{") => {
                match self.hb.render_template(text, &self.context) {
                    Ok(out) => {
                        *text = out;
                        node.templated = true;
                    }
                    Err(e) => problems.push(self.problem(node.pos, text, &e)),
                }
            }
            Value::Seq(items) => items.iter_mut().for_each(|n| self.apply(n, problems)),
            Value::Map(entries) => entries
                .iter_mut()
                .for_each(|(_, v)| self.apply(v, problems)),
            _ => {}
        }
    }

    fn problem(&self, pos: crate::yaml::Pos, text: &str, e: &handlebars::RenderError) -> Problem {
        let (message, hint) = match e.reason() {
            RenderErrorReason::MissingVariable(Some(name)) => {
                let hint = if let Some(var) = name.strip_prefix("env.") {
                    format!(
                        "set the environment variable {var}, or use a `variables:` entry instead"
                    )
                } else if let Some(var) = name.strip_prefix("var.") {
                    let known: Vec<String> = self.context["var"]
                        .as_object()
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    match crate::diagnostic::did_you_mean(var, known.iter().map(String::as_str)) {
                        Some(s) => format!("did you mean `var.{s}`?"),
                        None => format!("define `{var}` under `variables:` at the top level"),
                    }
                } else {
                    "variables are written {{ var.NAME }} or {{ env.NAME }}".to_string()
                };
                (format!("undefined variable `{name}` in {text:?}"), hint)
            }
            _ => (
                format!("cannot interpolate {text:?}: {}", e.reason()),
                "write {{ var.NAME }} or {{ env.NAME }}, with matching braces".to_string(),
            ),
        };
        Problem {
            pos,
            message,
            hint: Some(hint),
        }
    }
}
