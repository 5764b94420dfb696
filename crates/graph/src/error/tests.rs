//! Unit tests of the error types: AADSTS codes to causes, token endpoint bodies, Graph answers
//! to kinds, request ids and resource kinds from paths.

use super::*;

fn token_err(status: u16, err: &str, code: u32, text: &str) -> AuthError {
    let body = serde_json::json!({
        "error": err,
        "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-11-27 10:00:00Z"),
        "error_codes": [code],
        "timestamp": "2026-11-27 10:00:00Z",
        "trace_id": "trace-1",
        "correlation_id": "corr-1",
    });
    AuthError::from_token_response(status, body.to_string().as_bytes())
}

#[test]
fn aadsts_codes_map_to_causes() {
    let table = [
        (401, "invalid_client", 7_000_222, AuthCause::ExpiredSecret),
        (401, "invalid_client", 7_000_215, AuthCause::InvalidSecret),
        (
            400,
            "unauthorized_client",
            700_016,
            AuthCause::UnknownApplication,
        ),
        (400, "invalid_request", 90_002, AuthCause::UnknownTenant),
        (
            401,
            "invalid_client",
            700_027,
            AuthCause::BadCertificateAssertion,
        ),
        (
            401,
            "invalid_client",
            50_012,
            AuthCause::CertificateNotRegistered,
        ),
        (400, "invalid_scope", 70_011, AuthCause::InvalidScope),
    ];
    for (status, err, code, want) in table {
        let e = token_err(status, err, code, "text");
        assert_eq!(e.cause, want, "AADSTS{code}");
        assert_eq!(
            GraphError::from(e.clone()).kind(),
            ErrorKind::Authentication(want)
        );
        assert_eq!(e.description, format!("AADSTS{code}: text"));
        assert_eq!(e.trace_id.as_deref(), Some("trace-1"));
    }
}

#[test]
fn expired_secret_message_names_the_cause_not_the_secret() {
    let e = token_err(
        401,
        "invalid_client",
        7_000_222,
        "The provided client secret keys for app 'x' are expired.",
    );
    let text = GraphError::from(e).to_string();
    assert!(text.contains("the client secret has expired"), "{text}");
    assert!(text.contains("trace-1"));
    assert!(
        !text.contains("Correlation ID"),
        "only the first line is kept: {text}"
    );
}

#[test]
fn code_found_in_text_when_error_codes_missing() {
    let body = r#"{"error":"invalid_client","error_description":"AADSTS7000222: expired"}"#;
    let e = AuthError::from_token_response(401, body.as_bytes());
    assert_eq!(e.cause, AuthCause::ExpiredSecret);
}

#[test]
fn unknown_code_and_garbage_are_other() {
    let e = token_err(400, "invalid_request", 123_456, "x");
    assert_eq!(
        e.cause,
        AuthCause::Other {
            code: Some(123_456),
            error: Some("invalid_request".into())
        }
    );
    let g = AuthError::from_token_response(502, b"<html>bad gateway</html>");
    assert!(g.is_transient());
    assert_eq!(GraphError::from(g).kind(), ErrorKind::Transient);
    let throttled = token_err(429, "temporarily_unavailable", 90_055, "x");
    assert!(throttled.is_transient());
}

fn api(status: u16, code: &str, resource: ResourceKind) -> ApiError {
    let body = serde_json::json!({"error":{"code":code,"message":"m","innerError":{"request-id":"rid-1","date":"2024-07-15T14:30:00"}}});
    ApiError::from_body(status, body.to_string().as_bytes(), None, resource, None)
}

#[test]
fn graph_errors_classify() {
    use ErrorKind::*;
    let table = [
        (429, "ApplicationThrottled", ResourceKind::Mail, Throttled),
        (503, "ServiceUnavailable", ResourceKind::Mail, Transient),
        (504, "", ResourceKind::Mail, Transient),
        (404, "ErrorItemNotFound", ResourceKind::Mail, NotFound),
        (
            404,
            "Request_ResourceNotFound",
            ResourceKind::Users,
            NotFound,
        ),
        (
            404,
            "MailboxNotEnabledForRESTAPI",
            ResourceKind::Mail,
            MailboxNotEnabled,
        ),
        (
            410,
            "SyncStateNotFound",
            ResourceKind::Mail,
            SyncStateExpired,
        ),
        (
            400,
            "syncStateNotFound",
            ResourceKind::Calendar,
            SyncStateExpired,
        ),
        (
            410,
            "resyncRequired",
            ResourceKind::Contacts,
            SyncStateExpired,
        ),
        (
            403,
            "ErrorAccessDenied",
            ResourceKind::Calendar,
            ConsentMissing(Permission::CalendarsReadWrite),
        ),
        (
            403,
            "Authorization_RequestDenied",
            ResourceKind::Users,
            ConsentMissing(Permission::UserReadWriteAll),
        ),
        (
            403,
            "Forbidden",
            ResourceKind::Todo,
            ConsentMissing(Permission::TasksReadWriteAll),
        ),
        (
            401,
            "InvalidAuthenticationToken",
            ResourceKind::Mail,
            Authentication(AuthCause::TokenRejected),
        ),
        (
            400,
            "ErrorInvalidIdMalformed",
            ResourceKind::Mail,
            Permanent,
        ),
        (409, "ErrorFolderExists", ResourceKind::Mail, Permanent),
    ];
    for (status, code, res, want) in table {
        let e = api(status, code, res);
        assert_eq!(e.kind(), want, "{status} {code}");
        assert_eq!(e.request_id.as_deref(), Some("rid-1"));
    }
}

#[test]
fn lowercase_innererror_and_header_request_id() {
    let body = br#"{"error":{"code":"X","message":"m","innererror":{"request-id":"inner"}}}"#;
    let e = ApiError::from_body(400, body, None, ResourceKind::Mail, None);
    assert_eq!(e.request_id.as_deref(), Some("inner"));
    let e = ApiError::from_body(400, body, Some("hdr".into()), ResourceKind::Mail, None);
    assert_eq!(e.request_id.as_deref(), Some("hdr"));
    let g = GraphError::from(e);
    assert_eq!(g.code(), Some("X"));
    assert!(g.to_string().contains("request-id hdr"));
}

#[test]
fn resource_kind_from_path() {
    assert_eq!(
        ResourceKind::from_path("/users/a/mailFolders/inbox/messages/delta"),
        ResourceKind::Mail
    );
    assert_eq!(
        ResourceKind::from_path("/users/a/calendarView/delta"),
        ResourceKind::Calendar
    );
    assert_eq!(
        ResourceKind::from_path("/users/a/todo/lists/b/tasks"),
        ResourceKind::Todo
    );
    assert_eq!(
        ResourceKind::from_path("/users/a/contactFolders/x/contacts"),
        ResourceKind::Contacts
    );
    assert_eq!(
        ResourceKind::from_path("/users/a/outlook/masterCategories"),
        ResourceKind::Categories
    );
    assert_eq!(
        ResourceKind::from_path("/users?$filter=x"),
        ResourceKind::Users
    );
}
