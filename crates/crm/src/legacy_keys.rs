//! The external keys another connector left for one mailbox: what adoption after a migration
//! (from the EWS connector) translates into Graph ids. One query per mailbox and content type,
//! capped, since CRM.interface documents no paging.

use crate::api::ExternalKey;
use crate::client::CrmSession;
use crate::codec::{Condition, Op, Query};
use crate::error::CrmError;

/// What [`CrmSession::mailbox_external_keys`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxKeys {
    /// Keys of systems other than the connector's own, of the content type.
    pub keys: Vec<ExternalKey>,
    /// More keys exist than `max` (the rest is not read).
    pub truncated: bool,
}

impl CrmSession<'_> {
    /// The external keys of `mailbox` and `content_type` (e.g. `text/x-vevent`) written by
    /// other systems than the connector's own (`[crm.dialect.external_key] own_system`), at
    /// most `max`.
    pub async fn mailbox_external_keys(
        &self,
        mailbox: &str,
        content_type: &str,
        max: u32,
    ) -> Result<MailboxKeys, CrmError> {
        let d = &self.dialect().external_key;
        if d.mailbox.is_empty() {
            // An installation whose external keys name no mailbox (`mailbox = ""`): the keys
            // of one mailbox cannot be told apart, so none are read for translation.
            return Ok(MailboxKeys {
                keys: Vec::new(),
                truncated: false,
            });
        }
        let condition = Condition::and(vec![
            Condition::cond(&d.table, &d.mailbox, Op::Eq, mailbox.to_ascii_lowercase()),
            Condition::cond(&d.table, &d.content_type, Op::Eq, content_type),
            Condition::cond(&d.table, &d.ext_system, Op::Ne, d.own_system.clone()),
        ]);
        let mut q = Query::on(
            &d.table,
            Some(condition),
            vec![
                d.ext_system.clone(),
                d.content_type.clone(),
                d.ext_key.clone(),
                d.mailbox.clone(),
            ],
        );
        q.max_records = Some(max.saturating_add(1));
        let results = self.queries(vec![q]).await?;
        let mut keys: Vec<ExternalKey> = self.read_external_keys(results)?;
        let truncated = keys.len() > max as usize;
        keys.truncate(max as usize);
        // The condition already leaves the own system out; a CRM.interface that compared
        // catalog texts differently must not make the connector's own keys look legacy.
        let own = &d.own_system;
        keys.retain(|k| k.ext_system != *own && !k.ext_key.is_empty());
        Ok(MailboxKeys { keys, truncated })
    }
}
