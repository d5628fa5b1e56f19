//! The bearer layer: a token is fetched once, reused while fresh, and renewed before expiry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use tower::{Layer, Service, ServiceExt};

use super::*;

/// Tokens `t1`, `t2`, … each living `lifetime` seconds from now.
struct Counting {
    made: AtomicU64,
    lifetime: u64,
}

#[async_trait]
impl TokenSource for Counting {
    async fn token(&self) -> Result<Token, ProviderError> {
        let n = self.made.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Token {
            value: format!("t{n}"),
            expires_at: now_secs() + self.lifetime,
        })
    }
}

struct Failing;

#[async_trait]
impl TokenSource for Failing {
    async fn token(&self) -> Result<Token, ProviderError> {
        Err(ProviderError::Fatal("no credentials".into()))
    }
}

/// Records the Authorization header of each request it gets.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl tower::Service<http::Request<()>> for Recorder {
    type Response = ();
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<(), Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<()>) -> Self::Future {
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        self.0.lock().unwrap().push(header);
        std::future::ready(Ok(()))
    }
}

async fn send(service: &mut Bearer<Recorder>) -> Result<(), BoxError> {
    service.ready().await?.call(http::Request::new(())).await
}

#[tokio::test]
async fn a_fresh_token_is_reused() {
    let source = Arc::new(Counting {
        made: AtomicU64::new(0),
        lifetime: 900,
    });
    let recorder = Recorder::default();
    let mut service =
        BearerLayer(Arc::new(TokenCache::new(source.clone()))).layer(recorder.clone());
    for _ in 0..3 {
        send(&mut service).await.unwrap();
    }
    assert_eq!(source.made.load(Ordering::SeqCst), 1);
    assert_eq!(*recorder.0.lock().unwrap(), vec!["Bearer t1"; 3]);
}

#[tokio::test]
async fn a_token_close_to_expiry_is_renewed_first() {
    let source = Arc::new(Counting {
        made: AtomicU64::new(0),
        lifetime: 900,
    });
    let cache = Arc::new(TokenCache::new(source.clone()));
    cache.store(Token {
        value: "old".into(),
        expires_at: now_secs() + RENEW_BEFORE_SECS - 1,
    });
    let recorder = Recorder::default();
    let mut service = BearerLayer(cache).layer(recorder.clone());
    send(&mut service).await.unwrap();
    assert_eq!(*recorder.0.lock().unwrap(), vec!["Bearer t1"]);
}

#[tokio::test]
async fn a_source_failure_fails_the_request_without_sending_it() {
    let recorder = Recorder::default();
    let mut service =
        BearerLayer(Arc::new(TokenCache::new(Arc::new(Failing)))).layer(recorder.clone());
    let err = send(&mut service).await.unwrap_err();
    assert!(err.to_string().contains("no credentials"), "{err}");
    assert!(recorder.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_token_that_would_need_renewing_at_once_is_refused() {
    let source = Arc::new(Counting {
        made: AtomicU64::new(0),
        lifetime: 10,
    });
    let mut service = BearerLayer(Arc::new(TokenCache::new(source))).layer(Recorder::default());
    assert!(send(&mut service).await.is_err());
}

#[tokio::test]
async fn a_bad_certificate_authority_is_a_typed_error() {
    let access = ClusterAccess::Https {
        url: "https://127.0.0.1:1".into(),
        ca_data: "not base64 !".into(),
        token: Arc::new(Failing),
    };
    match client(&access).await {
        Err(ProviderError::Invalid(m)) => assert!(m.contains("127.0.0.1"), "{m}"),
        other => panic!("wanted Invalid, got {:?}", other.map(|_| "a client")),
    }
}
