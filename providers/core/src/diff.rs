use serde_json::Value;

use crate::{Action, Attrs, FieldDiff, ReplaceOrder};

/// How a provider treats the attributes of one kind of resource.
#[derive(Clone, Debug, Default)]
pub struct KindRules {
    /// Attributes the cloud cannot change in place: a difference means replacement.
    pub force_new: &'static [&'static str],
    /// Can a replacement be created before the old one is deleted (names need not be unique)?
    pub create_before_destroy: bool,
    /// `(owned, lower, upper)`: `owned` belongs to an autoscaler when `lower < upper`, so a live
    /// difference there is neither drift nor something to change.
    pub autoscaled: Option<(&'static str, &'static str, &'static str)>,
    /// Create makes more than one call (a VPC, then its DNS attributes): a resource adopted
    /// after an interrupted create is finished by an update, which is idempotent.
    pub finish_by_update: bool,
    /// How long one step on this kind may take, retries and waits included; 0 leaves it to
    /// the engine's default. `--timeout` overrides it.
    pub timeout_secs: u64,
}

impl KindRules {
    /// How this kind is replaced: new first when two can exist at once.
    pub fn replace_order(&self) -> ReplaceOrder {
        if self.create_before_destroy {
            ReplaceOrder::CreateBeforeDestroy
        } else {
            ReplaceOrder::DestroyBeforeCreate
        }
    }

    /// Attributes to leave alone for this desired configuration.
    pub fn ignored(&self, desired: &Attrs) -> Option<&'static str> {
        let (owned, lo, hi) = self.autoscaled?;
        let lo = desired.get(lo).and_then(Value::as_i64)?;
        let hi = desired.get(hi).and_then(Value::as_i64)?;
        (lo < hi).then_some(owned)
    }
}

/// Attributes named `SCOPE:PATH` (`field:spec.replicas`) are parts of one larger value, such
/// as a Kubernetes object recorded field by field: a plan lists them when they change, and
/// counts them when the resource is created.
pub fn is_detail(attribute: &str) -> bool {
    attribute.contains(':')
}

/// The outcome of comparing wanted attributes to actual ones.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrDiff {
    pub action: Action,
    pub diffs: Vec<FieldDiff>,
    pub reason: String,
}

/// Compare `want` to `have` under `rules`. Only keys of `want` count: the cloud may report
/// more (computed fields), which is never drift.
pub fn diff_attrs(rules: &KindRules, want: &Attrs, have: &Attrs) -> AttrDiff {
    let ignored = rules.ignored(want);
    let mut diffs = Vec::new();
    for (field, after) in want {
        if Some(field.as_str()) == ignored {
            continue;
        }
        let before = have.get(field);
        if before == Some(after) || (before.is_none() && after.is_null()) {
            continue;
        }
        diffs.push(FieldDiff {
            field: field.clone(),
            before: before.cloned(),
            after: Some(after.clone()),
            forces_replacement: rules.force_new.contains(&field.as_str()),
        });
    }
    let forcing: Vec<&str> = diffs
        .iter()
        .filter(|d| d.forces_replacement)
        .map(|d| d.field.as_str())
        .collect();
    let (action, reason) = if diffs.is_empty() {
        (Action::NoOp, "up to date".to_string())
    } else if !forcing.is_empty() {
        (
            Action::Replace(rules.replace_order()),
            format!("{} cannot change in place", forcing.join(", ")),
        )
    } else {
        let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
        (
            Action::Update,
            format!("{} can change in place", fields.join(", ")),
        )
    };
    AttrDiff {
        action,
        diffs,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Attrs {
        serde_json::from_value(v).unwrap()
    }

    const POOL: KindRules = KindRules {
        force_new: &["accelerator"],
        create_before_destroy: true,
        autoscaled: Some(("desired", "min", "max")),
        finish_by_update: false,
        timeout_secs: 0,
    };

    #[test]
    fn size_change_is_update_and_accelerator_change_is_replace() {
        let have = attrs(json!({"accelerator": "A100:8", "min": 1, "max": 1, "desired": 1}));
        let want = attrs(json!({"accelerator": "A100:8", "min": 2, "max": 2, "desired": 2}));
        assert_eq!(diff_attrs(&POOL, &want, &have).action, Action::Update);
        let want = attrs(json!({"accelerator": "H100:8", "min": 1, "max": 1, "desired": 1}));
        let d = diff_attrs(&POOL, &want, &have);
        assert_eq!(d.action, Action::Replace(ReplaceOrder::CreateBeforeDestroy));
        assert!(d.diffs[0].forces_replacement);
    }

    #[test]
    fn autoscaled_desired_is_ignored_only_when_min_below_max() {
        let have = attrs(json!({"min": 1, "max": 4, "desired": 3}));
        let want = attrs(json!({"min": 1, "max": 4, "desired": 1}));
        assert_eq!(diff_attrs(&POOL, &want, &have).action, Action::NoOp);
        let have = attrs(json!({"min": 2, "max": 2, "desired": 3}));
        let want = attrs(json!({"min": 2, "max": 2, "desired": 2}));
        assert_eq!(diff_attrs(&POOL, &want, &have).diffs[0].field, "desired");
    }

    #[test]
    fn extra_computed_fields_are_not_differences() {
        let have = attrs(json!({"min": 1, "endpoint": "x"}));
        let want = attrs(json!({"min": 1}));
        assert_eq!(diff_attrs(&POOL, &want, &have).action, Action::NoOp);
    }
}
