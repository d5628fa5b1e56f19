//! Blueprints: hoist's YAML description of an environment.
//!
//! Loading runs in stages, each reporting every problem it finds with file, line and column:
//! YAML syntax → interpolation of `{{ var.x }}`/`{{ env.X }}` → structure against the JSON
//! Schema (unknown keys with suggestions, types, enum values) → meaning (sizes, names, CIDRs,
//! accelerators). [`Blueprint::spec`] then gives the cloud-neutral model that providers expand.

mod check;
mod diagnostic;
mod interpolate;
mod model;
pub mod schema;
mod spec;
mod stack;
mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use check::Problem;
pub use diagnostic::{did_you_mean, Diagnostic};
pub use model::{
    dns_name, parse_duration, Accelerator, BackendSpec, Blueprint, Cluster, Network, NodePool,
    Zones,
};
pub use schema::{json_schema, Capacity, Cloud, EndpointAccess, Latency};
pub use validate::parse_accelerator;
pub use yaml::Pos;

/// Where a blueprint came from, kept so that errors found later (at expansion) can still
/// show the offending line.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: PathBuf,
    pub source: Arc<str>,
}

impl Origin {
    fn diagnostics(&self, problems: Vec<Problem>) -> BlueprintError {
        let mut diagnostics: Vec<Diagnostic> = problems
            .into_iter()
            .map(|p| Diagnostic::new(&self.file, &self.source, p.pos, p.message, p.hint))
            .collect();
        diagnostics.sort_by_key(|d| (d.pos.line, d.pos.col));
        diagnostics.dedup();
        BlueprintError::Invalid {
            file: self.file.clone(),
            diagnostics,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlueprintError {
    #[error("cannot read blueprint {}: {error}\n  = hint: pass the blueprint with -f FILE, or create one with `hoist init`", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}", render(diagnostics, file))]
    Invalid {
        file: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

fn render(diagnostics: &[Diagnostic], file: &Path) -> String {
    let mut out: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    let n = diagnostics.len();
    out.push(format!(
        "{} has {n} problem{}",
        file.display(),
        if n == 1 { "" } else { "s" }
    ));
    out.join("\n\n")
}

impl BlueprintError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            BlueprintError::Invalid { diagnostics, .. } => diagnostics,
            BlueprintError::Read { .. } => &[],
        }
    }
}

/// Read, interpolate and validate the blueprint at `path`. `env` supplies `{{ env.X }}`.
pub fn load(path: &Path, env: &BTreeMap<String, String>) -> Result<Blueprint, BlueprintError> {
    load_with(path, env, &Overrides::default())
}

/// Values for the blueprint's `variables` from the command line (`--var`, `--var-file`),
/// over the file's, as Terraform's `-var` does; each remembers where it was given.
#[derive(Debug, Clone, Default)]
pub struct Overrides(pub Vec<Override>);

#[derive(Debug, Clone)]
pub struct Override {
    pub name: String,
    pub value: serde_json::Value,
    /// Where it was given, for errors: `--var pr=42`, `vars.yaml:3:1`.
    pub given: String,
}

impl Overrides {
    /// `NAME=VALUE` from `--var`: the value is text, or a number or boolean when it reads
    /// as one and the blueprint's default is one.
    pub fn add_var(&mut self, text: &str) -> Result<(), String> {
        let Some((name, value)) = text.split_once('=').filter(|(n, _)| !n.trim().is_empty()) else {
            return Err(format!(
                "--var {text:?}: write NAME=VALUE, e.g. --var pr=42"
            ));
        };
        self.0.push(Override {
            name: name.trim().to_string(),
            value: serde_json::Value::String(value.to_string()),
            given: format!("--var {text}"),
        });
        Ok(())
    }

    /// Every `name: value` of a YAML or JSON file given with `--var-file`.
    pub fn add_file(&mut self, path: &Path) -> Result<(), BlueprintError> {
        let source = std::fs::read_to_string(path).map_err(|error| BlueprintError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let origin = Origin {
            file: path.to_path_buf(),
            source: Arc::from(source.as_str()),
        };
        let located = |pos: Pos, message: String| {
            origin.diagnostics(vec![Problem {
                pos,
                message,
                hint: Some("a variables file maps names to values, e.g. `pr: 42`".into()),
            }])
        };
        let tree = yaml::parse(&source).map_err(|e| located(e.pos, e.message))?;
        let yaml::Value::Map(entries) = &tree.value else {
            return Err(located(
                tree.pos,
                format!("found {}, not a mapping", tree.type_name()),
            ));
        };
        for (k, v) in entries {
            self.0.push(Override {
                name: k.key_text(),
                value: v.to_json(),
                given: format!("{}:{}:{}", path.display(), k.pos.line, k.pos.col),
            });
        }
        Ok(())
    }
}

/// [`load`] with `overrides` for the blueprint's variables.
pub fn load_with(
    path: &Path,
    env: &BTreeMap<String, String>,
    overrides: &Overrides,
) -> Result<Blueprint, BlueprintError> {
    let source = std::fs::read_to_string(path).map_err(|error| BlueprintError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse_with(path, &source, env, overrides)
}

/// Validate blueprint text as if it were read from `path`.
pub fn parse(
    path: &Path,
    source: &str,
    env: &BTreeMap<String, String>,
) -> Result<Blueprint, BlueprintError> {
    parse_with(path, source, env, &Overrides::default())
}

/// The blueprint's variables with `overrides` applied; an override of a variable the
/// blueprint does not declare is a problem at its `variables` (or the file's start).
fn override_variables(
    tree: &yaml::Node,
    overrides: &Overrides,
    problems: &mut Vec<Problem>,
) -> serde_json::Value {
    let declared = match &tree.value {
        yaml::Value::Map(entries) => entries.iter().find(|(k, _)| k.key_text() == "variables"),
        _ => None,
    };
    let mut variables = declared.map(|(_, v)| v.to_json()).unwrap_or_default();
    let at = declared.map_or(tree.pos, |(k, _)| k.pos);
    for o in &overrides.0 {
        let Some(current) = variables.as_object_mut().and_then(|m| m.get_mut(&o.name)) else {
            let names: Vec<String> = variables
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let hint = match did_you_mean(&o.name, names.iter().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`? Declare every variable under `variables:` with its default"),
                None if names.is_empty() => "declare it under `variables:` with a default, e.g. `variables: {pr: \"0\"}`".into(),
                None => format!("the blueprint declares {}", names.join(", ")),
            };
            problems.push(Problem {
                pos: at,
                message: format!(
                    "{}: the blueprint declares no variable `{}`",
                    o.given, o.name
                ),
                hint: Some(hint),
            });
            continue;
        };
        *current = match (&o.value, &*current) {
            (
                serde_json::Value::String(text),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_),
            ) => serde_json::from_str(text).unwrap_or_else(|_| o.value.clone()),
            _ => o.value.clone(),
        };
    }
    variables
}

/// [`parse`] with `overrides` for the blueprint's variables.
pub fn parse_with(
    path: &Path,
    source: &str,
    env: &BTreeMap<String, String>,
    overrides: &Overrides,
) -> Result<Blueprint, BlueprintError> {
    let origin = Origin {
        file: path.to_path_buf(),
        source: Arc::from(source),
    };
    let mut tree = yaml::parse(source).map_err(|e| {
        origin.diagnostics(vec![Problem {
            pos: e.pos,
            message: e.message,
            hint: e.hint,
        }])
    })?;
    if !matches!(tree.value, yaml::Value::Map(_)) {
        let p = Problem {
            pos: tree.pos,
            message: format!(
                "a blueprint is a mapping of keys, found {}",
                tree.type_name()
            ),
            hint: Some(
                "start with `apiVersion: hoist/v1` and `name: ...`; `hoist init` writes one".into(),
            ),
        };
        return Err(origin.diagnostics(vec![p]));
    }
    let mut problems = Vec::new();
    let variables = override_variables(&tree, overrides, &mut problems);
    interpolate::Interpolator::new(variables, env).apply(&mut tree, &mut problems);
    let schema = json_schema();
    let mut checker = check::Checker::new(&schema);
    checker.check(&mut tree, &schema, "");
    problems.extend(checker.problems);
    if !problems.is_empty() {
        return Err(origin.diagnostics(problems));
    }
    let file: schema::BlueprintFile = serde_json::from_value(tree.to_json()).map_err(|e| {
        origin.diagnostics(vec![Problem {
            pos: tree.pos,
            message: format!("invalid blueprint: {e}"),
            hint: None,
        }])
    })?;
    let spans = model::Spans::from_tree(tree);
    model::validate(file, spans, origin.clone()).map_err(|p| origin.diagnostics(p))
}

impl Blueprint {
    pub fn file(&self) -> &Path {
        &self.origin.file
    }

    /// Located errors for problems found after validation (e.g. by a provider at expansion).
    pub fn error_at(
        &self,
        path: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> BlueprintError {
        self.origin.diagnostics(vec![Problem {
            pos: self.spans.at(path),
            message: message.into(),
            hint,
        }])
    }
}
