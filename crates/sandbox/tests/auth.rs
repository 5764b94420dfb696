#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Token endpoint: secret and certificate assertion, every failure an admin meets, and Graph's
//! bearer/permission checks.

mod common;

use base64::Engine;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha1::Digest;

async fn token_req(
    sb: &gc_sandbox::Sandbox,
    tenant: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let r = Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sb.url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

fn secret_form(c: &gc_sandbox::Credentials) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
        ("scope", "https://graph.microsoft.com/.default"),
    ]
}

fn decode_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn assert_aad(v: &Value, code: u64, error: &str) {
    assert_eq!(v["error"], error, "{v}");
    assert_eq!(v["error_codes"][0], code, "{v}");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}:")),
        "{v}"
    );
    for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(v[k].is_string(), "{k} missing in {v}");
    }
}

#[tokio::test]
async fn secret_token_has_roles_tid_appid_exp() {
    let sb = start().await;
    let c = sb.credentials().clone();
    let (s, v) = token_req(&sb, &c.tenant_id, &secret_form(&c)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    let claims = decode_claims(v["access_token"].as_str().unwrap());
    assert_eq!(claims["tid"], c.tenant_id.as_str());
    assert_eq!(claims["appid"], c.client_id.as_str());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    let roles: Vec<&str> = claims["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for r in [
        "Calendars.ReadWrite",
        "Contacts.ReadWrite",
        "Directory.Read.All",
        "Mail.ReadWrite",
        "Tasks.ReadWrite.All",
        "User.ReadWrite.All",
    ] {
        assert!(roles.contains(&r), "{r} missing");
    }
    // the tenant may also be addressed by its domain
    let (s, _) = token_req(&sb, "contoso.example", &secret_form(&c)).await;
    assert_eq!(s, StatusCode::OK);
    sb.shutdown().await;
}

#[tokio::test]
async fn each_token_failure_answers_like_entra() {
    let sb = start().await;
    let c = sb.credentials().clone();
    let auth = sb.state();
    let auth = auth.auth();

    auth.set_secret_expired(true);
    let (s, v) = token_req(&sb, &c.tenant_id, &secret_form(&c)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_aad(&v, 7000222, "invalid_client");
    auth.set_secret_expired(false);

    let mut wrong = secret_form(&c);
    wrong[2] = ("client_secret", "not-the-secret");
    let (s, v) = token_req(&sb, &c.tenant_id, &wrong).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_aad(&v, 7000215, "invalid_client");
    auth.set_secret_invalid(true);
    let (_, v) = token_req(&sb, &c.tenant_id, &secret_form(&c)).await;
    assert_aad(&v, 7000215, "invalid_client");
    auth.set_secret_invalid(false);

    let mut unknown_app = secret_form(&c);
    unknown_app[1] = ("client_id", "11111111-2222-3333-4444-555555555555");
    let (s, v) = token_req(&sb, &c.tenant_id, &unknown_app).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_aad(&v, 700016, "unauthorized_client");
    auth.set_app_unknown(true);
    let (_, v) = token_req(&sb, &c.tenant_id, &secret_form(&c)).await;
    assert_aad(&v, 700016, "unauthorized_client");
    auth.set_app_unknown(false);

    let (s, v) = token_req(
        &sb,
        "99999999-0000-0000-0000-000000000000",
        &secret_form(&c),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_aad(&v, 90002, "invalid_request");
    auth.set_tenant_unknown(true);
    let (_, v) = token_req(&sb, &c.tenant_id, &secret_form(&c)).await;
    assert_aad(&v, 90002, "invalid_request");
    auth.set_tenant_unknown(false);

    let mut bad_scope = secret_form(&c);
    bad_scope[3] = ("scope", "User.Read");
    let (s, v) = token_req(&sb, &c.tenant_id, &bad_scope).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_scope");

    // withdrawn consent: token issued without the role, Graph answers 403
    auth.remove_role("Calendars.ReadWrite");
    let g = G::new(&sb).await;
    let claims = decode_claims(&g.token);
    assert!(
        !claims["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Calendars.ReadWrite")
    );
    let u = user(&sb, 0);
    let r = g.get_raw(&format!("/users/{u}/events"), None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "ErrorAccessDenied");
    assert!(v["error"]["innerError"]["request-id"].is_string());
    assert!(v["error"]["innerError"]["date"].is_string());
    // mail still works
    let r = g.get_raw(&format!("/users/{u}/mailFolders"), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    auth.remove_role("User.ReadWrite.All");
    auth.remove_role("Directory.Read.All");
    let g = G::new(&sb).await;
    let r = g.get_raw("/users", None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "Authorization_RequestDenied");
    sb.shutdown().await;
}

#[tokio::test]
async fn graph_rejects_missing_and_bad_bearer() {
    let sb = start().await;
    let base = format!("{}/v1.0/users", sb.url());
    let r = Client::new().get(&base).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    let r = Client::new()
        .get(&base)
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // expired token
    sb.state()
        .auth()
        .set_token_lifetime(std::time::Duration::from_secs(0));
    let t = token(&sb).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = Client::new()
        .get(&base)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("expired"),
        "{v}"
    );
    sb.shutdown().await;
}

fn assertion(
    client_id: &str,
    aud: &str,
    alg: Algorithm,
    key_pem: &str,
    cert_pem: &str,
    use_s256: bool,
) -> String {
    let der = x509_der(cert_pem);
    let mut h = Header::new(alg);
    h.typ = Some("JWT".into());
    if use_s256 {
        h.x5t_s256 = Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)),
        );
    } else {
        h.x5t =
            Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({"aud": aud, "iss": client_id, "sub": client_id, "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600});
    jsonwebtoken::encode(
        &h,
        &claims,
        &EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn x509_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[tokio::test]
async fn certificate_assertion_rs256_and_ps256() {
    let sb = start().await;
    let c = sb.credentials().clone();
    let (cert, key) = gc_sandbox::demo_client_certificate();
    let aud = token_url(&sb);
    for (alg, s256) in [
        (Algorithm::RS256, false),
        (Algorithm::PS256, true),
        (Algorithm::RS256, true),
    ] {
        let a = assertion(&c.client_id, &aud, alg, key, cert, s256);
        let (s, v) = token_req(
            &sb,
            &c.tenant_id,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client_id),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &a),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{alg:?}: {v}");
        assert_eq!(
            decode_claims(v["access_token"].as_str().unwrap())["appidacr"],
            "2"
        );
    }
    // a different certificate is not registered: AADSTS700027
    let other_key = rcgen_free_other_key();
    let a = assertion(
        &c.client_id,
        &aud,
        Algorithm::RS256,
        &other_key.0,
        &other_key.1,
        true,
    );
    let (s, v) = token_req(
        &sb,
        &c.tenant_id,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_aad(&v, 700027, "invalid_client");
    // register it through the control API, then it works
    let r = Client::new()
        .post(format!("{}/_sandbox/auth", sb.url()))
        .json(&json!({"certificatePem": other_key.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, v) = token_req(
        &sb,
        &c.tenant_id,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    sb.shutdown().await;
}

/// A second RSA key + self-signed certificate (generated once with openssl, test-only).
fn rcgen_free_other_key() -> (String, String) {
    (
        include_str!("fixtures/other.key.pem").to_owned(),
        include_str!("fixtures/other.cert.pem").to_owned(),
    )
}

#[tokio::test]
async fn token_endpoint_faults_answer_temporarily_unavailable() {
    let sb = start_with(gc_sandbox::SandboxOptions {
        users: 2,
        messages_per_mailbox: 1,
        faults: "login=1".parse().unwrap(),
        ..Default::default()
    })
    .await;
    let c = sb.credentials().clone();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10 {
        let (s, v) = token_req(&sb, &c.tenant_id, &secret_form(&c)).await;
        assert_eq!(v["error"], "temporarily_unavailable", "{v}");
        seen.insert(s.as_u16());
    }
    assert!(seen.contains(&429) && seen.contains(&503), "{seen:?}");
    // Graph faults alone leave the token endpoint alone
    sb.faults().set_spec("429=1".parse().unwrap());
    let (s, _) = token_req(&sb, &c.tenant_id, &secret_form(&c)).await;
    assert_eq!(s, StatusCode::OK);
    sb.shutdown().await;
}
