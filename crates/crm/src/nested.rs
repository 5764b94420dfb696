//! Writing a new record together with the records that belong to it, in one request.
//!
//! With `[crm.dialect] child_records = "nested"` (the default) an activity's external key,
//! participants and documents are written as elements inside the activity's element of one
//! `<insert>`: one CRM.interface request per filed message instead of two, and the activity
//! never exists without its external key. The shape follows the nested `<table>` of a query;
//! the Administrator Guide does not show it for writes (research note §6: "an import could
//! alternatively nest child records under the parent", INF), so it is a dialect choice, and
//! `"separate"` writes the children in a second request.
//!
//! The answer holds one `<return>` per record in document order: the parent's first, then its
//! children's.
//!
//! **An installation that does not nest** is told apart from a refused item and stops the
//! run at tenant level ([`CrmError::DialectMismatch`], naming `child_records = "separate"`),
//! never as one failed item after another:
//! - it refuses the parent naming a child's table (as a table or as a field it does not know);
//! - it answers for the parent only (the children ignored): the parent was written, so the
//!   error is [`CrmError::Partial`] with its id and the engine adopts it after the fix;
//! - it takes the children but not as the parent's: the first nested insert of a process
//!   that carries an external key is read back once (one query, as the master user so
//!   that it does not queue behind the rep's other requests; as the rep when the master
//!   user does not see it), and a key that does not point to the new record is the same
//!   mismatch.
//!
//! `check` cannot find this out beforehand: CRM.interface documents no dry run, transaction
//! or rollback, and `check` never writes (research note §3.2).

use crate::client::CrmSession;
use crate::codec::{CatalogMode, Command, CommandResult, RecordData, Write, WriteKind};
use crate::dialect::Dialect;
use crate::error::CrmError;
use gc_ids::CrmId;

impl CrmSession<'_> {
    /// Insert `parent` with `children` inside it. The children's links to the parent's table
    /// are left out (their place says it). Returns the parent's id; `CrmError::Partial` when
    /// the parent was written but a child was refused.
    pub async fn insert_nested(
        &self,
        mut parent: RecordData,
        children: Vec<RecordData>,
    ) -> Result<CrmId, CrmError> {
        let table = parent.table.clone();
        let child_tables: Vec<String> = children.iter().map(|c| c.table.clone()).collect();
        parent.children = children
            .into_iter()
            .map(|mut c| {
                c.links
                    .retain(|l| !l.tablename.eq_ignore_ascii_case(&table));
                c
            })
            .collect();
        let expected = 1 + parent.children.len();
        let command = Command::Write(Write {
            kind: WriteKind::Insert,
            catalogs: CatalogMode::Text,
            records: vec![parent],
        });
        let resp = self.client.execute(self.rep_email, vec![command]).await?;
        let res = resp
            .results
            .first()
            .ok_or_else(|| CrmError::MalformedResponse("empty write result".into()))?;
        read_nested(self.dialect(), res, expected, &child_tables)
    }

    /// Once per process, after a nested insert that wrote `key` for the new record `id` of
    /// `table`: read the key back and check that it points to that record. `Ok` when it
    /// does (or was checked before); [`CrmError::Partial`] with a
    /// [`CrmError::DialectMismatch`] when CRM.interface took the child but not as the
    /// parent's.
    pub async fn confirm_nested(
        &self,
        table: &str,
        id: CrmId,
        ext_system: Option<&str>,
        key: &str,
    ) -> Result<(), CrmError> {
        use std::sync::atomic::Ordering;
        if self.client.nested_confirmed.load(Ordering::Relaxed) {
            return Ok(());
        }
        // One confirmation at a time: inserts that waited for a successful one are
        // confirmed by it (a failed one leaves the next to check its own key).
        let _one = self.client.nested_confirming.lock().await;
        if self.client.nested_confirmed.load(Ordering::Relaxed) {
            return Ok(());
        }
        // The query finds the keys by `key`; CRM stores it as the XML writer sanitized it, so
        // the record link, not the text, is what tells.
        let linked = |keys: &[crate::ExternalKey]| {
            keys.iter().any(|k| {
                k.record
                    .as_ref()
                    .is_some_and(|(t, r)| t.eq_ignore_ascii_case(table) && *r == id)
            })
        };
        let wanted = [key.to_owned()];
        // Read as the master user first: every nested insert the process made meanwhile waits
        // for this answer before its item goes on, and a read in the rep's own turn would
        // queue behind everything that rep's items asked for since (one request at a time
        // per rep): at a first sync that held the whole tenant's items for a third of a
        // second. The master user's requests run beside the reps'.
        let keys = match self
            .client
            .master()
            .find_external_keys(ext_system, &wanted)
            .await
        {
            Ok(keys) if linked(&keys) => keys,
            // Not seen by the master user (its rights may hide the rep's records), or not
            // answered: the rep who wrote it is asked before anything is called a mismatch.
            _ if self.rep_email.is_some() => self.find_external_keys(ext_system, &wanted).await?,
            read => read?,
        };
        if !linked(&keys) {
            return Err(CrmError::Partial {
                created: id,
                source: Box::new(mismatch(format!(
                    "the external key written nested in record {id} of {table} was read back {}",
                    if keys.is_empty() {
                        "nowhere".to_owned()
                    } else {
                        "without a link to that record".to_owned()
                    }
                ))),
            });
        }
        self.client.nested_confirmed.store(true, Ordering::Relaxed);
        tracing::debug!("nested child records confirmed by reading an external key back");
        Ok(())
    }
}

/// The mismatch: this CRM.interface does not write child records nested in an insert.
fn mismatch(detail: String) -> CrmError {
    CrmError::DialectMismatch {
        key: "child_records".into(),
        detail,
        fix: "this CRM.interface does not write child records nested inside an <insert>: set \
              [crm.dialect] child_records = \"separate\" (docs/CRM-INTERFACE.md, \"Nested child \
              records\")"
            .into(),
    }
}

/// Whether an error return names one of `child_tables` (as the table or as the field it
/// refused): the installation read a nested child as something else.
fn names_a_child(ret: &crate::codec::ReturnInfo, child_tables: &[String]) -> bool {
    [ret.tablename.as_deref(), ret.fieldname.as_deref()]
        .into_iter()
        .flatten()
        .any(|n| {
            child_tables
                .iter()
                .any(|c| c.eq_ignore_ascii_case(n.trim()))
        })
}

/// The parent's id from the returns of a nested insert, or why not.
fn read_nested(
    dialect: &Dialect,
    res: &CommandResult,
    expected: usize,
    child_tables: &[String],
) -> Result<CrmId, CrmError> {
    let Some(first) = res.returns.first() else {
        return Err(CrmError::MalformedResponse(
            "insert result without a return".into(),
        ));
    };
    if first.kind == "error" {
        let e = dialect.item_error(first);
        // A child refused as part of the parent: nothing was written, and every insert
        // would fail the same way.
        if names_a_child(first, child_tables) && !e.is_retryable() {
            return Err(mismatch(format!(
                "it refused the parent record for a nested child record ({e})"
            )));
        }
        return Err(e);
    }
    let id = first
        .id
        .ok_or_else(|| CrmError::MalformedResponse("insert result without record id".into()))?;
    if let Some(e) = res.returns[1..].iter().find(|r| r.kind == "error") {
        return Err(CrmError::Partial {
            created: id,
            source: Box::new(dialect.item_error(e)),
        });
    }
    if res.returns.len() != expected {
        // An installation that ignores nested records answers for the parent only.
        return Err(CrmError::Partial {
            created: id,
            source: Box::new(mismatch(format!(
                "{expected} records were sent nested, {} returns came back",
                res.returns.len()
            ))),
        });
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::codec::ReturnInfo;

    fn ret(kind: &str, id: Option<u64>) -> ReturnInfo {
        ReturnInfo {
            kind: kind.into(),
            code: Some(if kind == "error" { 400 } else { 201 }),
            text: (kind == "error").then(|| "refused".into()),
            tablename: None,
            fieldname: None,
            id: id.map(CrmId),
            count: None,
        }
    }

    fn result(returns: Vec<ReturnInfo>) -> CommandResult {
        CommandResult {
            command: "insert".into(),
            records: Vec::new(),
            returns,
        }
    }

    #[test]
    fn the_parent_id_when_every_record_was_written() {
        let r = result(vec![ret("insert", Some(7)), ret("insert", Some(8))]);
        assert_eq!(
            read_nested(&Dialect::default(), &r, 2, &[]).unwrap(),
            CrmId(7)
        );
    }

    #[test]
    fn a_refused_parent_wrote_nothing() {
        let r = result(vec![ret("error", None)]);
        let e = read_nested(&Dialect::default(), &r, 3, &["ExtKey".into()]).unwrap_err();
        assert!(!matches!(e, CrmError::Partial { .. }), "{e:?}");
        assert!(!matches!(e, CrmError::DialectMismatch { .. }), "{e:?}");
    }

    #[test]
    fn a_parent_refused_for_a_nested_child_is_a_dialect_mismatch() {
        let mut refused = ret("error", None);
        refused.tablename = Some("Contact".into());
        refused.fieldname = Some("ExtKey".into());
        let r = result(vec![refused]);
        let e =
            read_nested(&Dialect::default(), &r, 3, &["ExtKey".into(), "MB".into()]).unwrap_err();
        assert!(matches!(e, CrmError::DialectMismatch { .. }), "{e:?}");
        assert_eq!(e.kind(), crate::error::ErrorKind::UnknownName);
        assert!(
            e.to_string().contains("child_records = \"separate\""),
            "{e}"
        );
    }

    #[test]
    fn a_refused_or_ignored_child_is_partial() {
        let r = result(vec![ret("insert", Some(7)), ret("error", None)]);
        let e = read_nested(&Dialect::default(), &r, 2, &[]).unwrap_err();
        assert!(
            matches!(
                e,
                CrmError::Partial {
                    created: CrmId(7),
                    ..
                }
            ),
            "{e:?}"
        );
        // A refused child is the item's (a participant CRM does not take).
        assert_ne!(e.kind(), crate::error::ErrorKind::UnknownName);
        // Ignored children: the installation does not nest; the run stops (tenant level).
        let r = result(vec![ret("insert", Some(7))]);
        let e = read_nested(&Dialect::default(), &r, 3, &[]).unwrap_err();
        assert!(
            matches!(
                e,
                CrmError::Partial {
                    created: CrmId(7),
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.kind(), crate::error::ErrorKind::UnknownName);
        assert!(e.to_string().contains("child_records"), "{e}");
    }
}
