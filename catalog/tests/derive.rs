//! The shipped catalog is exactly what `derive.py` makes of the public raw data.

use std::path::Path;
use std::process::Command;

#[test]
fn committed_data_matches_a_fresh_derivation() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let raw = here.join("raw");
    assert!(
        raw.join("aws.csv").exists(),
        "the raw catalog is expected at {}",
        raw.display()
    );
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(here.join("derive.py"))
        .arg(&raw)
        .arg(out.path())
        .status()
        .expect("python3 runs");
    assert!(status.success());
    for file in ["aws", "gcp", "gcp-tpu", "azure", "sim"] {
        let fresh = std::fs::read_to_string(out.path().join(format!("{file}.csv"))).unwrap();
        let shipped = std::fs::read_to_string(here.join(format!("data/{file}.csv"))).unwrap();
        assert!(fresh == shipped, "catalog/data/{file}.csv is stale: rerun `python3 catalog/derive.py catalog/raw catalog/data`");
    }
}
