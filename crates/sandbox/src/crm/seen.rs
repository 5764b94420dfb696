//! What the request counter and the trip wires see of a CRM.interface request.

use super::wire::{Cmd, ParsedRequest, WriteKind};
use crate::monitor::{CrmCommand, Seen, SeenCommand};

/// Rep label of a request that could not be read.
const UNREADABLE: &str = "(unreadable)";

/// `rep`: the first `key=value` of `impersonate` (the rep's address or name as the client sent
/// it, lower-cased), else the login name; commands with their tables.
pub(crate) fn seen(req: &Result<ParsedRequest, String>) -> Seen {
    let Ok(req) = req else {
        return Seen::Crm {
            rep: UNREADABLE.to_owned(),
            commands: Vec::new(),
        };
    };
    let rep = req
        .attr("impersonate")
        .and_then(|imp| {
            imp.split(';')
                .filter_map(|pair| pair.split_once('='))
                .map(|(_, v)| v.trim())
                .find(|v| !v.is_empty())
        })
        .or_else(|| req.attr("user"))
        .unwrap_or(UNREADABLE)
        .to_ascii_lowercase();
    let commands = req
        .commands
        .iter()
        .map(|c| match c {
            Cmd::Query(q) => SeenCommand {
                kind: CrmCommand::Query,
                tables: vec![q.table.name.clone()],
            },
            Cmd::Write { kind, records, .. } => SeenCommand {
                kind: match kind {
                    WriteKind::Insert => CrmCommand::Insert,
                    WriteKind::Update => CrmCommand::Update,
                    WriteKind::Delete => CrmCommand::Delete,
                    WriteKind::Import => CrmCommand::Import,
                },
                tables: records
                    .iter()
                    .flat_map(|r| std::iter::once(r).chain(&r.children))
                    .map(|r| r.table.clone())
                    .collect(),
            },
            Cmd::Nop => SeenCommand {
                kind: CrmCommand::Nop,
                tables: Vec::new(),
            },
            // a malformed command still counts as what the client sent
            Cmd::Bad(name, ..) => SeenCommand {
                kind: match name.as_str() {
                    "query" => CrmCommand::Query,
                    "insert" => CrmCommand::Insert,
                    "update" => CrmCommand::Update,
                    "delete" => CrmCommand::Delete,
                    "import" => CrmCommand::Import,
                    _ => CrmCommand::Invalid,
                },
                tables: Vec::new(),
            },
        })
        .collect();
    Seen::Crm { rep, commands }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::wire::parse_request;

    #[test]
    fn impersonated_rep_and_commands_are_seen() {
        let body = r#"<request user="OCSU" pwd="x" impersonate="email=Ann@Contoso.example;rep=Ann">
            <insert><fields><Contact><Subject>x</Subject></Contact></fields></insert>
            <query><tables><table tablename="ExternalKey"/></tables></query>
        </request>"#;
        let Seen::Crm { rep, commands } = seen(&parse_request(body)) else {
            panic!("a CRM request");
        };
        assert_eq!(rep, "ann@contoso.example");
        assert_eq!(commands.len(), 2);
        assert_eq!(commands[0].kind, CrmCommand::Insert);
        assert_eq!(commands[0].tables, ["Contact"]);
        assert_eq!(commands[1].kind, CrmCommand::Query);
        assert_eq!(commands[1].tables, ["ExternalKey"]);
    }

    #[test]
    fn master_requests_count_under_the_login_and_garbage_under_unreadable() {
        let Seen::Crm { rep, commands } = seen(&parse_request(
            r#"<request user="OCSU" pwd="x"><nop/></request>"#,
        )) else {
            panic!("a CRM request");
        };
        assert_eq!(rep, "ocsu");
        assert_eq!(commands[0].kind, CrmCommand::Nop);
        let Seen::Crm { rep, .. } = seen(&parse_request("<not-xml")) else {
            panic!("a CRM request");
        };
        assert_eq!(rep, UNREADABLE);
        let Seen::Crm { commands, .. } = seen(&parse_request(
            r#"<request user="OCSU" pwd="x"><insert/><frobnicate/></request>"#,
        )) else {
            panic!("a CRM request");
        };
        assert_eq!(commands[0].kind, CrmCommand::Insert);
        assert_eq!(commands[1].kind, CrmCommand::Invalid);
    }
}
