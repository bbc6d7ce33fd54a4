//! Who calls the local cloud, once IAM is enforced: every function with temporary credentials of
//! its own role from the stack (as Lambda assumes it), the simulated CodeBuild with the build role,
//! the operator CLI with the stack's operator policy, and the local cloud itself (and `sigship
//! up`/`down`) as an administrator.
//!
//! moto can only judge principals it knows, so the administrator is made before anything else,
//! and the service roles are assumed before enforcement starts: in AWS the services assume them,
//! not a user, and moto 5.2.5 cannot evaluate a `Service` principal in a trust policy.

use aws_credential_types::Credentials;

/// A principal's keys, as the standard AWS environment variables.
pub fn env_of(credentials: &Credentials) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id().to_string()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key().to_string()),
    ];
    if let Some(token) = credentials.session_token() {
        env.push(("AWS_SESSION_TOKEN", token.to_string()));
    }
    env
}

/// An IAM user with `policy_arns` attached (or, with none, an inline allow-everything policy) and
/// an access key.
pub async fn user(iam: &aws_sdk_iam::Client, name: &str, policy_arns: &[&str]) -> Credentials {
    iam.create_user().user_name(name).send().await.unwrap_or_else(|e| panic!("create user {name}: {e:?}"));
    if policy_arns.is_empty() {
        let everything = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        iam.put_user_policy()
            .user_name(name)
            .policy_name("administrator")
            .policy_document(everything)
            .send()
            .await
            .unwrap();
    }
    for arn in policy_arns {
        iam.attach_user_policy().user_name(name).policy_arn(*arn).send().await.unwrap();
    }
    let key = iam.create_access_key().user_name(name).send().await.unwrap();
    let key = key.access_key().expect("an access key");
    Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "localcloud")
}

/// Temporary credentials of `role_arn`, as the service that runs with the role gets them.
pub async fn assume(sts: &aws_sdk_sts::Client, role_arn: &str, session: &str) -> Credentials {
    let assumed = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .unwrap_or_else(|e| panic!("assume {role_arn}: {}", aws_sdk_sts::error::DisplayErrorContext(e)));
    let keys = assumed.credentials().expect("credentials");
    Credentials::new(
        keys.access_key_id(),
        keys.secret_access_key(),
        Some(keys.session_token().to_string()),
        None,
        "localcloud-assumed-role",
    )
}
