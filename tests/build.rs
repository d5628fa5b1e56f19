//! What a build without the cloud features holds: the quickstart build (`--no-default-features`)
//! must stay free of the clouds' SDKs, which are most of a cold build.

use std::process::Command;

#[test]
fn the_build_without_cloud_features_has_no_cloud_sdk() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--locked",
            "--offline",
            "-p",
            "hoist",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let sdk: Vec<&str> = tree
        .lines()
        .filter(|l| {
            l.starts_with("google-cloud-")
                || l.starts_with("aws-sdk-")
                || l.starts_with("hoist-gcp")
                || l.starts_with("hoist-aws")
                || l.starts_with("azure_")
                || l.starts_with("hoist-azure")
        })
        .collect();
    assert!(
        sdk.is_empty(),
        "cloud SDK crates in the quickstart build: {sdk:?}"
    );
    assert!(
        tree.lines().any(|l| l.starts_with("kube ")),
        "the tree was read: {tree}"
    );
}
