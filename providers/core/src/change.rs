use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Address, Attrs};

/// What the engine will do to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace(ReplaceOrder),
    Delete,
}

/// Whether a replacement can make the new resource before removing the old one. That needs
/// the cloud to accept two of them at once (a generated name), and keeps capacity up meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceOrder {
    CreateBeforeDestroy,
    DestroyBeforeCreate,
}

impl Action {
    /// The one-glyph prefix used in plan output, Terraform style.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace(ReplaceOrder::CreateBeforeDestroy) => "+/-",
            Action::Replace(ReplaceOrder::DestroyBeforeCreate) => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One attribute that differs between before and after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

/// One planned change. `reason` and `notes` are for people only; the engine acts on `action`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub before: Option<Attrs>,
    pub after: Option<Attrs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<FieldDiff>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
