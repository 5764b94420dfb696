//! What the contacts kind needs of its two sides.

use async_trait::async_trait;
use gc_crm::CrmPerson;
use gc_store::CrmId;
use serde_json::Value;

use crate::adopt::records::ContactStub;
use crate::error::PortError;

/// The Graph side: the target folder or category, and the connector's own contacts, always
/// addressed through the person id they carry.
#[async_trait]
pub trait ContactsGraph: Send + Sync {
    /// The id of the contact folder `name` (a child of the default folder), created when
    /// missing; `true` when it was created now.
    async fn contact_folder(&self, user: &str, name: &str) -> Result<(String, bool), PortError>;

    /// The id of the contact folder `name`, if it exists (a plan creates nothing).
    async fn find_contact_folder(
        &self,
        user: &str,
        name: &str,
    ) -> Result<Option<String>, PortError>;

    /// Make sure the master category list has `name`.
    async fn ensure_category(&self, user: &str, name: &str) -> Result<(), PortError>;

    /// Ids of the contacts in `folder` (`None`: the default folder) that carry `person` in
    /// the connector's extended property.
    async fn find_contacts(
        &self,
        user: &str,
        folder: Option<&str>,
        person: CrmId,
    ) -> Result<Vec<String>, PortError>;

    /// Every contact of `folder` (`None`: the default folder), with the person id of the
    /// connector's property where it has one: what adoption compares unlinked persons with.
    async fn folder_contacts(
        &self,
        user: &str,
        folder: Option<&str>,
    ) -> Result<Vec<ContactStub>, PortError>;

    /// Create a contact in `folder`; its id.
    async fn create_contact(
        &self,
        user: &str,
        folder: Option<&str>,
        body: &Value,
    ) -> Result<String, PortError>;

    /// Write `body` over a contact.
    async fn update_contact(&self, user: &str, id: &str, body: &Value) -> Result<(), PortError>;

    /// Delete a contact (one that is already gone is no error).
    async fn delete_contact(&self, user: &str, id: &str) -> Result<(), PortError>;
}

/// Which persons a rep works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The rep number (`RepID`).
    pub rep_number: String,
    /// Persons of the companies whose responsible rep this is.
    pub responsible_companies: bool,
    /// Persons of the rep's activities dated in `[since, today]`, when set.
    pub activities: Option<(jiff::civil::Date, jiff::civil::Date)>,
}

/// What a read of a rep's selection found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectionRead {
    /// The persons, each once, ordered by id.
    pub persons: Vec<CrmPerson>,
    /// The ids and update stamps the selection rests on, for the idle check
    /// ([`crate::contacts::probe`]); `None` when they cannot tell a change (the activity rule
    /// is on, or the dialect names no stamps).
    pub stamps: Option<Vec<gc_crm::CompanyStamps>>,
}

/// The CRM side.
#[async_trait]
pub trait PersonsCrm: Send + Sync {
    /// The persons of the rep's selection, each once, ordered by id, and what they rest on.
    async fn persons(&self, rep: &str, selection: &Selection) -> Result<SelectionRead, PortError>;
}
