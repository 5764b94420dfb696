//! What a trip wire's predicate sees of a request ([`super::Monitor::arm_tripwire_where`]).
//!
//! A [`super::Target`] names a kind of request (a resource, a command and a table); some
//! fault tests need one request of that kind picked by its contents, e.g. "the activity
//! insert that writes an occurrence's external key", whichever place it takes among the
//! inserts. The predicate reads the request as the sandbox parsed it, borrowed: nothing is
//! copied for requests no predicate looks at.

use super::{CrmCommand, Seen};
use crate::crm::wire::{Cmd, InRecord, ParsedRequest, WriteKind};

/// A request on its way to the trip wires: what the request counter sees and, for
/// CRM.interface, the records its write commands carry.
#[derive(Debug, Clone, Copy)]
pub struct SeenRequest<'a> {
    seen: &'a Seen,
    crm: Option<&'a ParsedRequest>,
}

impl<'a> SeenRequest<'a> {
    /// `crm`: the parsed CRM.interface request (`None` for Graph, or a request that could not
    /// be read).
    pub(crate) fn new(seen: &'a Seen, crm: Option<&'a ParsedRequest>) -> SeenRequest<'a> {
        SeenRequest { seen, crm }
    }

    /// What the request counter sees (what a [`super::Target`] is matched against).
    pub(crate) fn seen(&self) -> &'a Seen {
        self.seen
    }

    /// The Graph resource (`messages.move`, … as in `GET /_sandbox/stats`); `None` for a
    /// CRM.interface request.
    pub fn graph_resource(&self) -> Option<&'a str> {
        match self.seen {
            Seen::Graph { resource, .. } => Some(resource),
            Seen::Crm { .. } => None,
        }
    }

    /// The rep a CRM.interface request acts for (as counted in `by_rep`); `None` for Graph.
    pub fn crm_rep(&self) -> Option<&'a str> {
        match self.seen {
            Seen::Crm { rep, .. } => Some(rep),
            Seen::Graph { .. } => None,
        }
    }

    /// The kinds of a CRM.interface request's commands, in order (none for Graph).
    pub fn crm_commands(&self) -> impl Iterator<Item = CrmCommand> + 'a {
        let commands: &'a [super::SeenCommand] = match self.seen {
            Seen::Crm { commands, .. } => commands,
            Seen::Graph { .. } => &[],
        };
        commands.iter().map(|c| c.kind)
    }

    /// The records of a CRM.interface request's write commands in document order, each
    /// record nested in another (an activity's external key, participants, documents) right
    /// after the record it is nested in. None for Graph or a request that could not be read.
    pub fn crm_records(&self) -> impl Iterator<Item = SeenRecord<'a>> + 'a {
        let commands: &'a [Cmd] = self.crm.map_or(&[], |r| &r.commands);
        commands
            .iter()
            .filter_map(|c| match c {
                Cmd::Write { kind, records, .. } => Some((command_of(*kind), records)),
                _ => None,
            })
            .flat_map(|(command, records)| {
                records.iter().flat_map(move |parent| {
                    std::iter::once(SeenRecord {
                        command,
                        record: parent,
                        parent: None,
                    })
                    .chain(parent.children.iter().map(move |child| {
                        SeenRecord {
                            command,
                            record: child,
                            parent: Some(parent),
                        }
                    }))
                })
            })
    }
}

fn command_of(kind: WriteKind) -> CrmCommand {
    match kind {
        WriteKind::Insert => CrmCommand::Insert,
        WriteKind::Update => CrmCommand::Update,
        WriteKind::Delete => CrmCommand::Delete,
        WriteKind::Import => CrmCommand::Import,
    }
}

/// One record of a CRM.interface write command, named as the client sent it (table and field
/// names of the client's dialect).
#[derive(Debug, Clone, Copy)]
pub struct SeenRecord<'a> {
    command: CrmCommand,
    record: &'a InRecord,
    parent: Option<&'a InRecord>,
}

impl<'a> SeenRecord<'a> {
    /// The command that carries it (insert, update, delete or import).
    pub fn command(&self) -> CrmCommand {
        self.command
    }

    /// Its table (the element name).
    pub fn table(&self) -> &'a str {
        &self.record.table
    }

    /// The table of the record it is nested in, if it is nested.
    pub fn parent_table(&self) -> Option<&'a str> {
        self.parent.map(|p| p.table.as_str())
    }

    /// The record id it names (updates, deletes).
    pub fn id(&self) -> Option<u64> {
        self.record.id
    }

    /// The value of a field (name case-insensitive) as sent: XML-unescaped, but not decoded
    /// when the field carries an `encoding`.
    pub fn field(&self, name: &str) -> Option<&'a str> {
        self.fields()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every field as `(name, value)`, in the order sent.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.record
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
    }

    /// Its `<link tablename id>` elements as `(table, id)`.
    pub fn links(&self) -> impl Iterator<Item = (&'a str, u64)> + 'a {
        self.record.links.iter().map(|(t, id)| (t.as_str(), *id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::wire::parse_request;

    #[test]
    fn records_of_writes_come_with_the_records_nested_in_them() {
        let parsed = parse_request(
            r#"<request user="OCSU" pwd="x" impersonate="email=Ann@Contoso.example">
            <query><tables><table tablename="Rep"/></tables></query>
            <insert><fields>
                <Activity><Subject>Weekly &amp; more</Subject><link tablename="Company" id="7"/>
                    <ExternalKey><ExtKey>uid-1#2026-01-05T09:00:00Z</ExtKey></ExternalKey>
                    <Participant><Email>bob@contoso.example</Email></Participant>
                </Activity>
            </fields></insert>
            <update><fields><Contact id="42"><Phone>1</Phone></Contact></fields></update>
        </request>"#,
        );
        let seen = crate::crm::seen::seen(&parsed);
        let r = SeenRequest::new(&seen, parsed.as_ref().ok());
        assert_eq!(r.crm_rep(), Some("ann@contoso.example"));
        assert_eq!(r.graph_resource(), None);
        assert_eq!(
            r.crm_commands().collect::<Vec<_>>(),
            [CrmCommand::Query, CrmCommand::Insert, CrmCommand::Update]
        );
        let recs: Vec<SeenRecord<'_>> = r.crm_records().collect();
        let tables: Vec<(&str, Option<&str>)> =
            recs.iter().map(|x| (x.table(), x.parent_table())).collect();
        assert_eq!(
            tables,
            [
                ("Activity", None),
                ("ExternalKey", Some("Activity")),
                ("Participant", Some("Activity")),
                ("Contact", None),
            ]
        );
        assert_eq!(recs[0].field("subject"), Some("Weekly & more"));
        assert_eq!(recs[0].links().collect::<Vec<_>>(), [("Company", 7)]);
        assert_eq!(recs[1].field("ExtKey"), Some("uid-1#2026-01-05T09:00:00Z"));
        assert_eq!(recs[1].command(), CrmCommand::Insert);
        assert_eq!(recs[3].command(), CrmCommand::Update);
        assert_eq!(recs[3].id(), Some(42));
        assert_eq!(recs[3].field("Subject"), None);
    }

    #[test]
    fn a_graph_request_has_no_crm_parts() {
        let seen = Seen::Graph {
            resource: "messages.move".into(),
            write: true,
            in_batch: false,
        };
        let r = SeenRequest::new(&seen, None);
        assert_eq!(r.graph_resource(), Some("messages.move"));
        assert_eq!(r.crm_rep(), None);
        assert_eq!(r.crm_commands().count(), 0);
        assert_eq!(r.crm_records().count(), 0);
    }
}
