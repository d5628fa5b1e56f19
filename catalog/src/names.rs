//! Accelerator names: case-insensitive, with common aliases, to one canonical spelling.

/// Other spellings people use, lowercased, and the catalog's name for each.
const ALIASES: &[(&str, &str)] = &[
    ("a100-40gb", "A100"),
    ("a100-80", "A100-80GB"),
    ("a100-80g", "A100-80GB"),
    ("h100-80gb", "H100"),
    ("h100-sxm", "H100"),
    ("h100-mega-80gb", "H100-MEGA"),
    ("v100-16gb", "V100"),
    ("v100-32", "V100-32GB"),
    ("a10g-24gb", "A10G"),
    ("mi300", "MI300X"),
];

/// The catalog's spelling of an accelerator name, or `None` if it is unknown.
pub fn canonical_name(name: &str) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase();
    if let Some(size) = lower.strip_prefix("tpu-v5e-") {
        return Some(format!("tpu-v5litepod-{size}"));
    }
    if lower.starts_with("tpu-") {
        return Some(lower);
    }
    if let Some((_, c)) = ALIASES.iter().find(|(a, _)| *a == lower) {
        return Some(c.to_string());
    }
    let upper = lower.to_ascii_uppercase();
    KNOWN.contains(&upper.as_str()).then_some(upper)
}

/// GPU names across the catalogs.
const KNOWN: &[&str] = &[
    "A100",
    "A100-80GB",
    "H100",
    "H100-MEGA",
    "H200",
    "B200",
    "B300",
    "L4",
    "L40S",
    "A10G",
    "A10",
    "T4",
    "V100",
    "V100-32GB",
    "P100",
    "P4",
    "MI300X",
    "MI25",
    "M60",
];

/// A request for accelerators: a canonical name and, when given, how many per node.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub name: String,
    pub count: Option<f64>,
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.count {
            Some(c) if !self.name.starts_with("tpu-") => {
                write!(f, "{}:{}", self.name, count_text(c))
            }
            _ => write!(f, "{}", self.name),
        }
    }
}

pub(crate) fn count_text(c: f64) -> String {
    if c.fract() == 0.0 {
        format!("{}", c as i64)
    } else {
        format!("{c}")
    }
}

/// Parse `A100:8`, `a100-80gb:4`, `h100` (any count), or `tpu-v5e-8`.
pub fn parse_request(text: &str) -> Result<Request, String> {
    let (name, count) = match text.split_once(':') {
        Some((n, c)) => (
            n,
            Some(
                c.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("`{c}` is not a number of accelerators"))?,
            ),
        ),
        None => (text, None),
    };
    let canonical = canonical_name(name).ok_or_else(|| {
        format!(
            "unknown accelerator `{name}`; known: {}, or a TPU slice such as tpu-v5e-8",
            KNOWN.join(", ")
        )
    })?;
    let count = if canonical.starts_with("tpu-") {
        Some(1.0)
    } else {
        count
    };
    Ok(Request {
        name: canonical,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_case_resolve() {
        assert_eq!(
            parse_request("a100-80gb:8").unwrap(),
            Request {
                name: "A100-80GB".into(),
                count: Some(8.0)
            }
        );
        assert_eq!(
            parse_request("h100").unwrap(),
            Request {
                name: "H100".into(),
                count: None
            }
        );
        assert_eq!(parse_request("tpu-v5e-8").unwrap().name, "tpu-v5litepod-8");
        assert!(parse_request("Z900:1").is_err());
    }
}
