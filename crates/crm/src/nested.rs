//! Writing a new record together with the records that belong to it, in one request.
//!
//! With `[crm.dialect] child_records = "nested"` an activity's external key, participants and
//! documents are written as elements inside the activity's element of one `<insert>`: one
//! CRM.interface request per filed message instead of two, and the activity never exists
//! without its external key. The shape follows the nested `<table>` of a query; the
//! Administrator Guide does not show it for writes (research note §6: "an import could
//! alternatively nest child records under the parent", INF), so it is a dialect choice, off by
//! default.
//!
//! The answer holds one `<return>` per record in document order: the parent's first, then its
//! children's.

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
        read_nested(self.dialect(), res, expected)
    }
}

/// The parent's id from the returns of a nested insert, or why not.
fn read_nested(dialect: &Dialect, res: &CommandResult, expected: usize) -> Result<CrmId, CrmError> {
    let Some(first) = res.returns.first() else {
        return Err(CrmError::MalformedResponse(
            "insert result without a return".into(),
        ));
    };
    if first.kind == "error" {
        return Err(dialect.item_error(first));
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
            source: Box::new(CrmError::MalformedResponse(format!(
                "{expected} records sent nested, {} returns received (does this CRM.interface \
                 write nested records? set [crm.dialect] child_records = \"separate\")",
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
        assert_eq!(read_nested(&Dialect::default(), &r, 2).unwrap(), CrmId(7));
    }

    #[test]
    fn a_refused_parent_wrote_nothing() {
        let r = result(vec![ret("error", None)]);
        let e = read_nested(&Dialect::default(), &r, 3).unwrap_err();
        assert!(!matches!(e, CrmError::Partial { .. }), "{e:?}");
    }

    #[test]
    fn a_refused_or_ignored_child_is_partial() {
        let r = result(vec![ret("insert", Some(7)), ret("error", None)]);
        let e = read_nested(&Dialect::default(), &r, 2).unwrap_err();
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
        let r = result(vec![ret("insert", Some(7))]);
        let e = read_nested(&Dialect::default(), &r, 3).unwrap_err();
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
    }
}
