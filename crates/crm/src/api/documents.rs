//! Documents attached to an activity: a document to attach and one read back, the record an
//! activity's insert writes with it (content base64-encoded, or a placeholder a streamed write
//! replaces on the wire), a document attached to an existing activity (whole or streamed from
//! a [`ContentSource`](crate::ContentSource)), an activity's documents read back.

use base64::Engine as _;
use gc_ids::CrmId;

use super::{id_condition, need_id};
use crate::client::CrmSession;
use crate::codec::{CatalogMode, FieldList, FieldValue, Query, RecordData, TableSpec, WriteKind};
use crate::error::CrmError;

/// A document to attach to an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// A document read back (metadata only, unless asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentInfo {
    pub id: CrmId,
    pub file_name: String,
    pub content_type: String,
    pub size: Option<u64>,
    /// Decoded content, when requested.
    pub content: Option<Vec<u8>>,
}

impl CrmSession<'_> {
    pub(super) fn document_record(&self, activity: CrmId, doc: &NewDocument) -> RecordData {
        self.document_fields(
            activity,
            &doc.file_name,
            &doc.content_type,
            doc.content.len() as u64,
            base64::engine::general_purpose::STANDARD.encode(&doc.content),
        )
    }

    /// A document record whose content field carries `base64` (the encoded content, or the
    /// placeholder a streamed write replaces on the wire).
    fn document_fields(
        &self,
        activity: CrmId,
        file_name: &str,
        content_type: &str,
        size: u64,
        base64: String,
    ) -> RecordData {
        let dl = self.dialect();
        let d = &dl.document;
        let mut content = FieldValue::new(&d.content, base64);
        content.attrs.push(("encoding".into(), "base64".into()));
        let mut rec = RecordData::new(&d.table)
            .field(&d.file_name, file_name)
            .field(&d.content_type, content_type)
            .field(&d.size, size.to_string())
            .link(&dl.activity.table, activity);
        rec.fields.push(content);
        rec
    }

    /// Attaches a document to an activity. The document is taken, not borrowed: its bytes
    /// are freed once they are base64 text, so a big document is not held three times over.
    pub async fn insert_document(
        &self,
        activity: CrmId,
        doc: NewDocument,
    ) -> Result<CrmId, CrmError> {
        let record = self.document_record(activity, &doc);
        drop(doc);
        self.write_one(WriteKind::Insert, CatalogMode::Text, record)
            .await
    }

    /// Attaches a document whose content is read from `source` while the request is sent:
    /// a document of any size costs a few pieces of memory, not its size.
    pub async fn insert_document_streamed(
        &self,
        activity: CrmId,
        file_name: &str,
        content_type: &str,
        source: std::sync::Arc<dyn crate::ContentSource>,
    ) -> Result<CrmId, CrmError> {
        let placeholder = format!("gc-content-{}", uuid::Uuid::new_v4().simple());
        let rec = self.document_fields(
            activity,
            file_name,
            content_type,
            source.len(),
            placeholder.clone(),
        );
        self.write_one_streamed(
            WriteKind::Insert,
            CatalogMode::Text,
            rec,
            crate::client::Streamed {
                placeholder,
                source,
            },
        )
        .await
    }

    /// Documents linked to an activity (with content when `with_content`).
    pub async fn documents(
        &self,
        activity: CrmId,
        with_content: bool,
    ) -> Result<Vec<DocumentInfo>, CrmError> {
        let dl = self.dialect();
        let d = &dl.document;
        let mut fields = vec![d.file_name.clone(), d.content_type.clone(), d.size.clone()];
        if with_content {
            fields.push(d.content.clone());
        }
        let q = Query {
            table: TableSpec::new(&dl.activity.table).with_child(TableSpec::new(&d.table)),
            condition: Some(id_condition(&dl.activity.table, activity)),
            fields: vec![FieldList {
                tablename: d.table.clone(),
                fields,
            }],
            max_records: None,
            catalogs: CatalogMode::Text,
        };
        let mut out = Vec::new();
        for parent in self.query(q).await? {
            for r in parent.children.iter().filter(|c| c.table == d.table) {
                let content = match r.get(&d.content) {
                    Some(b64) if with_content => Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(b64.trim())
                            .map_err(|e| {
                                CrmError::MalformedResponse(format!("document content: {e}"))
                            })?,
                    ),
                    _ => None,
                };
                out.push(DocumentInfo {
                    id: need_id(r)?,
                    file_name: r.get(&d.file_name).unwrap_or_default().to_owned(),
                    content_type: r.get(&d.content_type).unwrap_or_default().to_owned(),
                    size: r.get(&d.size).and_then(|s| s.trim().parse().ok()),
                    content,
                });
            }
        }
        Ok(out)
    }
}
