//! `graph-connector plan`: what the next `sync` would do, per mailbox and kind (how many
//! records it would create, adopt, update, delete on each side, skip, with a few examples and
//! their reasons), writing nothing to Microsoft 365, CRM or the state store: the mailbox list
//! is read without being stored, and each kind is walked by the engine's planning walk
//! (`gc_sync::engine::planner`), which decides and counts instead of applying.

use std::process::ExitCode;

use anyhow::Context;
use futures::StreamExt;
use gc_store::Kind;
use gc_sync::engine::PlannedKeys;
use gc_sync::plan::MailboxPlan;
use serde::Serialize;

use crate::cli::PlanArgs;
use crate::commands::sync::Runtime;
use crate::config;
use crate::wiring;

/// The JSON of `plan --json`.
#[derive(Debug, Serialize)]
pub struct Plans {
    /// One per mailbox and kind.
    pub plans: Vec<MailboxPlan>,
}

/// Plan every enabled kind (or `kind`) for every mailbox (or `only`).
pub async fn plan(rt: &Runtime, only: Option<&str>, kind: Option<Kind>) -> anyhow::Result<Plans> {
    rt.preflight().await?;
    let list =
        gc_sync::mailboxes::discover(&*rt.directory, &rt.store, &rt.managed_domains, rt.overrides)
            .await
            .context("reading the mailbox list (enabled reps in CRM, users in Microsoft 365)")?;
    let targets = rt.targets(&list, only)?;
    let parallel = rt.parallel_for(targets.len());
    let mut plans = Vec::new();
    for runner in rt.runners(&list) {
        if kind.is_some_and(|k| k != runner.kind()) {
            continue;
        }
        // Copies of one record in several mailboxes are written once: one set per kind.
        let keys = PlannedKeys::default();
        let of_kind: Vec<_> = targets
            .iter()
            .filter(|t| t.owner.kinds.has(runner.kind()))
            .collect();
        let runs: Vec<_> = of_kind
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (runner, keys, engine) = (&runner, &keys, &rt.engine);
                async move { (i, runner.plan_mailbox(engine, t, keys).await) }
            })
            .collect();
        let mut done: Vec<(usize, MailboxPlan)> = futures::stream::iter(runs)
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
        done.sort_by_key(|(i, _)| *i);
        plans.extend(done.into_iter().map(|(_, p)| p));
    }
    Ok(Plans { plans })
}

/// `plan`.
pub async fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let (config, warnings) = config::load_with_warnings(&args.config.config, std::env::vars())?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let kind = args.kind.as_deref().map(parse_kind).transpose()?;
    if let Some(k) = kind
        && !wiring::enabled_kinds(&config).contains(&k)
    {
        anyhow::bail!("{k} is not enabled in this configuration: nothing to plan");
    }
    let rt = Runtime::build(&config).await?;
    let plans = plan(&rt, args.mailbox.as_deref(), kind).await?;
    rt.store.close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plans)?);
    } else {
        print!("{}", table(&plans.plans));
    }
    Ok(if plans.plans.iter().any(|p| p.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `email`, `appointment`, ... (also the plural forms).
pub fn parse_kind(text: &str) -> anyhow::Result<Kind> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('s').unwrap_or(&t);
    t.parse::<Kind>().map_err(|_| {
        anyhow::anyhow!(
            "unknown kind {text:?}; write one of: {}",
            Kind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The plans as a table, with their examples.
pub fn table(plans: &[MailboxPlan]) -> String {
    let w = plans
        .iter()
        .map(|p| p.mailbox.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!(
        "{:<w$}  {:<11}  {:>6}  {:>5}  {:>6}  {:>6}  {:>5}  {:>5}  {:>5}  writes (CRM / Microsoft 365)\n",
        "mailbox", "kind", "create", "adopt", "update", "delete", "skip", "fail", "delay"
    );
    for p in plans {
        let s = &p.sides;
        out.push_str(&format!(
            "{:<w$}  {:<11}  {:>6}  {:>5}  {:>6}  {:>6}  {:>5}  {:>5}  {:>5}  +{} ~{} -{} / +{} ~{} -{}{}{}\n",
            p.mailbox,
            p.kind.as_str(),
            p.create,
            p.adopt,
            p.update,
            p.delete,
            p.skip,
            p.fail,
            p.delay,
            s.crm.create + s.crm.adopt,
            s.crm.update,
            s.crm.delete,
            s.microsoft365.create + s.microsoft365.adopt,
            s.microsoft365.update,
            s.microsoft365.delete,
            if p.first_sync { "  (first sync)" } else { "" },
            p.error
                .as_deref()
                .map(|e| format!("  ERROR: {e}"))
                .unwrap_or_default(),
        ));
        for sample in &p.samples {
            out.push_str(&format!(
                "    {:<6} {}: {}\n",
                sample.action, sample.item, sample.reason
            ));
        }
        if p.expected_copies > 0 {
            out.push_str(&format!(
                "    and {} cop{} in other synced calendars, adopted there (counted in their runs, this one or the next):\n",
                p.expected_copies,
                if p.expected_copies == 1 { "y" } else { "ies" }
            ));
        }
        for copy in &p.copies {
            out.push_str(&format!("    copy   {}: {}\n", copy.item, copy.reason));
        }
    }
    out.push_str("Nothing was written. `sync --once` or the service does this.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_in_either_number() {
        assert_eq!(parse_kind("appointments").unwrap(), Kind::Appointment);
        assert_eq!(parse_kind("Email").unwrap(), Kind::Email);
        assert!(
            parse_kind("calendar")
                .unwrap_err()
                .to_string()
                .contains("email")
        );
    }
}
