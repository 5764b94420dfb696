//! [`ContactsGraph`] over [`GraphMail`]'s client and [`PersonsCrm`] over [`CrmActivities`]'s.

use std::collections::BTreeSet;

use async_trait::async_trait;
use gc_crm::CrmPerson;
use gc_graph::ErrorKind;
use gc_store::CrmId;
use serde_json::Value;

use crate::adapters::{CrmActivities, GraphMail, crm::port as crm_port, graph::port};
use crate::adopt::records::ContactStub;
use crate::contacts::model::PERSON_PROPERTY;
use crate::contacts::ports::{ContactsGraph, PersonsCrm, Selection, SelectionRead};
use crate::error::PortError;

#[async_trait]
impl ContactsGraph for GraphMail {
    async fn contact_folder(&self, user: &str, name: &str) -> Result<(String, bool), PortError> {
        let c = self.client();
        let folders = c.list_contact_folders(user).await.map_err(port)?;
        if let Some(f) = folders.iter().find(|f| {
            f.display_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            return Ok((f.id.clone(), false));
        }
        let f = c.create_contact_folder(user, name).await.map_err(port)?;
        Ok((f.id, true))
    }

    async fn find_contact_folder(
        &self,
        user: &str,
        name: &str,
    ) -> Result<Option<String>, PortError> {
        let folders = self
            .client()
            .list_contact_folders(user)
            .await
            .map_err(port)?;
        Ok(folders
            .into_iter()
            .find(|f| {
                f.display_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .map(|f| f.id))
    }

    async fn ensure_category(&self, user: &str, name: &str) -> Result<(), PortError> {
        self.client()
            .create_category(user, name, "preset7")
            .await
            .map(|_| ())
            .map_err(port)
    }

    async fn find_contacts(
        &self,
        user: &str,
        folder: Option<&str>,
        person: CrmId,
    ) -> Result<Vec<String>, PortError> {
        let found = self
            .client()
            .contacts_with_property(user, folder, PERSON_PROPERTY, &person.to_string())
            .await
            .map_err(port)?;
        // Only what really carries the id (a server that ignored the filter must not hand
        // the user's own contacts to a write).
        let want = person.to_string();
        Ok(found
            .into_iter()
            .filter(|c| {
                c.single_value_extended_properties
                    .iter()
                    .flatten()
                    .any(|p| {
                        p.id.eq_ignore_ascii_case(PERSON_PROPERTY)
                            && p.value.as_deref() == Some(&want)
                    })
            })
            .map(|c| c.id)
            .collect())
    }

    async fn folder_contacts(
        &self,
        user: &str,
        folder: Option<&str>,
    ) -> Result<Vec<ContactStub>, PortError> {
        let all = self
            .client()
            .contacts_expanding(user, folder, PERSON_PROPERTY)
            .await
            .map_err(port)?;
        Ok(all
            .into_iter()
            .map(|c| ContactStub {
                marker: c
                    .single_value_extended_properties
                    .iter()
                    .flatten()
                    .find(|p| p.id.eq_ignore_ascii_case(PERSON_PROPERTY))
                    .and_then(|p| p.value.clone()),
                display_name: c.display_name.unwrap_or_default(),
                emails: c
                    .email_addresses
                    .iter()
                    .flatten()
                    .filter_map(|e| e.address.as_deref().map(str::to_ascii_lowercase))
                    .collect(),
                id: c.id,
            })
            .collect())
    }

    async fn create_contact(
        &self,
        user: &str,
        folder: Option<&str>,
        body: &Value,
    ) -> Result<String, PortError> {
        self.client()
            .create_contact(user, folder, body)
            .await
            .map(|c| c.id)
            .map_err(port)
    }

    async fn update_contact(&self, user: &str, id: &str, body: &Value) -> Result<(), PortError> {
        self.client()
            .update_contact(user, id, body)
            .await
            .map(|_| ())
            .map_err(port)
    }

    async fn delete_contact(&self, user: &str, id: &str) -> Result<(), PortError> {
        match self.client().delete_contact(user, id).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            r => r.map_err(port),
        }
    }
}

#[async_trait]
impl PersonsCrm for CrmActivities {
    async fn persons(&self, rep: &str, sel: &Selection) -> Result<SelectionRead, PortError> {
        let c = self.client();
        let s = c.as_rep(rep);
        let err = |e| crm_port(c, e);
        let (mut out, mut stamps): (Vec<CrmPerson>, _) = if sel.responsible_companies {
            s.persons_of_rep_companies(&sel.rep_number)
                .await
                .map_err(err)?
        } else {
            (Vec::new(), Some(Vec::new()))
        };
        if let Some((from, to)) = sel.activities {
            let have: BTreeSet<CrmId> = out.iter().map(|p| p.id).collect();
            let more: Vec<CrmId> = s
                .persons_of_rep_activities(&sel.rep_number, from, to)
                .await
                .map_err(err)?
                .into_iter()
                .filter(|id| !have.contains(id))
                .collect();
            out.extend(s.persons_by_ids(&more).await.map_err(err)?);
            // The activity rule has no idle check (see `contacts::probe`).
            stamps = None;
        }
        out.sort_by_key(|p| p.id);
        out.dedup_by_key(|p| p.id);
        Ok(SelectionRead {
            persons: out,
            stamps,
        })
    }
}
