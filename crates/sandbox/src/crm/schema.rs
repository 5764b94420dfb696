//! The tables of the CRM sandbox and the fields each one has, under the names records are
//! stored with. A request that names a table or field this installation does not have is
//! refused (400), as a real CRM.interface refuses names its data model lacks; the
//! [`super::names::CrmDialect`] decides which wire names mean which stored ones.

pub(crate) struct TableDef {
    pub name: &'static str,
    pub short: &'static str,
    /// Every field of the table (besides `StatNo`/`SeqNo`).
    pub fields: &'static [&'static str],
    /// Fields that must be non-empty on insert.
    pub required: &'static [&'static str],
    /// `(field, catalog)`: fields stored as catalog codes.
    pub catalogs: &'static [(&'static str, &'static str)],
    /// A link to this table is required on insert (`"*"`: to any table).
    pub required_link: Option<&'static str>,
}

pub(crate) const CATALOG_TABLE: &str = "CatalogValue";

/// The update stamp CRM writes on every insert and update of a table that has it (an RFC 3339
/// UTC time with microseconds, so that text order is time order): what lets a client ask for
/// the records changed since a checkpoint.
pub(crate) const UPDATE_STAMP: &str = "UpdTimestamp";

/// The activity (MA) fields: the connector's, and those of the vevent form of the sample
/// forms.xml.
const CONTACT_FIELDS: &[&str] = &[
    "Contact",
    "Subject",
    "Text",
    "Date",
    "Time",
    "EndDate",
    "EndTime",
    "RepID",
    "Rep",
    "ConnectorDeleted",
    "ConnectorPublished",
    "ConnectorMissingparticipants",
    "MissingParticipants",
    "ShowAs",
    "Private",
    "F5021",
    "F5044",
    "CoGrp",
    "CoNo",
    "PeGrp",
    "PeNo",
    "Company",
    "Person",
    "Status",
    "Duration",
    "Unit",
    "Priority",
    "ContactByID",
    "ContactBy",
    "ParticipantID",
    "Participants",
    "Document1",
    "Document2",
    "FreeC4",
    "FreeC5",
    "FreeC6",
    "IsMasterContact",
    "IsSerialContact",
    "ContactStatNo",
    "ContactSeqNo",
    "ProjectsStatNo",
    "ProjectsSeqNo",
    "ReminderDur",
    "ReminderUnit",
    "OpportunityStatNo",
    "OpportunitySeqNo",
    "A031Location",
    "Todo",
    UPDATE_STAMP,
];

pub(crate) const TABLES: &[TableDef] = &[
    TableDef {
        name: "Rep",
        short: "ID",
        fields: &[
            "RepID",
            "Name",
            "EMail1",
            "ConnectorEnabled",
            "SyncEmails",
            "SyncAppointments",
            "SyncTasks",
            "SyncContacts",
            "SyncAbsences",
            "Language",
            "UserSettings",
            "Phone",
            "Department",
        ],
        required: &["Name"],
        catalogs: &[],
        required_link: None,
    },
    TableDef {
        name: "Company",
        short: "FI",
        fields: &[
            "Company",
            "EMail",
            "City",
            "Country",
            "Phone",
            "Street",
            "ZipCode",
            "Www",
            "RepID",
            "FreeC1",
            "FreeC2",
            "FreeC3",
            UPDATE_STAMP,
        ],
        required: &["Company"],
        catalogs: &[],
        required_link: None,
    },
    TableDef {
        name: "Person",
        short: "KP",
        fields: &[
            "FirstName",
            "LastName",
            "EMail1",
            "EMail2",
            "Phone",
            "MobilePhone",
            "JobTitle",
            "Salutation",
            "Title",
            UPDATE_STAMP,
        ],
        required: &["LastName"],
        catalogs: &[],
        required_link: None,
    },
    TableDef {
        name: "Contact",
        short: "MA",
        fields: CONTACT_FIELDS,
        required: &["Contact", "Date"],
        catalogs: &[("Contact", "Activity Type"), ("ShowAs", "ShowAs")],
        required_link: None,
    },
    TableDef {
        name: "Participant",
        short: "MB",
        fields: &["EMail", "Role", "Status"],
        required: &[],
        catalogs: &[],
        required_link: Some("Contact"),
    },
    TableDef {
        name: "Tasks",
        short: "A1",
        fields: &[
            "RepID",
            "Subject",
            "Text",
            "StartDate",
            "DueDate",
            "Status",
            "Priority",
            "PercentComplete",
            "ReminderDate",
            "ReminderTime",
            "ConnectorDeleted",
            UPDATE_STAMP,
        ],
        required: &["Subject", "RepID"],
        catalogs: &[],
        required_link: None,
    },
    TableDef {
        name: "Absences",
        short: "A3",
        fields: &[
            "RepID",
            "StartDate",
            "StartTime",
            "EndDate",
            "EndTime",
            "Type",
            "Text",
            UPDATE_STAMP,
        ],
        required: &["RepID", "StartDate"],
        catalogs: &[],
        required_link: None,
    },
    TableDef {
        name: "ExternalKey",
        short: "XK",
        fields: &["ExtSystem", "ContentType", "ExtKey", "Mailbox"],
        required: &["ExtSystem", "ExtKey"],
        catalogs: &[
            ("ExtSystem", "Ext. System (Rep)"),
            ("ContentType", "Content Type (groupware)"),
        ],
        required_link: Some("*"),
    },
    TableDef {
        name: "Document",
        short: "D1",
        fields: &["FileName", "ContentType", "Size", "Content"],
        required: &["FileName", "Content"],
        catalogs: &[],
        required_link: Some("Contact"),
    },
    TableDef {
        name: CATALOG_TABLE,
        short: "KA",
        fields: &["Catalog", "Code", "Text", "ExtKey"],
        required: &["Catalog", "Text"],
        catalogs: &[],
        required_link: None,
    },
];

pub(crate) fn table_def(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().find(|t| t.name == name)
}
