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

/// One condition: `operator` on `key`, against the request's value of it. IAM's string, ARN and
/// Boolean operators (ARN operators match with wildcards, as IAM's do); a negated operator holds
/// when the key is absent. Err names an operator this evaluator does not know: judging without
/// it would be a guess.
fn condition_holds(operator: &str, key: &str, expected: &[String], actual: Option<&String>) -> Result<bool, String> {
    let like = |e: &String, a: &String| glob(e, a, false);
    Ok(match operator {
        "StringEquals" => actual.is_some_and(|a| expected.iter().any(|e| e == a)),
        "StringLike" | "ArnEquals" | "ArnLike" => actual.is_some_and(|a| expected.iter().any(|e| like(e, a))),
        "Bool" => actual.is_some_and(|a| expected.iter().any(|e| e.eq_ignore_ascii_case(a))),
        "StringNotEquals" => actual.is_none_or(|a| expected.iter().all(|e| e != a)),
        "StringNotLike" | "ArnNotEquals" | "ArnNotLike" => actual.is_none_or(|a| expected.iter().all(|e| !like(e, a))),
        other => return Err(format!("condition operator {other} (on {key})")),
    })
}

/// Whether every condition of a statement holds for the request context.
fn conditions_hold(statement: &Value, context: &HashMap<String, String>) -> Result<bool, String> {
    let Some(conditions) = statement["Condition"].as_object() else { return Ok(true) };
    for (operator, tests) in conditions {
        let tests = tests.as_object().ok_or_else(|| format!("condition {operator} is not a map of keys"))?;
        for (key, expected) in tests {
            if !condition_holds(operator, key, &values(expected), context.get(key))? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The statement keys this evaluator reads; any other (`NotPrincipal`, a typo) is refused.
const KNOWN_KEYS: [&str; 8] =
    ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal"];

/// Whether a statement applies to the request: its action (or what its NotAction leaves), its
/// resource (or what its NotResource leaves) and its conditions.
fn applies(statement: &Value, action: &str, resource: &str, context: &HashMap<String, String>) -> Result<bool, String> {
    let sid = statement["Sid"].as_str().unwrap_or("(no Sid)");
    if let Some(unknown) =
        statement.as_object().into_iter().flatten().map(|(k, _)| k).find(|k| !KNOWN_KEYS.contains(&k.as_str()))
    {
        return Err(format!("statement {sid}: {unknown}"));
    }
    let matches_any = |key: &str, text: &str, case_insensitive: bool| {
        values(&statement[key]).iter().any(|pattern| glob(pattern, text, case_insensitive))
    };
    let action_matches = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(_), None) => matches_any("Action", action, true),
        (None, Some(_)) => !matches_any("NotAction", action, true),
        _ => return Err(format!("statement {sid}: exactly one of Action and NotAction")),
    };
    let resource_matches = match (statement.get("Resource"), statement.get("NotResource")) {
        (Some(_), None) => matches_any("Resource", resource, false),
        (None, Some(_)) => !matches_any("NotResource", resource, false),
        // A resource policy names no resource: it is the resource's.
        (None, None) => true,
        _ => return Err(format!("statement {sid}: both Resource and NotResource")),
    };
    Ok(action_matches && resource_matches && conditions_hold(statement, context)?)
}

/// IAM's judgement of one request against a principal's policy statements: some Allow
/// statement applies, and no Deny statement does. Actions match without regard to case,
/// resources with it; `*` and `?` are IAM's wildcards. Err names what this evaluator cannot
/// judge (an operator or a statement key it does not know): the local cloud then denies the
/// request and the permission contract fails, instead of dropping a Deny unnoticed.
pub fn allows(
    statements: &[Value],
    action: &str,
    resource: &str,
    context: &HashMap<String, String>,
) -> Result<bool, String> {
    let (mut allowed, mut denied) = (false, false);
    for statement in statements {
        let effect = statement["Effect"].as_str().unwrap_or_default();
        if !matches!(effect, "Allow" | "Deny") {
            return Err(format!("Effect {effect:?}"));
        }
        if applies(statement, action, resource, context)? {
            allowed |= effect == "Allow";
            denied |= effect == "Deny";
        }
    }
    Ok(allowed && !denied)
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
        let judge = |statements: &[Value], action: &str, resource: &str, context: &HashMap<String, String>| {
            allows(statements, action, resource, context).unwrap()
        };
        assert!(judge(std::slice::from_ref(&statement), "s3:ListBucket", "arn:aws:s3:::b", &context("p/trust-root/")));
        assert!(!judge(std::slice::from_ref(&statement), "s3:ListBucket", "arn:aws:s3:::b", &context("p/other/")));
        assert!(
            !judge(std::slice::from_ref(&statement), "s3:ListBucket", "arn:aws:s3:::b", &HashMap::new()),
            "a missing key fails"
        );
        assert!(!judge(&[statement], "s3:ListBucket", "arn:aws:s3:::b2", &context("p/trust-root/")));
        let deny = json!({"Effect": "Deny", "Action": "s3:*", "Resource": "*"});
        let allow = json!({"Effect": "Allow", "Action": "S3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        assert!(
            judge(std::slice::from_ref(&allow), "s3:GetObject", "arn:aws:s3:::b/k", &HashMap::new()),
            "actions ignore case"
        );
        assert!(!judge(&[allow, deny], "s3:GetObject", "arn:aws:s3:::b/k", &HashMap::new()), "an explicit deny wins");
    }

    /// A Deny written with NotAction, NotResource or a negated operator applies as in IAM; what
    /// the evaluator does not know is refused by name, never dropped.
    #[test]
    fn denies_in_every_form_apply_and_the_unknown_is_refused() {
        let allow = json!({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"});
        let only_the_build = json!({"Effect": "Deny", "NotAction": "ecr:BatchGetImage", "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::1:role/build"}}});
        let as_role =
            |role: &str| HashMap::from([("aws:PrincipalArn".to_string(), format!("arn:aws:iam::1:role/{role}"))]);
        let statements = [allow.clone(), only_the_build];
        assert_eq!(allows(&statements, "ecr:PutImage", "arn:r", &as_role("intruder")), Ok(false));
        assert_eq!(allows(&statements, "ecr:PutImage", "arn:r", &as_role("build")), Ok(true));
        assert_eq!(
            allows(&statements, "ecr:BatchGetImage", "arn:r", &as_role("intruder")),
            Ok(true),
            "NotAction leaves it"
        );
        let not_here = json!({"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::mine/*"});
        assert_eq!(
            allows(&[allow.clone(), not_here.clone()], "ecr:PutImage", "arn:aws:s3:::other/k", &HashMap::new()),
            Ok(false)
        );
        let unknown = json!({"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}});
        let refused = allows(&[allow.clone(), unknown], "ecr:PutImage", "arn:r", &HashMap::new()).unwrap_err();
        assert!(refused.contains("DateGreaterThan"), "{refused}");
        let typo = json!({"Effect": "Deny", "Action": "*", "Resources": "*"});
        assert!(allows(&[allow, typo], "ecr:PutImage", "arn:r", &HashMap::new()).unwrap_err().contains("Resources"));
    }
}
