//! How error returns are told apart: a session-level failure (login, impersonation, a busy
//! user), an unknown table or field name, a transient server error, a rejected item.

use super::Dialect;
use crate::codec::ReturnInfo;
use crate::codes::ReturnCode;
use crate::error::CrmError;

impl Dialect {
    /// Whether a per-command error says that a table or field does not exist: code 400
    /// (BAD_REQUEST) with [`Dialect::unknown_name_text`] in its text.
    pub fn is_unknown_name(&self, code: ReturnCode, text: &str) -> bool {
        code == ReturnCode::BadRequest
            && !self.unknown_name_text.is_empty()
            && text
                .to_ascii_lowercase()
                .contains(&self.unknown_name_text.to_ascii_lowercase())
    }

    /// Whether an error text is "User is already active".
    pub fn is_already_active(&self, text: &str) -> bool {
        text.to_ascii_lowercase()
            .contains(&self.already_active_text.to_ascii_lowercase())
    }

    /// Classifies a `<return type="error">` directly under `<response>` (a session-level
    /// failure: login, impersonation, busy user).
    pub fn session_error(
        &self,
        ret: &ReturnInfo,
        user: &str,
        impersonating: Option<&str>,
    ) -> CrmError {
        let text = ret.text.clone().unwrap_or_default();
        let code = ReturnCode::from_u16(ret.code.unwrap_or(500));
        if self.is_already_active(&text) {
            return CrmError::UserAlreadyActive;
        }
        if code.is_transient() {
            return CrmError::Server { code, text };
        }
        let auth_code = matches!(code, ReturnCode::InvalidCreds | ReturnCode::Forbidden);
        if auth_code {
            if let Some(target) = impersonating
                && text
                    .to_ascii_lowercase()
                    .contains(&self.impersonation_marker.to_ascii_lowercase())
            {
                return CrmError::ImpersonationRefused {
                    target: target.to_owned(),
                    code,
                    text,
                };
            }
            return CrmError::Auth {
                user: user.to_owned(),
                code,
                text,
            };
        }
        self.item_error(ret)
    }

    /// Classifies a `<return type="error">` of one command.
    pub fn item_error(&self, ret: &ReturnInfo) -> CrmError {
        let text = ret.text.clone().unwrap_or_default();
        let code = ReturnCode::from_u16(ret.code.unwrap_or(500));
        if self.is_already_active(&text) {
            return CrmError::UserAlreadyActive;
        }
        if code.is_transient() {
            return CrmError::Server { code, text };
        }
        if self.is_unknown_name(code, &text) {
            let key = self.key_for_name(ret.tablename.as_deref(), ret.fieldname.as_deref());
            return CrmError::UnknownName {
                table: ret.tablename.clone(),
                field: ret.fieldname.clone(),
                key: key.map(|k| k.toml_key()),
                fix: key.map(|k| k.fix()).unwrap_or_else(|| {
                    "the name does not come from [crm.dialect]: check the fields forms.xml lists (crm.forms_xml) and the missing-participants block".to_owned()
                }),
                code,
                text,
            };
        }
        CrmError::Rejected {
            code,
            text,
            table: ret.tablename.clone(),
            field: ret.fieldname.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn ret(code: u16, text: &str) -> ReturnInfo {
        ReturnInfo {
            kind: "error".into(),
            code: Some(code),
            text: Some(text.into()),
            ..ReturnInfo::default()
        }
    }

    #[test]
    fn session_errors() {
        let d = Dialect::default();
        assert_eq!(
            d.session_error(&ret(401, "Login failed"), "OCSU", None)
                .kind(),
            ErrorKind::Auth
        );
        assert_eq!(
            d.session_error(
                &ret(401, "Impersonation failed: no rep"),
                "OCSU",
                Some("x@y")
            )
            .kind(),
            ErrorKind::ImpersonationRefused
        );
        assert_eq!(
            d.session_error(&ret(401, "Login failed"), "OCSU", Some("x@y"))
                .kind(),
            ErrorKind::Auth
        );
        assert_eq!(
            d.session_error(&ret(506, "User is already active"), "OCSU", None)
                .kind(),
            ErrorKind::UserAlreadyActive
        );
        assert_eq!(
            d.session_error(&ret(511, "down"), "OCSU", None).kind(),
            ErrorKind::Transient
        );
        assert_eq!(
            d.item_error(&ret(500, "Permission denied")).kind(),
            ErrorKind::Rejected
        );
    }
}
