use std::str::FromStr;

/// How long simulated operations take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyProfile {
    /// Everything is ready at once: for tests and benchmarks.
    Instant,
    /// Seconds, so that a demo shows progress.
    Demo,
    /// Cloud-like ratios: clusters take minutes, networks seconds.
    Realistic,
}

impl LatencyProfile {
    /// Milliseconds a create/update of `kind` takes to become ready.
    pub fn ready_ms(self, kind: &str) -> i64 {
        let (demo, realistic) = match kind {
            "network" => (300, 4_000),
            "subnet" => (200, 2_000),
            "cluster" => (2_000, 120_000),
            "node_pool" => (1_500, 90_000),
            _ => (200, 2_000),
        };
        match self {
            LatencyProfile::Instant => 0,
            LatencyProfile::Demo => demo,
            LatencyProfile::Realistic => realistic,
        }
    }

    /// Milliseconds a workload in a simulated cluster (a Deployment, a DaemonSet) takes to be
    /// ready after its spec changes: what image pulls and container starts take.
    pub fn workload_ready_ms(self) -> i64 {
        match self {
            LatencyProfile::Instant => 0,
            LatencyProfile::Demo => 400,
            LatencyProfile::Realistic => 15_000,
        }
    }

    /// Milliseconds a delete of `kind` takes to finish.
    pub fn delete_ms(self, kind: &str) -> i64 {
        self.ready_ms(kind) / 2
    }

    /// The pause between two polls of a resource being created.
    pub fn poll_ms(self) -> u64 {
        match self {
            LatencyProfile::Instant => 0,
            LatencyProfile::Demo => 100,
            LatencyProfile::Realistic => 2_000,
        }
    }
}

impl FromStr for LatencyProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "instant" => Ok(Self::Instant),
            "demo" => Ok(Self::Demo),
            "realistic" => Ok(Self::Realistic),
            other => Err(format!(
                "unknown latency profile {other:?}: expected instant, demo or realistic"
            )),
        }
    }
}
