use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Names one resource of an environment, as `kind.name` (e.g. `node_pool.gpu`).
///
/// Addresses are stable across runs: they are how a blueprint's intent is matched to what
/// state says exists, and they are written on the cloud resource as the `hoist-address` tag.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address {
    kind: String,
    name: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid resource address `{0}`: expected KIND.NAME, e.g. node_pool.gpu")]
pub struct AddressError(pub String);

impl Address {
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            name: name.into(),
        }
    }
    pub fn kind(&self) -> &str {
        &self.kind
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('.') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(Self::new(kind, name)),
            _ => Err(AddressError(s.to_string())),
        }
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let a: Address = "node_pool.gpu-a".parse().unwrap();
        assert_eq!(a.kind(), "node_pool");
        assert_eq!(a.name(), "gpu-a");
        assert_eq!(a.to_string(), "node_pool.gpu-a");
        assert!("nodot".parse::<Address>().is_err());
        assert!(".x".parse::<Address>().is_err());
    }
}
