//! Users.

use crate::client::{GraphClient, qv, seg};
use crate::error::{GraphError, ResourceKind};
use crate::models::User;
use crate::paging::PageStream;

/// Properties fetched for users unless the caller selects others.
pub const USER_SELECT: &str =
    "id,displayName,mail,userPrincipalName,accountEnabled,proxyAddresses,userType,mailNickname";

impl GraphClient {
    /// All users (pages of up to 999), optionally filtered by an OData `$filter` expression.
    pub fn list_users(&self, filter: Option<&str>) -> PageStream<User> {
        let mut path = format!("/users?$select={USER_SELECT}&$top=999");
        if let Some(f) = filter {
            path.push_str("&$filter=");
            path.push_str(&qv(f));
        }
        self.list(None, ResourceKind::Users, &path)
    }

    /// The user whose primary address or alias is `mail` (case-insensitive), if any.
    pub async fn find_user_by_mail(&self, mail: &str) -> Result<Option<User>, GraphError> {
        let m = mail.replace('\'', "''");
        let filter = format!(
            "mail eq '{m}' or userPrincipalName eq '{m}' or proxyAddresses/any(p:p eq 'smtp:{m}')"
        );
        let users = self.list_users(Some(&filter)).collect_ok().await?;
        let wanted = mail.to_ascii_lowercase();
        Ok(users.into_iter().find(|u| {
            u.smtp_addresses().contains(&wanted)
                || u.user_principal_name
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(mail))
        }))
    }

    /// One user by object id or UPN.
    pub async fn get_user(&self, id_or_upn: &str) -> Result<User, GraphError> {
        self.get_json(
            None,
            ResourceKind::Users,
            &format!("/users/{}?$select={USER_SELECT}", seg(id_or_upn)),
        )
        .await
    }
}
