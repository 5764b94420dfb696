//! The request model: a `<request>`'s session attributes and its commands (queries, writes and
//! their records), as [`super::encode_request`] writes them.

use secrecy::SecretString;

use gc_ids::CrmId;

/// Session attributes of a `<request>`.
#[derive(Debug, Clone)]
pub struct SessionAttrs {
    /// Login of the (master) user.
    pub user: String,
    /// Its password; written into `pwd`, never into logs or errors.
    pub pwd: SecretString,
    /// `impersonate` value, e.g. `email=simon.seller@example.com`.
    pub impersonate: Option<String>,
    /// `lang` (ISO 639 code or Aurea language index).
    pub lang: Option<String>,
    /// Correlation id, sent as the custom attribute `reqid` and echoed by the server.
    pub reqid: String,
}

/// How catalog values are exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatalogMode {
    /// Text in the session language (CRM.interface's default).
    #[default]
    Text,
    /// Numeric codes (`catbynum="true"`).
    ByNum,
    /// External keys (`catexkeys="true"`).
    ExKeys,
}

/// A request: session attributes plus commands executed in order.
#[derive(Debug, Clone)]
pub struct Request {
    /// Session attributes.
    pub session: SessionAttrs,
    /// Commands.
    pub commands: Vec<Command>,
}

/// One command of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `<query>`.
    Query(Query),
    /// `<insert>`, `<update>`, `<delete>` or `<import>`.
    Write(Write),
    /// `<nop/>`: does nothing; used to test a login.
    Nop,
}

/// A `<query>` command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// The root table; nested tables are linked child records.
    pub table: TableSpec,
    /// Optional filter.
    pub condition: Option<Condition>,
    /// Output columns per table (`<fields tablename fields="a,b"/>`).
    pub fields: Vec<FieldList>,
    /// `maxrecords`.
    pub max_records: Option<u32>,
    /// Catalog representation.
    pub catalogs: CatalogMode,
}

impl Query {
    /// A query of one table: `fields` of the records of `table` that match `condition`, catalog
    /// values as text. Nearly every read the connector makes has this shape.
    pub fn on(table: &str, condition: Option<Condition>, fields: Vec<String>) -> Self {
        Query {
            table: TableSpec::new(table),
            condition,
            fields: vec![FieldList {
                tablename: table.to_owned(),
                fields,
            }],
            max_records: None,
            catalogs: CatalogMode::Text,
        }
    }
}

/// A `<table>` in `<tables>`; children are records linked to the parent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableSpec {
    /// XML table name, e.g. `Contact`.
    pub tablename: String,
    /// Alias (needed when the same table is read twice).
    pub alias: Option<String>,
    /// Linked child tables.
    pub children: Vec<TableSpec>,
}

impl TableSpec {
    /// A table without alias or children.
    pub fn new(tablename: impl Into<String>) -> Self {
        Self {
            tablename: tablename.into(),
            alias: None,
            children: Vec::new(),
        }
    }

    /// Adds a linked child table.
    pub fn with_child(mut self, child: TableSpec) -> Self {
        self.children.push(child);
        self
    }
}

/// Comparison operators of `<cond op=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Parses the wire form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "=" | "==" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }
}

/// Logical operators of `<lop value=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalOp {
    /// `and`
    And,
    /// `or`
    Or,
}

/// A filter: a single comparison or a logical combination.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `<cond tablename fieldname op value/>`.
    Cond {
        tablename: String,
        fieldname: String,
        op: Op,
        value: String,
    },
    /// `<lop value="and|or">…</lop>`.
    Lop {
        op: LogicalOp,
        items: Vec<Condition>,
    },
}

impl Condition {
    /// `tablename.fieldname op value`.
    pub fn cond(tablename: &str, fieldname: &str, op: Op, value: impl Into<String>) -> Self {
        Self::Cond {
            tablename: tablename.into(),
            fieldname: fieldname.into(),
            op,
            value: value.into(),
        }
    }

    /// All items must hold.
    pub fn and(items: Vec<Condition>) -> Self {
        Self::Lop {
            op: LogicalOp::And,
            items,
        }
    }

    /// At least one item must hold.
    pub fn or(items: Vec<Condition>) -> Self {
        Self::Lop {
            op: LogicalOp::Or,
            items,
        }
    }
}

/// `<fields tablename fields="…"/>`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldList {
    /// Table (or alias).
    pub tablename: String,
    /// Field names.
    pub fields: Vec<String>,
}

impl FieldList {
    /// Builds a field list.
    pub fn new(tablename: &str, fields: &[&str]) -> Self {
        Self {
            tablename: tablename.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// The write commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// `<insert>`
    Insert,
    /// `<update>`: records carry an `id`.
    Update,
    /// `<delete>`: records carry an `id`.
    Delete,
    /// `<import>`: upsert; fields with `matchup="true"` find the existing record.
    Import,
}

impl WriteKind {
    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteKind::Insert => "insert",
            WriteKind::Update => "update",
            WriteKind::Delete => "delete",
            WriteKind::Import => "import",
        }
    }
}

/// A write command: `<insert><fields><Table>…</Table></fields></insert>` and friends.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// Which command.
    pub kind: WriteKind,
    /// Catalog representation of the values.
    pub catalogs: CatalogMode,
    /// The records.
    pub records: Vec<RecordData>,
}

/// A record to write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordData {
    /// XML table name.
    pub table: String,
    /// The record's id (update, delete).
    pub id: Option<CrmId>,
    /// Field values.
    pub fields: Vec<FieldValue>,
    /// Links to parent records (`<link tablename id/>`).
    pub links: Vec<Link>,
    /// Records written inside this one, linked to it by their place (an insert with
    /// `child_records = "nested"`; see [`crate::nested`]).
    pub children: Vec<RecordData>,
}

impl RecordData {
    /// An empty record of `table`.
    pub fn new(table: &str) -> Self {
        Self {
            table: table.into(),
            ..Self::default()
        }
    }

    /// Adds a field.
    pub fn field(mut self, name: &str, value: impl Into<String>) -> Self {
        self.fields.push(FieldValue::new(name, value));
        self
    }

    /// Adds a field used for matching (`matchup="true"`, for import).
    pub fn matchup(mut self, name: &str, value: impl Into<String>) -> Self {
        let mut f = FieldValue::new(name, value);
        f.matchup = true;
        self.fields.push(f);
        self
    }

    /// Adds a link to a parent record.
    pub fn link(mut self, tablename: &str, id: CrmId) -> Self {
        self.links.push(Link {
            tablename: tablename.into(),
            id,
        });
        self
    }
}

/// A field value in a write.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldValue {
    /// Field name.
    pub name: String,
    /// Value (text; catalog values per [`CatalogMode`]).
    pub value: String,
    /// `matchup="true"`.
    pub matchup: bool,
    /// Extra attributes, e.g. `encoding="base64"`.
    pub attrs: Vec<(String, String)>,
}

impl FieldValue {
    /// A plain field value.
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            matchup: false,
            attrs: Vec::new(),
        }
    }
}

/// A link from a record to another record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The linked record's table.
    pub tablename: String,
    /// The linked record's id.
    pub id: CrmId,
}
