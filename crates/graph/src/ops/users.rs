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
        let users = self
            .list_users(Some(&user_filter(mail)))
            .collect_ok()
            .await?;
        Ok(pick_user(users, mail))
    }

    /// [`GraphClient::find_user_by_mail`] for many addresses: three addresses per filter
    /// (nine `or` terms) and 20 filters per `$batch` call, so a refresh of 60 reps is one
    /// request. One answer per address, in order; a failed lookup is an `Err` for the
    /// addresses it asked about only.
    pub async fn find_users_by_mail(
        &self,
        mails: &[String],
    ) -> Result<Vec<Result<Option<User>, GraphError>>, GraphError> {
        let chunks: Vec<&[String]> = mails.chunks(ADDRESSES_PER_FILTER).collect();
        let requests = chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let filter = chunk
                    .iter()
                    .map(|m| user_filter(m))
                    .collect::<Vec<_>>()
                    .join(" or ");
                crate::batch::BatchRequest::get(
                    i.to_string(),
                    format!(
                        "/users?$select={USER_SELECT}&$top=999&$filter={}",
                        qv(&filter)
                    ),
                )
            })
            .collect();
        #[derive(serde::Deserialize)]
        struct UserPage {
            #[serde(default)]
            value: Vec<User>,
        }
        let answers = self.batch(None, requests).await?;
        let mut out = Vec::with_capacity(mails.len());
        for (a, chunk) in answers.into_iter().zip(chunks) {
            let page = match a.error(ResourceKind::Users) {
                Some(_) => None,
                None => Some(a.json::<UserPage>().map_err(|e| e.to_string())),
            };
            for m in chunk {
                out.push(match &page {
                    // (errors are not `Clone`: each address gets its own)
                    None => Err(a
                        .error(ResourceKind::Users)
                        .unwrap_or_else(|| GraphError::Decode("no answer".into()))),
                    Some(Ok(p)) => Ok(pick_user(p.value.clone(), m)),
                    Some(Err(e)) => Err(GraphError::Decode(e.clone())),
                });
            }
        }
        Ok(out)
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

/// Addresses looked up by one filter of [`GraphClient::find_users_by_mail`].
const ADDRESSES_PER_FILTER: usize = 3;

/// The `$filter` that finds a user by any of its addresses.
fn user_filter(mail: &str) -> String {
    let m = mail.replace('\'', "''");
    format!("mail eq '{m}' or userPrincipalName eq '{m}' or proxyAddresses/any(p:p eq 'smtp:{m}')")
}

/// Of the users a filter found, the one that really has `mail` (the filter's matching is
/// Graph's; this one is exact and case-insensitive).
fn pick_user(users: Vec<User>, mail: &str) -> Option<User> {
    let wanted = mail.to_ascii_lowercase();
    users.into_iter().find(|u| {
        u.smtp_addresses().contains(&wanted)
            || u.user_principal_name
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(mail))
    })
}
