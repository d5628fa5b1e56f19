//! How a TPU slice is made on GKE: its machine type, VMs and topology, as `derive.py` works
//! them out from the slice names of the public price data and Google's published rules.

use std::sync::OnceLock;

use serde::Serialize;

const EMBEDDED: &str = include_str!("../data/gcp-tpu.csv");
const HEADER: &str =
    "slice,generation,chips,chips_per_host,hosts,machine_type,topology,gke_accelerator";

/// One TPU slice size, e.g. `tpu-v5litepod-16`: 16 chips on 4 VMs in a 4x4 topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TpuSlice {
    /// The catalog's name of the slice (its instance type in price rows).
    pub slice: String,
    pub generation: String,
    pub chips: u32,
    pub chips_per_host: u32,
    /// VMs (Kubernetes nodes) in one slice; more than one makes a multi-host slice.
    pub hosts: u32,
    /// The GKE machine type of each VM (`ct5lp-hightpu-4t`).
    pub machine_type: String,
    /// `2x4`, `4x4x8`: what GKE's placement policy is given for a multi-host slice.
    pub topology: String,
    /// The value GKE puts in the node label `cloud.google.com/gke-tpu-accelerator`.
    pub gke_accelerator: String,
}

impl TpuSlice {
    /// A slice whose chips span several VMs: GKE places them together and scales them as one.
    pub fn multi_host(&self) -> bool {
        self.hosts > 1
    }
}

/// The slice named `slice` (a catalog name such as `tpu-v5litepod-8`), when GKE can make it.
pub fn tpu_slice(slice: &str) -> Option<&'static TpuSlice> {
    tpu_slices().iter().find(|s| s.slice == slice)
}

/// Every slice GKE can make.
pub fn tpu_slices() -> &'static [TpuSlice] {
    static SLICES: OnceLock<Vec<TpuSlice>> = OnceLock::new();
    SLICES.get_or_init(|| {
        parse(EMBEDDED).expect("the built-in gcp-tpu.csv parses (a test checks it)")
    })
}

fn parse(text: &str) -> Result<Vec<TpuSlice>, String> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some(HEADER) {
        return Err(format!("gcp-tpu.csv: the header is not {HEADER}"));
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let n = |j: usize| -> Result<u32, String> {
                f.get(j).and_then(|v| v.parse().ok()).ok_or_else(|| {
                    format!("gcp-tpu.csv:{}: column {} is not a count", i + 2, j + 1)
                })
            };
            if f.len() != 8 {
                return Err(format!("gcp-tpu.csv:{}: expected 8 columns", i + 2));
            }
            Ok(TpuSlice {
                slice: f[0].into(),
                generation: f[1].into(),
                chips: n(2)?,
                chips_per_host: n(3)?,
                hosts: n(4)?,
                machine_type: f[5].into(),
                topology: f[6].into(),
                gke_accelerator: f[7].into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_parse_and_add_up() {
        let all = parse(EMBEDDED).unwrap();
        assert!(all.len() > 20);
        for s in &all {
            assert_eq!(s.chips, s.chips_per_host * s.hosts, "{}", s.slice);
            let product: u32 = s
                .topology
                .split('x')
                .map(|d| d.parse::<u32>().unwrap())
                .product();
            assert_eq!(product, s.chips, "{}", s.slice);
        }
        let v5e16 = tpu_slice("tpu-v5litepod-16").unwrap();
        assert_eq!(
            (
                v5e16.machine_type.as_str(),
                v5e16.hosts,
                v5e16.topology.as_str()
            ),
            ("ct5lp-hightpu-4t", 4, "4x4")
        );
        assert!(!tpu_slice("tpu-v5litepod-8").unwrap().multi_host());
        assert_eq!(tpu_slice("tpu-v5p-8").unwrap().topology, "2x2x1");
        assert!(tpu_slice("tpu-v2-8").is_none(), "GKE makes no v2 slices");
    }

    #[test]
    fn malformed_rows_are_located() {
        let err = parse(&format!("{HEADER}\ntpu-x,v,a,4,1,m,2x2,l\n")).unwrap_err();
        assert!(err.contains("gcp-tpu.csv:2"), "{err}");
    }
}
