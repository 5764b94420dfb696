//! Contacts and contact folders.

use reqwest::Method;
use serde::Serialize;

use crate::client::{GraphClient, seg};
use crate::error::{GraphError, ResourceKind};
use crate::models::{Contact, ContactFolder};
use crate::paging::{DeltaItem, PageStream};

fn user(mailbox: &str) -> String {
    format!("/users/{}", seg(mailbox))
}

fn folder_path(mailbox: &str, folder: Option<&str>) -> String {
    match folder {
        Some(f) => format!("{}/contactFolders/{}/contacts", user(mailbox), seg(f)),
        None => format!("{}/contacts", user(mailbox)),
    }
}

impl GraphClient {
    /// Contact folders (children of the default folder).
    pub async fn list_contact_folders(
        &self,
        mailbox: &str,
    ) -> Result<Vec<ContactFolder>, GraphError> {
        self.list(
            Some(mailbox),
            ResourceKind::Contacts,
            &format!("{}/contactFolders?$top=250", user(mailbox)),
        )
        .collect_ok()
        .await
    }

    /// Create a contact folder; idempotent (an existing folder of that name is returned).
    pub async fn create_contact_folder(
        &self,
        mailbox: &str,
        name: &str,
    ) -> Result<ContactFolder, GraphError> {
        let body = serde_json::json!({ "displayName": name });
        let path = format!("{}/contactFolders", user(mailbox));
        match self
            .send_json(
                Method::POST,
                Some(mailbox),
                ResourceKind::Contacts,
                &path,
                &body,
                true,
            )
            .await
        {
            Ok(f) => Ok(f),
            Err(e) if e.status() == Some(409) => self
                .list_contact_folders(mailbox)
                .await?
                .into_iter()
                .find(|f| {
                    f.display_name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .ok_or(e),
            Err(e) => Err(e),
        }
    }

    /// Start a contact delta round for a folder (`None`: the default Contacts folder).
    pub fn contact_delta(
        &self,
        mailbox: &str,
        folder: Option<&str>,
        select: Option<&str>,
    ) -> PageStream<DeltaItem<Contact>> {
        let mut path = format!("{}/delta", folder_path(mailbox, folder));
        if let Some(s) = select {
            path.push_str("?$select=");
            path.push_str(&crate::client::qv(s));
        }
        self.delta(Some(mailbox), ResourceKind::Contacts, &path)
    }

    /// Contacts of a folder (`None`: default folder).
    pub fn list_contacts(&self, mailbox: &str, folder: Option<&str>) -> PageStream<Contact> {
        self.list(
            Some(mailbox),
            ResourceKind::Contacts,
            &format!("{}?$top=100", folder_path(mailbox, folder)),
        )
    }

    /// Every contact of a folder (`None`: the default folder) with the single-value extended
    /// property `property` expanded where a contact has it: what adoption compares an unlinked
    /// person with (the previous connector's contact, which carries no property of ours).
    pub async fn contacts_expanding(
        &self,
        mailbox: &str,
        folder: Option<&str>,
        property: &str,
    ) -> Result<Vec<Contact>, GraphError> {
        let expand = format!(
            "singleValueExtendedProperties($filter=id eq '{}')",
            property.replace('\'', "''")
        );
        let path = format!(
            "{}?$top=100&$expand={}",
            folder_path(mailbox, folder),
            crate::client::qv(&expand)
        );
        self.list(Some(mailbox), ResourceKind::Contacts, &path)
            .collect_ok()
            .await
    }

    /// The contacts of a folder (`None`: the default folder) that carry the single-value
    /// extended property `property` with `value`, the property expanded. This is how the
    /// connector finds the contacts it wrote (and only those) again.
    pub async fn contacts_with_property(
        &self,
        mailbox: &str,
        folder: Option<&str>,
        property: &str,
        value: &str,
    ) -> Result<Vec<Contact>, GraphError> {
        let path = format!(
            "{}?{}",
            folder_path(mailbox, folder),
            crate::ops::property_query(property, value)
        );
        self.list(Some(mailbox), ResourceKind::Contacts, &path)
            .collect_ok()
            .await
    }

    /// One contact.
    pub async fn get_contact(&self, mailbox: &str, id: &str) -> Result<Contact, GraphError> {
        self.get_json(
            Some(mailbox),
            ResourceKind::Contacts,
            &format!("{}/contacts/{}", user(mailbox), seg(id)),
        )
        .await
    }

    /// Create a contact in a folder (`None`: default folder).
    pub async fn create_contact<B: Serialize + ?Sized>(
        &self,
        mailbox: &str,
        folder: Option<&str>,
        contact: &B,
    ) -> Result<Contact, GraphError> {
        self.send_json(
            Method::POST,
            Some(mailbox),
            ResourceKind::Contacts,
            &folder_path(mailbox, folder),
            contact,
            false,
        )
        .await
    }

    /// PATCH a contact.
    pub async fn update_contact<B: Serialize + ?Sized>(
        &self,
        mailbox: &str,
        id: &str,
        patch: &B,
    ) -> Result<Contact, GraphError> {
        self.send_json(
            Method::PATCH,
            Some(mailbox),
            ResourceKind::Contacts,
            &format!("{}/contacts/{}", user(mailbox), seg(id)),
            patch,
            true,
        )
        .await
    }

    /// Delete a contact.
    pub async fn delete_contact(&self, mailbox: &str, id: &str) -> Result<(), GraphError> {
        self.delete(
            Some(mailbox),
            ResourceKind::Contacts,
            &format!("{}/contacts/{}", user(mailbox), seg(id)),
        )
        .await
    }
}
