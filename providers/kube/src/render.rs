//! Templates to Kubernetes objects: handlebars in strict mode (a value the context lacks is
//! an error naming the template and the value), each output scalar quoted as JSON so no value
//! can change the document's structure, then YAML to JSON.

use handlebars::{handlebars_helper, Handlebars};
use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Every template, by name `component/file`, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "gpu/operator/customresourcedefinition.yaml",
        include_str!("templates/gpu/operator/customresourcedefinition.yaml.hbs"),
    ),
    (
        "gpu/operator/serviceaccount.yaml",
        include_str!("templates/gpu/operator/serviceaccount.yaml.hbs"),
    ),
    (
        "gpu/operator/clusterrole.yaml",
        include_str!("templates/gpu/operator/clusterrole.yaml.hbs"),
    ),
    (
        "gpu/operator/clusterrolebinding.yaml",
        include_str!("templates/gpu/operator/clusterrolebinding.yaml.hbs"),
    ),
    (
        "gpu/operator/role.yaml",
        include_str!("templates/gpu/operator/role.yaml.hbs"),
    ),
    (
        "gpu/operator/rolebinding.yaml",
        include_str!("templates/gpu/operator/rolebinding.yaml.hbs"),
    ),
    (
        "gpu/operator/deployment.yaml",
        include_str!("templates/gpu/operator/deployment.yaml.hbs"),
    ),
    (
        "gpu/operator/clusterpolicy.yaml",
        include_str!("templates/gpu/operator/clusterpolicy.yaml.hbs"),
    ),
    (
        "serving/kserve/customresourcedefinition.yaml",
        include_str!("templates/serving/kserve/customresourcedefinition.yaml.hbs"),
    ),
    (
        "serving/kserve/serviceaccount.yaml",
        include_str!("templates/serving/kserve/serviceaccount.yaml.hbs"),
    ),
    (
        "serving/kserve/clusterrole.yaml",
        include_str!("templates/serving/kserve/clusterrole.yaml.hbs"),
    ),
    (
        "serving/kserve/clusterrolebinding.yaml",
        include_str!("templates/serving/kserve/clusterrolebinding.yaml.hbs"),
    ),
    (
        "serving/kserve/role.yaml",
        include_str!("templates/serving/kserve/role.yaml.hbs"),
    ),
    (
        "serving/kserve/rolebinding.yaml",
        include_str!("templates/serving/kserve/rolebinding.yaml.hbs"),
    ),
    (
        "serving/kserve/configmap.yaml",
        include_str!("templates/serving/kserve/configmap.yaml.hbs"),
    ),
    (
        "serving/kserve/service.yaml",
        include_str!("templates/serving/kserve/service.yaml.hbs"),
    ),
    (
        "serving/kserve/mutatingwebhookconfiguration.yaml",
        include_str!("templates/serving/kserve/mutatingwebhookconfiguration.yaml.hbs"),
    ),
    (
        "serving/kserve/validatingwebhookconfiguration.yaml",
        include_str!("templates/serving/kserve/validatingwebhookconfiguration.yaml.hbs"),
    ),
    (
        "serving/kserve/job.yaml",
        include_str!("templates/serving/kserve/job.yaml.hbs"),
    ),
    (
        "serving/kserve/deployment.yaml",
        include_str!("templates/serving/kserve/deployment.yaml.hbs"),
    ),
    (
        "serving/kserve/inferenceservice.yaml",
        include_str!("templates/serving/kserve/inferenceservice.yaml.hbs"),
    ),
    (
        "common/namespace.yaml",
        include_str!("templates/common/namespace.yaml.hbs"),
    ),
    (
        "gpu/runtimeclass.yaml",
        include_str!("templates/gpu/runtimeclass.yaml.hbs"),
    ),
    (
        "gpu/daemonset.yaml",
        include_str!("templates/gpu/daemonset.yaml.hbs"),
    ),
    (
        "gpu/dcgm-daemonset.yaml",
        include_str!("templates/gpu/dcgm-daemonset.yaml.hbs"),
    ),
    (
        "gpu/service.yaml",
        include_str!("templates/gpu/service.yaml.hbs"),
    ),
    (
        "autoscaler/serviceaccount.yaml",
        include_str!("templates/autoscaler/serviceaccount.yaml.hbs"),
    ),
    (
        "autoscaler/clusterrole.yaml",
        include_str!("templates/autoscaler/clusterrole.yaml.hbs"),
    ),
    (
        "autoscaler/clusterrolebinding.yaml",
        include_str!("templates/autoscaler/clusterrolebinding.yaml.hbs"),
    ),
    (
        "autoscaler/role.yaml",
        include_str!("templates/autoscaler/role.yaml.hbs"),
    ),
    (
        "autoscaler/rolebinding.yaml",
        include_str!("templates/autoscaler/rolebinding.yaml.hbs"),
    ),
    (
        "autoscaler/deployment.yaml",
        include_str!("templates/autoscaler/deployment.yaml.hbs"),
    ),
    (
        "monitoring/serviceaccount.yaml",
        include_str!("templates/monitoring/serviceaccount.yaml.hbs"),
    ),
    (
        "monitoring/clusterrole.yaml",
        include_str!("templates/monitoring/clusterrole.yaml.hbs"),
    ),
    (
        "monitoring/clusterrolebinding.yaml",
        include_str!("templates/monitoring/clusterrolebinding.yaml.hbs"),
    ),
    (
        "monitoring/prometheus.yml",
        include_str!("templates/monitoring/prometheus.yml.hbs"),
    ),
    (
        "monitoring/datasources.yaml",
        include_str!("templates/monitoring/datasources.yaml.hbs"),
    ),
    (
        "monitoring/dashboards.yaml",
        include_str!("templates/monitoring/dashboards.yaml.hbs"),
    ),
    (
        "monitoring/configmap.yaml",
        include_str!("templates/monitoring/configmap.yaml.hbs"),
    ),
    (
        "monitoring/persistentvolumeclaim.yaml",
        include_str!("templates/monitoring/persistentvolumeclaim.yaml.hbs"),
    ),
    (
        "monitoring/deployment.yaml",
        include_str!("templates/monitoring/deployment.yaml.hbs"),
    ),
    (
        "monitoring/service.yaml",
        include_str!("templates/monitoring/service.yaml.hbs"),
    ),
    (
        "mlflow/serviceaccount.yaml",
        include_str!("templates/mlflow/serviceaccount.yaml.hbs"),
    ),
    (
        "mlflow/persistentvolumeclaim.yaml",
        include_str!("templates/mlflow/persistentvolumeclaim.yaml.hbs"),
    ),
    (
        "mlflow/deployment.yaml",
        include_str!("templates/mlflow/deployment.yaml.hbs"),
    ),
    (
        "mlflow/service.yaml",
        include_str!("templates/mlflow/service.yaml.hbs"),
    ),
    (
        "serving/deployment.yaml",
        include_str!("templates/serving/deployment.yaml.hbs"),
    ),
    (
        "serving/service.yaml",
        include_str!("templates/serving/service.yaml.hbs"),
    ),
    (
        "serving/horizontalpodautoscaler.yaml",
        include_str!("templates/serving/horizontalpodautoscaler.yaml.hbs"),
    ),
];

/// Files used as they are (no templating), e.g. the GPU dashboard.
pub(crate) const GPU_DASHBOARD: &str = include_str!("templates/monitoring/gpu-dashboard.json");

/// A template that could not be rendered or read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("template {template}: {message}")]
    Template { template: String, message: String },
    #[error("template {template} rendered a document that is not YAML: {message}")]
    Yaml { template: String, message: String },
}

handlebars_helper!(json: |v: Json| serde_json::to_string(v).unwrap_or_default());

/// The compiled templates.
pub(crate) struct Templates {
    hb: Handlebars<'static>,
}

impl Templates {
    pub(crate) fn new() -> Result<Self, RenderError> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(|s| Value::String(s.to_string()).to_string());
        hb.register_helper("json", Box::new(json));
        for (name, text) in TEMPLATES {
            hb.register_template_string(name, *text)
                .map_err(|e| RenderError::Template {
                    template: name.to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(Self { hb })
    }

    /// The text of template `name` rendered with `context`.
    pub(crate) fn text(&self, name: &str, context: &Value) -> Result<String, RenderError> {
        self.hb
            .render(name, context)
            .map_err(|e| RenderError::Template {
                template: name.to_string(),
                message: match e.reason() {
                    handlebars::RenderErrorReason::MissingVariable(Some(var)) => {
                        format!("the value `{var}` is missing from the context")
                    }
                    other => other.to_string(),
                },
            })
    }

    /// The objects template `name` renders to (a template may hold several documents).
    pub(crate) fn objects(&self, name: &str, context: &Value) -> Result<Vec<Value>, RenderError> {
        let text = self.text(name, context)?;
        let docs = YamlLoader::load_from_str(&text).map_err(|e| RenderError::Yaml {
            template: name.to_string(),
            message: e.to_string(),
        })?;
        docs.iter()
            .filter(|d| !d.is_null())
            .map(|d| {
                to_json(d).ok_or_else(|| RenderError::Yaml {
                    template: name.to_string(),
                    message: "a value is not representable as JSON (an alias or a non-string key)"
                        .into(),
                })
            })
            .collect()
    }
}

/// YAML to JSON; `None` for what JSON cannot hold.
fn to_json(y: &Yaml) -> Option<Value> {
    Some(match y {
        Yaml::Real(r) => serde_json::Number::from_f64(r.parse().ok()?).map(Value::Number)?,
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect::<Option<_>>()?),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                m.insert(k.as_str()?.to_string(), to_json(v)?);
            }
            Value::Object(m)
        }
        Yaml::Null => Value::Null,
        Yaml::Alias(_) | Yaml::BadValue => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_missing_value_names_template_and_value() {
        let t = Templates::new().unwrap();
        let e = t.objects("common/namespace.yaml", &json!({})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "template common/namespace.yaml: the value `namespace` is missing from the context"
        );
    }

    #[test]
    fn values_cannot_change_the_structure() {
        let t = Templates::new().unwrap();
        let evil = "x\nkind: Secret\n# ";
        let docs = t
            .objects("common/namespace.yaml", &json!({ "namespace": evil }))
            .unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["kind"], "Namespace");
        assert_eq!(docs[0]["metadata"]["name"], evil);
    }
}
