//! Graph-shaped errors: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.

use axum::http::StatusCode;

/// An error answered by the Graph side. Rendered by [`crate::graph::Resp::error`].
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Retry-After` seconds, for 429/503.
    pub retry_after: Option<String>,
    /// `Location` header (410 on directory delta).
    pub location: Option<String>,
}

pub(crate) type GResult<T> = Result<T, GraphError>;

impl GraphError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> GraphError {
        GraphError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            location: None,
        }
    }

    pub fn item_not_found() -> GraphError {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        )
    }

    pub fn folder_not_found(name: &str) -> GraphError {
        if crate::store::WELL_KNOWN_FOLDERS
            .iter()
            .any(|(w, _)| w.eq_ignore_ascii_case(name))
        {
            GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                format!("Default folder {name} not found."),
            )
        } else {
            GraphError::item_not_found()
        }
    }

    pub fn malformed_id() -> GraphError {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
        )
    }

    pub fn user_not_found(id: &str) -> GraphError {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    pub fn mailbox_not_enabled() -> GraphError {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> GraphError {
        GraphError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> GraphError {
        GraphError::bad_request("BadRequest", message)
    }

    pub fn no_route(method: &str, path: &str) -> GraphError {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Resource not found for the segment '{path}' ({method})."),
        )
    }

    pub fn method_not_allowed() -> GraphError {
        GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    }

    pub fn sync_state_not_found() -> GraphError {
        GraphError::new(
            StatusCode::GONE,
            "SyncStateNotFound",
            "The sync state generation is not found; generation=149;[highest=157][157][155][156].",
        )
    }

    pub fn resync_required() -> GraphError {
        GraphError::new(
            StatusCode::GONE,
            "resyncRequired",
            "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> GraphError {
        GraphError::new(StatusCode::CONFLICT, code, message)
    }
}
