//! Failures: busy user and server failure retried, malformed responses, sandbox faults and
//! Retry-After.

use crate::common::*;
use gc_crm::{ErrorKind, ReturnCode};

#[tokio::test]
async fn busy_user_and_server_failure_are_retried() {
    let env = env().await;
    let c = client(&env);
    env.sandbox.set_busy(2);
    c.master().ping().await.unwrap();
    assert_eq!(env.sandbox.stats().busy_answers, 2);

    env.sandbox.fail_next(1, 511, "Server failure");
    c.master().ping().await.unwrap();

    env.sandbox.set_busy(10);
    let err = c.master().ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UserAlreadyActive);
    assert!(err.is_retryable());
    env.sandbox.set_busy(0);

    env.sandbox.fail_next(1, 500, "Permission denied");
    let err = c.master().ping().await.unwrap_err();
    assert_eq!(err.code(), Some(ReturnCode::Failed));
    assert!(c.is_watched(&err), "500 is a watched code by default");
}

#[tokio::test]
async fn malformed_responses_are_errors() {
    // a server that answers garbage, HTML and a wrong correlation id
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = [
        "<response reqid=\"nope\"/>",
        "<html><body>IIS error</body></html>",
        "<response><query><Contact id=\"x\"/>",
    ];
    tokio::spawn(async move {
        for body in bodies.iter().cycle() {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let _ = sock.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    let mut cfg = gc_crm::CrmConfig::new(
        format!("http://{addr}/x").parse().unwrap(),
        "OCSU",
        secrecy::SecretString::from("p"),
    );
    cfg.retry.max_attempts = 1;
    let c = gc_crm::CrmClient::new(cfg).unwrap();
    for _ in 0..3 {
        let err = c.master().ping().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{err}");
    }
}

#[tokio::test]
async fn sandbox_faults_are_retried_and_retry_after_is_honoured() {
    let env = env().await;
    let c = client_with_retries(&env, 12);
    // 503 with Retry-After: 1 s on a third of the requests, resets and 504s on others
    env.sandbox_faults()
        .set_spec("503=0.3,504=0.1,reset=0.1".parse().unwrap());
    let started = std::time::Instant::now();
    for _ in 0..6 {
        c.master().ping().await.unwrap();
    }
    let reps = c.master().enabled_reps().await.unwrap();
    assert!(!reps.is_empty());
    env.sandbox_faults()
        .set_spec(gc_sandbox::faults::FaultSpec::default());
    let stats = env.sandbox.stats();
    // some requests never reached the interface handler (faults answer first)
    assert!(stats.requests >= 7);
    // at least one 503 happened with this seed and its Retry-After (1 s) was waited for
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}
