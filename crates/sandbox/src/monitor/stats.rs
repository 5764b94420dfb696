//! The request counter behind `GET /_sandbox/stats`: HTTP round trips per Graph resource and
//! per CRM rep, so that a benchmark or a test can say how many requests a piece of work cost.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Seen;

/// Requests seen since the start or the last reset (`POST /_sandbox/stats/reset`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestStats {
    pub graph: GraphRequests,
    pub crm: CrmRequests,
}

/// The Microsoft side: Graph v1.0 and the token endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GraphRequests {
    /// HTTP requests (a `$batch` is one), including those answered 401, 403, 429 or with an
    /// injected fault.
    pub total: u64,
    /// `total` by resource: `users`, `users.delta`, `mailFolders`, `childFolders`, `messages`,
    /// `messages.delta`, `messages.move`, `attachments`, `sendMail`, `$batch`, `token`, …
    pub by_resource: BTreeMap<String, u64>,
    /// The requests inside `$batch` envelopes, by resource (not part of `total`).
    pub in_batch: BTreeMap<String, u64>,
    /// Requests that change the tenant, by resource: every method but GET, on its own or
    /// inside a `$batch`; the `$batch` envelope itself (a POST whatever it carries) and the
    /// token endpoint are not counted, their contents are.
    pub writes: BTreeMap<String, u64>,
    /// Requests to a mailbox's resources (mail, calendar, contacts, To Do, mailbox settings,
    /// `sendMail`: what Outlook's four-at-a-time limit per mailbox covers), by the mailbox's
    /// user principal name, lower-cased; on their own or inside a `$batch`, refused ones
    /// included. A benchmark reads the busiest mailbox's share from it: no cycle can end
    /// before that mailbox's requests are through its four slots.
    pub by_mailbox: BTreeMap<String, u64>,
}

/// CRM.interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CrmRequests {
    /// HTTP requests to `/crm/interface`, including refused ones.
    pub total: u64,
    /// `total` by the rep a request acts for: the impersonated rep's address (or name) as the
    /// client sent it, lower-cased; requests of the master user itself under its login name.
    pub by_rep: BTreeMap<String, u64>,
    /// Commands by kind (`query`, `insert`, `update`, `delete`, `import`, `nop`, `invalid`);
    /// a request may carry several.
    pub by_command: BTreeMap<String, u64>,
    /// Records sent in write commands, by table (`Contact`, `ExternalKey`, `Participant`, …).
    pub written_by_table: BTreeMap<String, u64>,
}

impl RequestStats {
    pub(crate) fn add(&mut self, seen: &Seen) {
        match seen {
            Seen::Graph {
                resource,
                in_batch,
                write,
            } => {
                let g = &mut self.graph;
                if *write && resource != "$batch" && resource != "token" {
                    *g.writes.entry(resource.clone()).or_default() += 1;
                }
                if *in_batch {
                    *g.in_batch.entry(resource.clone()).or_default() += 1;
                } else {
                    g.total += 1;
                    *g.by_resource.entry(resource.clone()).or_default() += 1;
                }
            }
            Seen::Crm { rep, commands } => {
                let c = &mut self.crm;
                c.total += 1;
                *c.by_rep.entry(rep.clone()).or_default() += 1;
                for cmd in commands {
                    *c.by_command.entry(cmd.kind.name().to_owned()).or_default() += 1;
                    if cmd.kind.writes() {
                        // Records per table: a command's records may mix tables.
                        for t in &cmd.tables {
                            *c.written_by_table.entry(t.clone()).or_default() += 1;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{CrmCommand, SeenCommand};

    fn graph(resource: &str, in_batch: bool) -> Seen {
        Seen::Graph {
            resource: resource.into(),
            write: false,
            in_batch,
        }
    }

    #[test]
    fn counts_graph_requests_and_batched_ones_apart() {
        let mut s = RequestStats::default();
        s.add(&graph("messages.delta", false));
        s.add(&graph("messages.delta", false));
        s.add(&graph("$batch", false));
        s.add(&graph("messages.move", true));
        s.add(&graph("messages.move", true));
        assert_eq!(s.graph.total, 3);
        assert_eq!(s.graph.by_resource["messages.delta"], 2);
        assert_eq!(s.graph.by_resource["$batch"], 1);
        assert!(!s.graph.by_resource.contains_key("messages.move"));
        assert!(s.graph.writes.is_empty(), "GETs only");
        s.add(&Seen::Graph {
            resource: "events".into(),
            write: true,
            in_batch: true,
        });
        s.add(&Seen::Graph {
            resource: "$batch".into(),
            write: true,
            in_batch: false,
        });
        assert_eq!(s.graph.writes.len(), 1);
        assert_eq!(s.graph.writes["events"], 1);
        assert_eq!(s.graph.in_batch["messages.move"], 2);
        assert_eq!(s.crm, CrmRequests::default());
    }

    #[test]
    fn counts_crm_requests_by_rep_command_and_written_table() {
        let mut s = RequestStats::default();
        s.add(&Seen::Crm {
            rep: "ocsu".into(),
            commands: vec![SeenCommand {
                kind: CrmCommand::Query,
                tables: vec!["Rep".into()],
            }],
        });
        s.add(&Seen::Crm {
            rep: "ann@contoso.example".into(),
            commands: vec![
                SeenCommand {
                    kind: CrmCommand::Insert,
                    tables: vec![
                        "ExternalKey".into(),
                        "Participant".into(),
                        "Participant".into(),
                    ],
                },
                SeenCommand {
                    kind: CrmCommand::Update,
                    tables: vec!["Contact".into()],
                },
            ],
        });
        assert_eq!(s.crm.total, 2);
        assert_eq!(s.crm.by_rep["ocsu"], 1);
        assert_eq!(s.crm.by_rep["ann@contoso.example"], 1);
        assert_eq!(s.crm.by_command["query"], 1);
        assert_eq!(s.crm.by_command["insert"], 1);
        assert_eq!(s.crm.by_command["update"], 1);
        assert_eq!(s.crm.written_by_table["Participant"], 2);
        assert_eq!(s.crm.written_by_table["ExternalKey"], 1);
        assert_eq!(s.crm.written_by_table["Contact"], 1);
        assert!(
            !s.crm.written_by_table.contains_key("Rep"),
            "reads are not writes"
        );
        assert_eq!(s.graph.total, 0);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["crm"]["by_rep"]["ocsu"], 1);
        assert_eq!(v["graph"]["total"], 0);
    }
}
