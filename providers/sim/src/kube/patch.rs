//! The patch formats other than apply: RFC 7386 JSON merge patch (also used for strategic
//! merge patches, whose list merge keys this server does not know) and RFC 6902 JSON patch.

use serde_json::{Map, Value};

use super::apply::display;

/// RFC 7386 JSON merge patch: maps merge, `null` removes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("JSON pointer {path:?} must start with /"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    tokens.iter().try_fold(doc, |cur, t| {
        let missing = || format!("path component {t:?} does not exist");
        match cur {
            Value::Object(m) => m.get_mut(t).ok_or_else(missing),
            Value::Array(a) => t
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get_mut(i))
                .ok_or_else(missing),
            _ => Err(missing()),
        }
    })
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) if last == "-" => a.push(value),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i <= a.len() => a.insert(i, value),
            _ => return Err(format!("array index {last:?} is out of range")),
        },
        _ => return Err(format!("cannot add {last:?} to a scalar")),
    }
    Ok(())
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, String> {
    let (last, parents) = tokens
        .split_last()
        .ok_or("cannot remove the whole document")?;
    let missing = || format!("path {:?} does not exist", display(tokens));
    match parent_mut(doc, parents)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

/// RFC 6902 JSON patch: add, remove, replace, move, copy, test.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be an array of operations")?;
    for op in ops {
        let path = pointer(op["path"].as_str().ok_or("an operation needs a path")?)?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or("the operation needs a value")
        };
        match op["op"].as_str().unwrap_or("") {
            "add" => add(doc, &path, value()?)?,
            "remove" => {
                remove(doc, &path)?;
            }
            "replace" => {
                remove(doc, &path)?;
                add(doc, &path, value()?)?;
            }
            "move" | "copy" => {
                let from = pointer(op["from"].as_str().ok_or("move and copy need from")?)?;
                let v = if op["op"] == "move" {
                    remove(doc, &from)?
                } else {
                    parent_mut(doc, &from)?.clone()
                };
                add(doc, &path, v)?;
            }
            "test" => {
                if parent_mut(doc, &path)?.clone() != value()? {
                    return Err(format!("test failed at {}", display(&path)));
                }
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_ops() {
        let mut doc = json!({"a": [1, 2], "b": {"c": 1}});
        let ops = json!([
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "replace", "path": "/b/c", "value": 2},
            {"op": "remove", "path": "/a/0"},
            {"op": "add", "path": "/d~1e", "value": true}
        ]);
        json_patch(&mut doc, &ops).unwrap();
        assert_eq!(doc, json!({"a": [2, 3], "b": {"c": 2}, "d/e": true}));
        assert!(json_patch(&mut doc, &json!([{"op": "remove", "path": "/zz"}])).is_err());
    }
}
