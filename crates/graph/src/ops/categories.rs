//! The mailbox's master category list.

use reqwest::Method;

use crate::client::{GraphClient, seg};
use crate::error::{GraphError, ResourceKind};
use crate::models::OutlookCategory;

impl GraphClient {
    /// Master categories of the mailbox.
    pub async fn list_categories(&self, mailbox: &str) -> Result<Vec<OutlookCategory>, GraphError> {
        self.list(
            Some(mailbox),
            ResourceKind::Categories,
            &format!("/users/{}/outlook/masterCategories", seg(mailbox)),
        )
        .collect_ok()
        .await
    }

    /// Create a master category (`color`: `preset0`..`preset24` or `none`). Idempotent: an
    /// existing category of that name is returned (names are unique and cannot be renamed).
    pub async fn create_category(
        &self,
        mailbox: &str,
        name: &str,
        color: &str,
    ) -> Result<OutlookCategory, GraphError> {
        let path = format!("/users/{}/outlook/masterCategories", seg(mailbox));
        let body = serde_json::json!({ "displayName": name, "color": color });
        match self
            .send_json(
                Method::POST,
                Some(mailbox),
                ResourceKind::Categories,
                &path,
                &body,
                true,
            )
            .await
        {
            Ok(c) => Ok(c),
            Err(e) if e.status() == Some(409) => self
                .list_categories(mailbox)
                .await?
                .into_iter()
                .find(|c| {
                    c.display_name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .ok_or(e),
            Err(e) => Err(e),
        }
    }
}
