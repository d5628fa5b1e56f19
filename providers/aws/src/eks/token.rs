//! EKS bearer tokens, made in this process the way `aws eks get-token` makes them: a
//! SigV4-presigned STS `GetCallerIdentity` URL that names the cluster in a signed
//! `x-k8s-aws-id` header, base64url-encoded behind `k8s-aws-v1.`. The API server's
//! authenticator replays the URL to STS to learn who signed it. Nothing is sent to AWS here
//! and nothing is stored: credentials come from the SDK's chain for every token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use hoist_provider::{ProviderError, Token, TokenSource};

/// What the authenticator checks: the prefix of every EKS token.
pub(crate) const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header that binds a token to one cluster.
pub(crate) const CLUSTER_HEADER: &str = "x-k8s-aws-id";
/// The presigned URL's own lifetime, as `aws eks get-token` sets it. The authenticator
/// accepts the token for 15 minutes from signing regardless.
const URL_EXPIRES_SECS: u64 = 60;
/// How long EKS accepts a token after it was signed.
const TOKEN_LIFETIME_SECS: u64 = 15 * 60;

/// Tokens for one cluster, signed with the credentials of the provider that made it.
pub(crate) struct EksTokens {
    credentials: SharedCredentialsProvider,
    region: String,
    cluster: String,
}

impl EksTokens {
    pub(crate) fn new(credentials: SharedCredentialsProvider, region: &str, cluster: &str) -> Self {
        Self {
            credentials,
            region: region.into(),
            cluster: cluster.into(),
        }
    }
}

#[async_trait]
impl TokenSource for EksTokens {
    async fn token(&self) -> Result<Token, ProviderError> {
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            ProviderError::Fatal(format!(
                "no AWS credentials to sign a token for EKS cluster {}: {}",
                self.cluster,
                crate::errors::root_cause(&e)
            ))
        })?;
        let now = SystemTime::now();
        let mut expires_at = secs(now) + TOKEN_LIFETIME_SECS;
        if let Some(end) = credentials.expiry() {
            // A token is only as good as the session that signed it.
            expires_at = expires_at.min(secs(end));
        }
        let url = presigned_url(credentials, &self.region, &self.cluster, now)?;
        Ok(Token {
            value: format!(
                "{TOKEN_PREFIX}{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
            ),
            expires_at,
        })
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The presigned `GetCallerIdentity` URL for `cluster`, signed at `now`.
pub(crate) fn presigned_url(
    credentials: aws_credential_types::Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<String, ProviderError> {
    let failed = |e: &dyn std::fmt::Display| {
        ProviderError::Fatal(format!(
            "could not sign a token for EKS cluster {cluster}: {e}"
        ))
    };
    let host = format!("sts.{region}.amazonaws.com");
    let base = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(URL_EXPIRES_SECS));
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let headers = [("host", host.as_str()), (CLUSTER_HEADER, cluster)];
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _) = sign(request, &params).map_err(|e| failed(&e))?.into_parts();
    let (_, query) = instructions.into_parts();
    let mut url = base;
    for (name, value) in query {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&escape(&value));
    }
    Ok(url)
}

/// RFC 3986 percent-encoding of a query value, as SigV4 canonicalises it.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_at(now: SystemTime) -> String {
        let creds =
            aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        presigned_url(creds, "us-east-1", "demo", now).unwrap()
    }

    #[test]
    fn the_url_is_a_presigned_get_caller_identity_naming_the_cluster() {
        let url = url_at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert!(
            url.starts_with(
                "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Fus-east-1%2Fsts%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
    }

    #[test]
    fn the_signature_depends_on_the_cluster() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let creds =
            || aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let a = presigned_url(creds(), "us-east-1", "a", now).unwrap();
        let b = presigned_url(creds(), "us-east-1", "b", now).unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn a_token_is_the_prefixed_url_good_for_fifteen_minutes() {
        let creds = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session/token".into()),
            None,
            "test",
        );
        let tokens = EksTokens::new(SharedCredentialsProvider::new(creds), "eu-west-1", "demo");
        let token = tokens.token().await.unwrap();
        let body = token.value.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!body.contains('='), "no padding");
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(body)
                .unwrap(),
        )
        .unwrap();
        assert!(
            url.contains("X-Amz-Security-Token=session%2Ftoken"),
            "{url}"
        );
        assert!(
            url.starts_with("https://sts.eu-west-1.amazonaws.com/"),
            "{url}"
        );
        let left = token.expires_at - secs(SystemTime::now());
        assert!(
            (TOKEN_LIFETIME_SECS - 5..=TOKEN_LIFETIME_SECS).contains(&left),
            "{left}"
        );
    }
}
