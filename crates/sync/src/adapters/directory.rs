//! [`Directory`] over both clients: the enabled reps from CRM (as the master user), their
//! users and mailboxes from Graph.

use async_trait::async_trait;
use gc_crm::CrmClient;
use gc_graph::GraphClient;

use crate::ports::{Directory, MailUser, PortError, RepInfo};

/// The tenant's directory: CRM reps and Microsoft 365 users.
#[derive(Debug, Clone)]
pub struct TenantDirectory {
    crm: CrmClient,
    graph: GraphClient,
}

impl TenantDirectory {
    /// Over both clients.
    pub fn new(crm: CrmClient, graph: GraphClient) -> Self {
        TenantDirectory { crm, graph }
    }
}

#[async_trait]
impl Directory for TenantDirectory {
    async fn enabled_reps(&self) -> Result<Vec<RepInfo>, PortError> {
        let reps = self
            .crm
            .master()
            .enabled_reps()
            .await
            .map_err(|e| super::crm::port(&self.crm, e))?;
        Ok(reps
            .into_iter()
            .filter_map(|r| {
                Some(RepInfo {
                    crm_id: r.id,
                    rep_number: r.rep_id,
                    name: r.name,
                    email: r.email?,
                    language: r.language,
                    kinds: crate::engine::RepKinds {
                        emails: r.sync_emails,
                        appointments: r.sync_appointments,
                        tasks: r.sync_tasks,
                        contacts: r.sync_contacts,
                        absences: r.sync_absences,
                    },
                    user_settings: r.user_settings,
                })
            })
            .collect())
    }

    async fn find_user(&self, address: &str) -> Result<Option<MailUser>, PortError> {
        let user = self
            .graph
            .find_user_by_mail(address)
            .await
            .map_err(super::graph::port)?;
        Ok(user.map(|u| MailUser {
            addresses: u.smtp_addresses(),
            id: u.id,
        }))
    }

    async fn find_users(&self, addresses: &[String]) -> Vec<Result<Option<MailUser>, PortError>> {
        match self.graph.find_users_by_mail(addresses).await {
            Ok(found) => found
                .into_iter()
                .map(|r| {
                    r.map(|u| {
                        u.map(|u| MailUser {
                            addresses: u.smtp_addresses(),
                            id: u.id,
                        })
                    })
                    .map_err(super::graph::port)
                })
                .collect(),
            Err(e) => {
                let e = super::graph::port(e);
                addresses.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }

    async fn probe_mailbox(&self, user: &str) -> Result<(), PortError> {
        self.graph
            .get_mail_folder(user, "inbox")
            .await
            .map(|_| ())
            .map_err(super::graph::port)
    }
}
