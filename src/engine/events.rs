use std::time::Duration;

use hoist_provider::{Action, Address};

/// Something worth telling the user while the engine works. The engine never prints:
/// the binary's printer turns these into progress bars, lines or JSON.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        address: Address,
        action: Action,
        verb: &'static str,
    },
    Finished {
        address: Address,
        verb: &'static str,
        elapsed: Duration,
        cloud_id: String,
    },
    Failed {
        address: Address,
        error: String,
    },
    Skipped {
        address: Address,
        reason: String,
    },
    Retrying {
        address: Address,
        error: String,
        attempt: u32,
        delay: Duration,
    },
    Note {
        address: Option<Address>,
        message: String,
    },
}

pub trait Observer: Send + Sync {
    fn event(&self, event: Event);
}

/// Drops every event: for benchmarks and library use.
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: Event) {}
}
