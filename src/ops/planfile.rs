//! Saved plans: an artifact that travels between CI jobs, so it carries a digest of its
//! content. A file edited or cut short after it was written is refused before anything is
//! applied (an edited `max: 300` would otherwise pass the budget gate it was planned under).

use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::{Plan, PLAN_FORMAT};

const DIGEST: &str = "digest";

/// `sha256:` and the hex digest of the plan's JSON document (without a digest field), in
/// its compact form, which reading the file gives back exactly (keys sorted, floats read
/// exactly with serde_json's `float_roundtrip`).
fn digest_of(doc: &Value) -> String {
    let body = serde_json::to_vec(doc).expect("a JSON value serializes");
    let hash = Sha256::digest(&body);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Write `plan` to `path` atomically, with its digest.
pub fn write(plan: &Plan, path: &Path) -> anyhow::Result<()> {
    let mut doc = serde_json::to_value(plan)?;
    doc[DIGEST] = Value::String(digest_of(&doc));
    let mut body = serde_json::to_vec_pretty(&doc)?;
    body.push(b'\n');
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    std::io::Write::write_all(&mut tmp, &body)
        .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    Ok(())
}

/// Read a saved plan, refusing one that is not whole and as written.
pub fn read(path: &Path) -> anyhow::Result<Plan> {
    let shown = path.display();
    let hint = format!("make it again with `hoist plan --out {shown}`");
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the saved plan {shown}"))?;
    let mut doc: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{shown}:{}:{}: not a whole hoist plan file: {e}\n  = hint: {hint}",
            e.line(),
            e.column()
        )
    })?;
    let format = doc
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if format != PLAN_FORMAT {
        bail!("{shown} is a plan of format {format:?}; this hoist applies {PLAN_FORMAT:?}\n  = hint: make the plan again with this hoist");
    }
    let recorded = doc
        .as_object_mut()
        .and_then(|o| o.remove(DIGEST))
        .and_then(|d| d.as_str().map(String::from));
    let Some(recorded) = recorded else {
        bail!("{shown} has no digest, so hoist cannot tell whether it is the plan as made\n  = hint: {hint}");
    };
    let actual = digest_of(&doc);
    if actual != recorded {
        bail!("{shown} was changed after it was made (its digest is {recorded}, its content's {actual}): nothing was applied\n  = hint: a plan file is applied exactly as planned; {hint}");
    }
    serde_json::from_value(doc)
        .map_err(|e| anyhow::anyhow!("{shown}: not a hoist plan: {e}\n  = hint: {hint}"))
}
