//! The response model: a parsed `<response>`, its command results, records, fields and
//! `<return>` elements, as [`super::decode_response`] builds them.

use super::request::Link;
use gc_ids::CrmId;

/// A parsed `<response>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// Attributes of `<response>` (the echoed custom attributes, e.g. `reqid`).
    pub attrs: Vec<(String, String)>,
    /// `<return>` elements directly under `<response>` (session-level results, e.g. a
    /// failed login).
    pub returns: Vec<ReturnInfo>,
    /// One result per executed command, in order.
    pub results: Vec<CommandResult>,
}

impl Response {
    /// An echoed attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandResult {
    /// The element name (`query`, `insert`, …).
    pub command: String,
    /// Records (queries).
    pub records: Vec<Record>,
    /// `<return>` elements.
    pub returns: Vec<ReturnInfo>,
}

impl CommandResult {
    /// The first `<return type="error">`, if any.
    pub fn error(&self) -> Option<&ReturnInfo> {
        self.returns.iter().find(|r| r.kind == "error")
    }
}

/// A record in a response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// Element name: table name or alias.
    pub table: String,
    /// `tableshort` (info area code).
    pub tableshort: Option<String>,
    /// `id`.
    pub id: Option<CrmId>,
    /// Field values in document order.
    pub fields: Vec<Field>,
    /// Links to other records.
    pub links: Vec<Link>,
    /// Linked child records (nested tables).
    pub children: Vec<Record>,
}

impl Record {
    /// The value of a field (its text content).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// The first link to `tablename`.
    pub fn link(&self, tablename: &str) -> Option<CrmId> {
        self.links
            .iter()
            .find(|l| l.tablename == tablename)
            .map(|l| l.id)
    }
}

/// A field in a response record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Text content.
    pub value: String,
    /// Attributes such as `code`/`text` on catalog fields.
    pub attrs: Vec<(String, String)>,
}

/// A `<return>` element.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReturnInfo {
    /// `type` (`error`, `ok`, `insert`, `update`, `delete`, …).
    pub kind: String,
    /// `code`.
    pub code: Option<u16>,
    /// `text`.
    pub text: Option<String>,
    /// `tablename`.
    pub tablename: Option<String>,
    /// `fieldname`.
    pub fieldname: Option<String>,
    /// `id` of the written record.
    pub id: Option<CrmId>,
    /// `count`.
    pub count: Option<u64>,
}
