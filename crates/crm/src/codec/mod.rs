//! The CRM.interface request language: building `<request>` documents and reading
//! `<response>` documents.
//!
//! Requests are written with quick-xml's [`Writer`](quick_xml::Writer); every value goes through
//! [`dom::escape_text`](crate::dom::escape_text)/[`dom::escape_attr`](crate::dom::escape_attr)
//! (see [`crate::dom`] for the character policy) and every element or attribute name is
//! checked, so no caller-provided string can change the document structure. Responses are read
//! with quick-xml into [`dom::Element`](crate::dom::Element)s, one record at a time, and
//! interpreted here; anything unexpected is
//! [`CrmError::MalformedResponse`](crate::error::CrmError::MalformedResponse).
//!
//! `request` holds the request model and `writer` writes it; `response` holds the response
//! model and `reader` reads it.

mod reader;
mod request;
mod response;
mod writer;

#[cfg(test)]
mod tests;

pub use reader::decode_response;
pub use request::{
    CatalogMode, Command, Condition, FieldList, FieldValue, Link, LogicalOp, Op, Query, RecordData,
    Request, SessionAttrs, TableSpec, Write, WriteKind,
};
pub use response::{CommandResult, Field, Record, Response, ReturnInfo};
pub use writer::encode_request;
