//! The SYNCML return-code table (CRM.connector SE admin guide, appendix 11).
//!
//! CRM.interface and Aurea's connectors report item results with these codes. The names are
//! Aurea's, without the `HTTP_ERRCODE_` prefix.

use std::fmt;

/// A CRM.interface / SYNCML return code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReturnCode {
    /// 100 DISPLAY: information only.
    Display,
    /// 200 UPDATE_OK.
    UpdateOk,
    /// 201 CREATE_OK.
    CreateOk,
    /// 204 NODATA: nothing to sync, or the reps/persons are duplicated or unknown.
    NoData,
    /// 206 PARTIAL_DATA.
    PartialData,
    /// 207 MERGE_CONFLICT.
    MergeConflict,
    /// 300 MULTI_CHOICE: several persons/reps share the e-mail address.
    MultiChoice,
    /// 304 NOT_MODIFIED.
    NotModified,
    /// 400 BAD_REQUEST.
    BadRequest,
    /// 401 INVALID_CREDS (e.g. the user is not a rep).
    InvalidCreds,
    /// 403 FORBIDDEN_OPERATION.
    Forbidden,
    /// 404 NOT_FOUND.
    NotFound,
    /// 410 GONE: the item has already been deleted.
    Gone,
    /// 412 INCOMPLETE_COMMAND.
    IncompleteCommand,
    /// 415 UNSUPPORTED.
    Unsupported,
    /// 500 FAILED: configuration or rights problem inside CRM.interface.
    Failed,
    /// 501 NOT_IMPLEMENTED.
    NotImplemented,
    /// 506 PROCESSING_ERROR.
    ProcessingError,
    /// 511 SERVER_FAILURE: CRM.interface is unhealthy.
    ServerFailure,
    /// Any code not in the published table.
    Other(u16),
}

impl ReturnCode {
    /// Every code of the published table, in table order.
    pub const KNOWN: [ReturnCode; 19] = [
        Self::Display,
        Self::UpdateOk,
        Self::CreateOk,
        Self::NoData,
        Self::PartialData,
        Self::MergeConflict,
        Self::MultiChoice,
        Self::NotModified,
        Self::BadRequest,
        Self::InvalidCreds,
        Self::Forbidden,
        Self::NotFound,
        Self::Gone,
        Self::IncompleteCommand,
        Self::Unsupported,
        Self::Failed,
        Self::NotImplemented,
        Self::ProcessingError,
        Self::ServerFailure,
    ];

    /// Maps a numeric code; unknown numbers become [`ReturnCode::Other`].
    pub fn from_u16(code: u16) -> Self {
        Self::KNOWN
            .iter()
            .copied()
            .find(|c| c.code() == code)
            .unwrap_or(Self::Other(code))
    }

    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            Self::Display => 100,
            Self::UpdateOk => 200,
            Self::CreateOk => 201,
            Self::NoData => 204,
            Self::PartialData => 206,
            Self::MergeConflict => 207,
            Self::MultiChoice => 300,
            Self::NotModified => 304,
            Self::BadRequest => 400,
            Self::InvalidCreds => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Gone => 410,
            Self::IncompleteCommand => 412,
            Self::Unsupported => 415,
            Self::Failed => 500,
            Self::NotImplemented => 501,
            Self::ProcessingError => 506,
            Self::ServerFailure => 511,
            Self::Other(c) => c,
        }
    }

    /// Aurea's name for the code (without the `HTTP_ERRCODE_` prefix).
    pub fn name(self) -> &'static str {
        match self {
            Self::Display => "DISPLAY",
            Self::UpdateOk => "UPDATE_OK",
            Self::CreateOk => "CREATE_OK",
            Self::NoData => "NODATA",
            Self::PartialData => "PARTIAL_DATA",
            Self::MergeConflict => "MERGE_CONFLICT",
            Self::MultiChoice => "MULTI_CHOICE",
            Self::NotModified => "NOT_MODIFIED",
            Self::BadRequest => "BAD_REQUEST",
            Self::InvalidCreds => "INVALID_CREDS",
            Self::Forbidden => "FORBIDDEN_OPERATION",
            Self::NotFound => "NOT_FOUND",
            Self::Gone => "GONE",
            Self::IncompleteCommand => "INCOMPLETE_COMMAND",
            Self::Unsupported => "UNSUPPORTED",
            Self::Failed => "FAILED",
            Self::NotImplemented => "NOT_IMPLEMENTED",
            Self::ProcessingError => "PROCESSING_ERROR",
            Self::ServerFailure => "SERVER_FAILURE",
            Self::Other(_) => "UNKNOWN",
        }
    }

    /// 1xx–3xx: the item was processed (3xx still needs attention but is not a failure of
    /// the request itself).
    pub fn is_success(self) -> bool {
        (100..300).contains(&self.code()) || self == Self::NotModified
    }

    /// Codes that describe a passing state of CRM.interface rather than a property of the
    /// item: sending the same item again later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::ProcessingError | Self::ServerFailure)
    }
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips() {
        for c in ReturnCode::KNOWN {
            assert_eq!(ReturnCode::from_u16(c.code()), c);
        }
        assert_eq!(ReturnCode::from_u16(410), ReturnCode::Gone);
        assert_eq!(ReturnCode::from_u16(599), ReturnCode::Other(599));
        assert_eq!(ReturnCode::Gone.to_string(), "410 GONE");
    }

    #[test]
    fn classes() {
        assert!(ReturnCode::CreateOk.is_success());
        assert!(ReturnCode::NotModified.is_success());
        assert!(!ReturnCode::MultiChoice.is_success());
        assert!(!ReturnCode::Failed.is_success());
        assert!(ReturnCode::ServerFailure.is_transient());
        assert!(!ReturnCode::Failed.is_transient());
    }
}
