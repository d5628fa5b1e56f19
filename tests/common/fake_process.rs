//! A loopback fake of a cloud API run as a Python subprocess (the GCP and Azure fakes): it
//! prints its port on its first line, answers a JSON control API under `/_fake/`, and is
//! stopped on drop, which also fails the test if the fake saw a request it could not
//! validate or serve.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct FakeProcess {
    child: Child,
    pub port: u16,
    what: &'static str,
}

impl FakeProcess {
    /// Start `script` with `args` (and `--exit-with-stdin`, so it cannot outlive the test).
    pub fn start(what: &'static str, script: &str, args: &[&str]) -> FakeProcess {
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 runs the {what}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the fake prints its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the {what} did not start: {line:?}"));
        FakeProcess { child, port, what }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn http(&self, method: &str, path: &str, body: &str) -> Value {
        let answer = super::loopback_http(self.port, method, path, body);
        serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("the fake answered {method} {path} with {answer:?}: {e}"))
    }

    fn list(&self, path: &str) -> Vec<Value> {
        self.http("GET", path, "")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Merge `config` into the fake's (faults, quotas, polls, kube endpoint...).
    pub fn configure(&self, config: Value) {
        let answer = self.http("POST", "/_fake/config", &config.to_string());
        assert!(
            answer.get("error").is_none(),
            "the fake refused {config}: {answer}"
        );
    }

    /// Every API request so far.
    pub fn requests(&self) -> Vec<Value> {
        self.list("/_fake/requests")
    }

    /// Forget the requests seen so far (not the resources).
    pub fn reset_requests(&self) {
        self.http("POST", "/_fake/reset", r#"{"records_only": true}"#);
    }

    /// Requests the fake could not validate or serve, and answers that broke their schema.
    pub fn problems(&self) -> Vec<Value> {
        self.list("/_fake/problems")
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let problems = if std::thread::panicking() {
            Vec::new()
        } else {
            self.problems()
        };
        let _ = self.child.kill();
        let _ = self.child.wait();
        assert!(
            problems.is_empty(),
            "the {} saw requests it does not know or could not validate: {problems:#?}",
            self.what
        );
    }
}
