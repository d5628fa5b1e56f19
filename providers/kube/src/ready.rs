//! When an object is ready, as conditions on its live state: a Deployment available with every
//! replica updated, a DaemonSet running on every node it should, a CRD established, a
//! LoadBalancer Service given its address, a Job complete, the GPU operator's ClusterPolicy
//! `ready`, an InferenceService `Ready`. Everything else is ready once the server has it.

use hoist_provider::Lifecycle;
use serde_json::Value;

/// Whether the live object is ready.
pub fn lifecycle(object: &Value) -> Lifecycle {
    if !object["metadata"]["deletionTimestamp"].is_null() {
        return Lifecycle::Deleting;
    }
    if let Some(reason) = failed(object) {
        return Lifecycle::Failed { reason };
    }
    match waiting_for(object) {
        None => Lifecycle::Ready,
        Some(_) => Lifecycle::Provisioning,
    }
}

/// What the object still waits for, when it is not ready (shown while hoist waits).
pub fn waiting_for(object: &Value) -> Option<String> {
    let status = &object["status"];
    match object["kind"].as_str().unwrap_or_default() {
        "Deployment" | "StatefulSet" => workload(object, status),
        "DaemonSet" => daemon_set(object, status),
        "CustomResourceDefinition" if !condition(status, "Established") => {
            Some("not established".into())
        }
        "Job" if !condition(status, "Complete") => Some("not complete yet".into()),
        "ClusterPolicy" if status["state"] != "ready" => Some(format!(
            "the GPU operator reports {}{}",
            status["state"].as_str().unwrap_or("nothing yet"),
            why_not_ready(status)
        )),
        "InferenceService" if !condition(status, "Ready") => {
            Some(format!("not ready{}", why_not_ready(status)))
        }
        "Service" if object["spec"]["type"] == "LoadBalancer" => {
            let ingress = status["loadBalancer"]["ingress"].as_array();
            ingress
                .is_none_or(|i| i.is_empty())
                .then(|| "its load balancer has no address yet".into())
        }
        _ => None,
    }
}

/// A Job that gave up will not finish by waiting: the apply says why instead.
fn failed(object: &Value) -> Option<String> {
    if object["kind"] != "Job" {
        return None;
    }
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Failed" && c["status"] == "True")
        .map(|c| {
            format!(
                "Job failed: {}",
                c["message"]
                    .as_str()
                    .unwrap_or("its pods exhausted their retries")
            )
        })
}

/// `: MESSAGE` of the first condition that is not met and says why.
fn why_not_ready(status: &Value) -> String {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["status"] != "True" && c["message"].is_string())
        .and_then(|c| c["message"].as_str())
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

fn observed(object: &Value, status: &Value) -> bool {
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
    status["observedGeneration"].as_i64().unwrap_or(-1) >= generation
}

fn condition(status: &Value, kind: &str) -> bool {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

fn workload(object: &Value, status: &Value) -> Option<String> {
    let want = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let n = |k: &str| status[k].as_i64().unwrap_or(0);
    if !observed(object, status) {
        return Some("the controller has not seen the change yet".into());
    }
    if n("updatedReplicas") < want || n("availableReplicas") < want {
        let why = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Available" && c["status"] != "True")
            .and_then(|c| c["message"].as_str())
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return Some(format!(
            "{} of {want} replicas available{why}",
            n("availableReplicas")
        ));
    }
    None
}

fn daemon_set(object: &Value, status: &Value) -> Option<String> {
    let n = |k: &str| status[k].as_i64().unwrap_or(0);
    if !observed(object, status) {
        return Some("the controller has not seen the change yet".into());
    }
    let desired = n("desiredNumberScheduled");
    if n("numberReady") < desired || n("updatedNumberScheduled") < desired {
        return Some(format!("ready on {} of {desired} nodes", n("numberReady")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deployment_is_ready_when_every_replica_is_available_at_its_generation() {
        let mut d = json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2}});
        assert_eq!(lifecycle(&d), Lifecycle::Provisioning);
        d["status"]["observedGeneration"] = json!(2);
        assert_eq!(lifecycle(&d), Lifecycle::Ready);
        d["status"]["availableReplicas"] = json!(1);
        assert_eq!(waiting_for(&d).unwrap(), "1 of 2 replicas available");
    }

    #[test]
    fn a_daemon_set_is_ready_on_every_node_it_should_run_on() {
        let ds = json!({"kind": "DaemonSet", "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3}});
        assert_eq!(lifecycle(&ds), Lifecycle::Provisioning);
        let crd = json!({"kind": "CustomResourceDefinition", "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(lifecycle(&crd), Lifecycle::Ready);
    }

    #[test]
    fn custom_resources_and_jobs_are_ready_by_their_own_conditions() {
        let mut job = json!({"kind": "Job", "status": {}});
        assert_eq!(lifecycle(&job), Lifecycle::Provisioning);
        job["status"]["conditions"] =
            json!([{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]);
        assert_eq!(
            lifecycle(&job),
            Lifecycle::Failed {
                reason: "Job failed: BackoffLimitExceeded".into()
            }
        );
        job["status"]["conditions"] = json!([{"type": "Complete", "status": "True"}]);
        assert_eq!(lifecycle(&job), Lifecycle::Ready);
        let policy = json!({"kind": "ClusterPolicy", "status": {"state": "notReady"}});
        assert_eq!(
            waiting_for(&policy).unwrap(),
            "the GPU operator reports notReady"
        );
        let isvc = json!({"kind": "InferenceService", "status": {"conditions": [
            {"type": "PredictorReady", "status": "False", "message": "0 of 1 replicas available"},
            {"type": "Ready", "status": "False"}]}});
        assert_eq!(
            waiting_for(&isvc).unwrap(),
            "not ready: 0 of 1 replicas available"
        );
    }
}
