//! How IAM judges a request against policy statements: what the permission contract
//! (cli/tests/permissions.rs) judges the template's roles with, and the local cloud's authorizer
//! every live request; both over the resources [`crate::authorization`] names.

use std::collections::HashMap;

use serde_json::Value;

/// A policy element's value(s): `"a"` or `["a", "b"]`.
pub fn values(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(String::from).collect(),
        _ => vec![],
    }
}

/// A policy document's statements: its `Statement` list, or the one statement it holds.
pub fn statements(document: &Value) -> Vec<Value> {
    match &document["Statement"] {
        Value::Array(list) => list.clone(),
        Value::Null => vec![],
        single => vec![single.clone()],
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one.
fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_insensitive {
        (pattern.to_lowercase().chars().collect(), text.to_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether every condition of a statement holds for the request context (a key the context
/// lacks fails its condition, as in IAM).
fn conditions_hold(statement: &Value, context: &HashMap<String, String>) -> bool {
    let Some(conditions) = statement["Condition"].as_object() else { return true };
    conditions.iter().all(|(operator, tests)| {
        tests.as_object().unwrap().iter().all(|(key, expected)| {
            let Some(actual) = context.get(key) else { return false };
            values(expected).iter().any(|expected| match operator.as_str() {
                "StringEquals" | "ArnEquals" => expected == actual,
                "Bool" => expected.eq_ignore_ascii_case(actual),
                "StringLike" | "ArnLike" => glob(expected, actual, false),
                // An operator this evaluator does not know never grants: the contract then names the gap.
                _ => false,
            })
        })
    })
}

/// IAM's judgement of one request against a principal's policy statements: some Allow
/// statement's action, resource and conditions match, and no Deny statement's do. Actions match
/// without regard to case, resources with it; `*` and `?` are IAM's wildcards.
pub fn allows(statements: &[Value], action: &str, resource: &str, context: &HashMap<String, String>) -> bool {
    let applies = |s: &&Value| {
        values(&s["Action"]).iter().any(|a| glob(a, action, true))
            && values(&s["Resource"]).iter().any(|r| glob(r, resource, false))
            && conditions_hold(s, context)
    };
    let denied = statements.iter().filter(|s| s["Effect"] == "Deny").any(|s| applies(&s));
    !denied && statements.iter().filter(|s| s["Effect"] == "Allow").any(|s| applies(&s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_and_wildcards_are_evaluated_as_iam_does() {
        let statement = json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
            "Condition": {"StringLike": {"s3:prefix": "p/trust-root/*"}}});
        let context = |prefix: &str| HashMap::from([("s3:prefix".to_string(), prefix.to_string())]);
        assert!(allows(std::slice::from_ref(&statement), "s3:ListBucket", "arn:aws:s3:::b", &context("p/trust-root/")));
        assert!(!allows(std::slice::from_ref(&statement), "s3:ListBucket", "arn:aws:s3:::b", &context("p/other/")));
        assert!(
            !allows(std::slice::from_ref(&statement), "s3:ListBucket", "arn:aws:s3:::b", &HashMap::new()),
            "a missing key fails"
        );
        assert!(!allows(&[statement], "s3:ListBucket", "arn:aws:s3:::b2", &context("p/trust-root/")));
        let deny = json!({"Effect": "Deny", "Action": "s3:*", "Resource": "*"});
        let allow = json!({"Effect": "Allow", "Action": "S3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        assert!(
            allows(std::slice::from_ref(&allow), "s3:GetObject", "arn:aws:s3:::b/k", &HashMap::new()),
            "actions ignore case"
        );
        assert!(!allows(&[allow, deny], "s3:GetObject", "arn:aws:s3:::b/k", &HashMap::new()), "an explicit deny wins");
    }
}
