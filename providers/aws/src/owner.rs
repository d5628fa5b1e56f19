//! Whose resources a listing wants: one environment's (`destroy`'s check, reconcile,
//! `sweep --env`) or every environment's (`sweep --expired`).

use std::collections::BTreeMap;

use hoist_provider::tags;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner<'a> {
    Env(&'a str),
    Any,
}

impl Owner<'_> {
    /// Whether `tags` mark a resource of this owner.
    pub fn owns(&self, t: &BTreeMap<String, String>) -> bool {
        match self {
            Owner::Env(env) => t.get(tags::ENV).map(String::as_str) == Some(*env),
            Owner::Any => t.contains_key(tags::ENV),
        }
    }

    /// Whether a name hoist gives (`{env}{rest}`, e.g. `ENV-eks-node`) may be this owner's;
    /// `any` is what every such name contains.
    pub fn may_name(&self, name: &str, rest: &str, any: &str) -> bool {
        match self {
            Owner::Env(env) => name.starts_with(&format!("{env}{rest}")),
            Owner::Any => name.contains(any),
        }
    }
}
