//! From the configuration to the clients: the one place where `[microsoft]`, `[crm]`, `[state]`
//! and `[errors]` become `gc-graph`, `gc-crm` and `gc-store` settings, so that `check`, `sync`
//! and the daemon build their clients the same way.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{CertificateAlgorithm, Config};

/// Graph client options for this configuration.
pub fn graph_options(config: &Config) -> anyhow::Result<gc_graph::GraphOptions> {
    let m = &config.microsoft;
    let credential = match (&m.client_secret, &m.certificate) {
        (Some(secret), None) => gc_graph::Credential::Secret(secret.clone()),
        (None, Some(path)) => certificate(
            path,
            m.certificate_password.as_ref(),
            m.certificate_algorithm,
        )?,
        _ => anyhow::bail!("give exactly one of [microsoft] client_secret and certificate"),
    };
    let mut options = gc_graph::GraphOptions::new(&m.tenant_id, &m.client_id, credential)
        .with_urls(
            format!("{}/v1.0", m.graph_url.trim_end_matches('/')),
            m.login_url.trim_end_matches('/'),
        );
    let e = &config.errors;
    options.request_timeout = Duration::from_secs(e.graph_timeout_seconds.into());
    options.max_retries = e.max_retries;
    options.base_backoff = Duration::from_secs_f64(e.initial_backoff_seconds);
    options.max_backoff = Duration::from_secs_f64(e.max_backoff_seconds);
    options.mailbox_concurrency = m.mailbox_concurrency as usize;
    options.tenant_budget = Some(gc_graph::Budget::per_second(m.requests_per_second));
    options.page_size = Some(m.page_size);
    if let Some(ca) = &m.ca_file {
        options.extra_ca_pem = Some(
            std::fs::read(ca)
                .with_context(|| format!("reading [microsoft] ca_file {}", ca.display()))?,
        );
    }
    Ok(options)
}

/// A PEM (certificate and key in one file) or PFX certificate credential.
fn certificate(
    path: &Path,
    password: Option<&SecretString>,
    algorithm: CertificateAlgorithm,
) -> anyhow::Result<gc_graph::Credential> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading [microsoft] certificate {}", path.display()))?;
    let is_pem = bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let cert = if is_pem {
        let text = String::from_utf8(bytes).context("the PEM certificate file is not text")?;
        // The key parser reads the first PEM block: hand it the private key block alone, so
        // that the usual order (certificate first, then key) works.
        let key = private_key_block(&text).unwrap_or(&text).to_owned();
        gc_graph::CertificateCredential::from_pem(text.as_bytes(), &SecretString::from(key))
    } else {
        let empty = SecretString::from(String::new());
        gc_graph::CertificateCredential::from_pfx(&bytes, password.unwrap_or(&empty))
    }
    .map_err(|e| anyhow::anyhow!("loading [microsoft] certificate {}: {e}", path.display()))?;
    let algorithm = match algorithm {
        CertificateAlgorithm::Ps256 => gc_graph::AssertionAlgorithm::Ps256,
        CertificateAlgorithm::Rs256 => gc_graph::AssertionAlgorithm::Rs256,
    };
    Ok(gc_graph::Credential::Certificate(Arc::new(
        cert.with_algorithm(algorithm),
    )))
}

/// The first `PRIVATE KEY` / `RSA PRIVATE KEY` block of a PEM text.
fn private_key_block(pem: &str) -> Option<&str> {
    let start = pem
        .find("-----BEGIN RSA PRIVATE KEY-----")
        .or_else(|| pem.find("-----BEGIN PRIVATE KEY-----"))?;
    let rest = &pem[start..];
    let end_marker = if rest.starts_with("-----BEGIN RSA") {
        "-----END RSA PRIVATE KEY-----"
    } else {
        "-----END PRIVATE KEY-----"
    };
    let end = rest.find(end_marker)? + end_marker.len();
    Some(&rest[..end])
}

/// CRM.interface client settings for this configuration.
pub fn crm_config(config: &Config) -> anyhow::Result<gc_crm::CrmConfig> {
    let c = &config.crm;
    let url = url::Url::parse(&c.interface_url).context("[crm] interface_url")?;
    let password = c
        .password
        .as_ref()
        .map(|p| SecretString::from(p.expose_secret().to_owned()))
        .context("[crm] password is missing")?;
    let mut crm = gc_crm::CrmConfig::new(url, &c.master_user, password);
    crm.lang = Some(c.language.clone());
    crm.timeout = Duration::from_secs(config.errors.crm_timeout_seconds.into());
    crm.watch_codes = config
        .errors
        .crm_error_codes
        .iter()
        .filter_map(|c| u16::try_from(*c).ok())
        .collect();
    crm.retry.max_attempts = config.errors.max_retries.saturating_add(1);
    crm.retry.initial_backoff = Duration::from_secs_f64(config.errors.initial_backoff_seconds);
    crm.retry.max_backoff = Duration::from_secs_f64(config.errors.max_backoff_seconds);
    crm.dialect = c.dialect.clone();
    crm.time_zone = time_zone(config)?;
    crm.write_batch = c.batch_size as usize;
    crm.concurrency = c.concurrency as usize;
    crm.duplicate_protection = c.duplicate_protection;
    if let Some(ca) = &c.ca_file {
        crm.extra_ca_pem = Some(
            std::fs::read(ca).with_context(|| format!("reading [crm] ca_file {}", ca.display()))?,
        );
    }
    Ok(crm)
}

/// The zone CRM dates and times are in: `[crm] time_zone`, else this machine's.
pub fn time_zone(config: &Config) -> anyhow::Result<jiff::tz::TimeZone> {
    match &config.crm.time_zone {
        Some(name) => jiff::tz::TimeZone::get(name)
            .with_context(|| format!("[crm] time_zone {name:?} is not a known IANA time zone")),
        None => Ok(jiff::tz::TimeZone::system()),
    }
}

/// How `check` names the CRM time zone: the IANA name and where it comes from.
pub fn time_zone_description(config: &Config) -> String {
    match &config.crm.time_zone {
        Some(name) => format!("{name} ([crm] time_zone)"),
        None => match jiff::tz::TimeZone::try_system() {
            Ok(tz) => format!(
                "{} (this machine's zone; set [crm] time_zone if the CRM server is elsewhere)",
                tz.iana_name().unwrap_or("unnamed local zone")
            ),
            Err(_) => "UTC (this machine's zone cannot be determined; set [crm] time_zone)".into(),
        },
    }
}

/// The missing-participants block: forms.xml's, else the built-in one (its flag written with
/// the installation's spelling of `true`).
fn missing_attendees(
    config: &Config,
    forms: Option<&gc_crm::Forms>,
) -> gc_crm::forms::MissingAttendees {
    if let Some(m) = forms.and_then(|f| f.missing_attendees.get("vevent")) {
        return m.clone();
    }
    let mut m = gc_sync::email::rules::default_missing_attendees();
    let d = &config.crm.dialect;
    for (table, _, value) in &mut m.flags {
        table.clone_from(&d.activity.table);
        *value = d.format_bool(true);
    }
    m
}

/// The kinds whose CRM tables `check` and `sync` probe.
pub fn kinds(config: &Config) -> gc_crm::Kinds {
    gc_crm::Kinds {
        emails: config.emails.enabled,
        appointments: config.appointments.enabled,
        tasks: config.tasks.enabled,
        contacts: config.contacts.enabled,
        absences: config.absences.enabled,
    }
}

/// Fields the connector writes or reads that do not come from `[crm.dialect]`: the
/// missing-participants block (flags and target field) and, for appointments, the fields of
/// forms.xml's vevent form.
pub fn extra_fields(config: &Config, forms: Option<&gc_crm::Forms>) -> Vec<gc_crm::ExtraField> {
    let dialect = &config.crm.dialect;
    let mut out = Vec::new();
    let uses_activities = config.emails.enabled || config.appointments.enabled;
    if uses_activities {
        let missing = missing_attendees(config, forms);
        let source = if forms.is_some() {
            "forms.xml <missing_attendees>"
        } else {
            "the built-in missing-participants block"
        };
        // the flags and the text are written on the activity
        for field in missing
            .flags
            .iter()
            .map(|(_, f, _)| f)
            .chain([&missing.field])
        {
            out.push(gc_crm::ExtraField {
                table_key: "activity.table".into(),
                field: field.clone(),
                source: source.into(),
            });
        }
    }
    if config.appointments.enabled
        && let Some(fields) = forms.and_then(|f| f.form_fields("vevent", &dialect.activity.table))
    {
        for field in fields {
            out.push(gc_crm::ExtraField {
                table_key: "activity.table".into(),
                field: field.clone(),
                source: "forms.xml <form type='vevent'>".into(),
            });
        }
    }
    out
}

/// forms.xml, when configured.
pub fn forms(config: &Config) -> anyhow::Result<Option<gc_crm::Forms>> {
    config
        .crm
        .forms_xml
        .as_deref()
        .map(|path| {
            gc_crm::Forms::load(path)
                .with_context(|| format!("reading [crm] forms_xml {}", path.display()))
        })
        .transpose()
}

/// Open (and migrate) the state store.
pub async fn store(config: &Config) -> anyhow::Result<Arc<dyn gc_store::StateStore>> {
    gc_store::open_with(config.state.url.expose(), &store_options(config))
        .await
        .with_context(|| format!("opening the state store {}", config.state.url))
}

/// The store's pool settings from `[state]`; the rest are the store's defaults.
pub fn store_options(config: &Config) -> gc_store::OpenOptions {
    gc_store::OpenOptions {
        max_connections: config.state.connections,
        ..gc_store::OpenOptions::default()
    }
}

/// The Graph side of every kind, with the administrator's mailbox held to its sending limits.
pub fn graph_mail(config: &Config, client: gc_graph::GraphClient) -> gc_sync::adapters::GraphMail {
    let m = &config.microsoft;
    gc_sync::adapters::GraphMail::new(client, m.admin_email.clone()).with_send_limits(
        gc_sync::adapters::SendLimits {
            per_minute: m.admin_sends_per_minute,
            per_day: m.admin_recipients_per_day,
        },
    )
}

/// The engine's run policy for this configuration (`[errors]`, `[state]`, the per-mailbox Graph
/// concurrency).
pub fn run_policy(config: &Config) -> gc_sync::RunPolicy {
    let e = &config.errors;
    gc_sync::RunPolicy {
        // Twice as many items as the mailbox has Graph slots: an item spends part of its time
        // on its rep's CRM turn, and with the next page's items starting before a page is
        // done, the extra items keep the Graph slots busy (1.11-1.14x side by side at 20
        // mailboxes, docs/PERFORMANCE.md; before pages overlapped it measured no faster).
        item_concurrency: (2 * config.microsoft.mailbox_concurrency as usize).max(1),
        lease_ttl: Duration::from_secs(config.state.lease_seconds.max(1).into()),
        exclusion: (e.exclude_after_access_errors > 0).then(|| gc_store::ExclusionPolicy {
            after_failures: e.exclude_after_access_errors,
            exclude_for: Duration::from_secs(u64::from(e.exclusion_minutes) * 60),
        }),
        stop_after_errors: (e.stop_after_errors > 0).then_some(u64::from(e.stop_after_errors)),
        item_retry_limit: e.item_retry_limit.max(1),
        retry_backoff: Duration::from_secs(u64::from(e.item_retry_minutes) * 60),
        memory_budget: u64::from(config.mailboxes.memory_budget_mb) * 1024 * 1024,
        sync_from: sync_from(config),
        delete_guard: Some(gc_sync::engine::GuardLimits {
            max_fraction: e.max_delete_fraction.clamp(0.0, 1.0),
            min: u64::from(e.delete_guard_min),
        }),
        confirm_first_sync_above: (config.mailboxes.confirm_first_sync_above > 0)
            .then_some(config.mailboxes.confirm_first_sync_above),
        ..gc_sync::RunPolicy::default()
    }
}

/// The kinds this configuration runs, in the order a cycle runs them (the service, `sync
/// --once` and the admin page agree on it).
pub fn enabled_kinds(config: &Config) -> Vec<gc_store::Kind> {
    use gc_store::Kind;
    let mut out = Vec::new();
    for (on, kind) in [
        (config.emails.enabled, Kind::Email),
        // Absences before appointments: an out-of-office event the previous connector wrote
        // is adopted (and marked with the absence id, which the appointments kind skips)
        // before the appointments kind could take it for a meeting.
        (config.absences.enabled, Kind::Absence),
        (config.appointments.enabled, Kind::Appointment),
        (config.tasks.enabled, Kind::Task),
        (config.contacts.enabled, Kind::Contact),
    ] {
        if on {
            out.push(kind);
        }
    }
    out
}

/// `[mailboxes] sync_from`: the start of that day in the CRM's time zone (a zone that cannot
/// be read fails the CRM client's configuration first, with its own message).
pub fn sync_from(config: &Config) -> Option<jiff::Timestamp> {
    let day = config.mailboxes.sync_from?;
    let tz = time_zone(config).unwrap_or(jiff::tz::TimeZone::UTC);
    day.to_zoned_datetime(tz).ok().map(|z| z.timestamp())
}

/// How the mailbox refresh reads the reps' `UserSettings` (`[mailboxes] user_settings`,
/// `user_settings_size_unit`).
pub fn rep_overrides(config: &Config) -> gc_sync::mailboxes::RepOverrides {
    use crate::config::SizeUnitSetting;
    use gc_crm::user_settings::SizeUnit;
    let m = &config.mailboxes;
    if !m.user_settings {
        return gc_sync::mailboxes::RepOverrides::Ignore;
    }
    gc_sync::mailboxes::RepOverrides::Honour(match m.user_settings_size_unit {
        SizeUnitSetting::Bytes => SizeUnit::Bytes,
        SizeUnitSetting::Kb => SizeUnit::Kilobytes,
        SizeUnitSetting::Mb => SizeUnit::Megabytes,
    })
}

/// The managed domains, lower case.
pub fn managed_domains(config: &Config) -> Vec<String> {
    config
        .microsoft
        .managed_domains
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .collect()
}

/// The e-mail rules for this configuration (`[emails]`, the managed domains, the forms.xml
/// missing-participants block).
pub fn email_rules(config: &Config, forms: Option<&gc_crm::Forms>) -> gc_sync::EmailRules {
    use crate::config::AttachmentMode;
    let e = &config.emails;
    let kb = |k: u32| u64::from(k) * 1024;
    gc_sync::EmailRules {
        sync_folder: e.sync_folder.clone(),
        create_sync_folder: e.create_sync_folder,
        success_folder: e.success_folder.clone(),
        failure_folder: e.failure_folder.clone(),
        activity_type: e.activity_type.clone(),
        html_body: e.html_body,
        max_body_chars: e.max_body_chars as usize,
        strip_html_comments: e.strip_html_comments,
        attachments: match e.attachments {
            AttachmentMode::None => gc_sync::AttachmentPolicy::None,
            AttachmentMode::All => gc_sync::AttachmentPolicy::All,
            AttachmentMode::Limited => gc_sync::AttachmentPolicy::Limited {
                max_bytes: kb(e.max_attachment_kb),
            },
        },
        whole_message: e.whole_message.then(|| kb(e.max_message_kb)),
        sync_when_owner_not_recipient: e.sync_when_owner_not_recipient,
        validate_license: e.validate_license,
        category: e.categorize.then(|| e.category.clone()),
        notify_user_on_failure: e.notify_user_on_failure,
        warn_user_on_truncated_body: e.warn_user_on_truncated_body,
        warn_user_on_skipped_attachment: e.warn_user_on_skipped_attachment,
        managed_domains: managed_domains(config),
        missing: missing_attendees(config, forms),
        language: config.crm.language.clone(),
        time_zone: time_zone(config).unwrap_or(jiff::tz::TimeZone::UTC),
        ..gc_sync::EmailRules::default()
    }
}

/// The appointment rules for this configuration (`[appointments]`, the forms.xml vevent form,
/// missing-attendees block and `delete_sync_process_410`, the managed domains).
pub fn appointment_rules(
    config: &Config,
    forms: Option<&gc_crm::Forms>,
) -> gc_sync::AppointmentRules {
    let a = &config.appointments;
    let dialect = &config.crm.dialect;
    use crate::config::{AppointmentConflict, AppointmentDirection};
    use gc_sync::appointments::rules::{Conflict, Direction};
    gc_sync::AppointmentRules {
        direction: match a.direction {
            AppointmentDirection::Both => Direction::Both,
            AppointmentDirection::Microsoft365ToCrm => Direction::Microsoft365ToCrm,
        },
        conflict: match a.conflict {
            AppointmentConflict::Microsoft365 => Conflict::Microsoft365,
            AppointmentConflict::Crm => Conflict::Crm,
            AppointmentConflict::Newest => Conflict::Newest,
        },
        full_walk_every: std::time::Duration::from_secs(u64::from(a.full_walk_minutes) * 60),
        vevent_filter: forms
            .and_then(|f| f.sync_handler("ExchangeConnector_VeventFilter"))
            .and_then(|h| h.condition.clone()),
        default_minutes: i64::from(a.default_duration_minutes.max(1)),
        days_past: a.days_past,
        days_future: a.days_future,
        types: a.types.clone(),
        activity_type: a.activity_type.clone(),
        sync_deletions: a.sync_deletions,
        deletion_window_days: a.deletion_window_days,
        sync_private: a.sync_private,
        delete_410: forms.is_none_or(gc_crm::Forms::delete_sync_process_410),
        form_fields: forms
            .and_then(|f| f.form_fields("vevent", &dialect.activity.table))
            .map(<[String]>::to_vec),
        missing: missing_attendees(config, forms),
        language: config.crm.language.clone(),
        managed_domains: config
            .microsoft
            .managed_domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
        time_zone: time_zone(config).unwrap_or(jiff::tz::TimeZone::UTC),
        dialect: dialect.clone(),
    }
}

/// The task rules for this configuration (`[tasks]`).
pub fn task_rules(config: &Config) -> gc_sync::TaskRules {
    use crate::config::TaskDirection;
    let t = &config.tasks;
    gc_sync::TaskRules {
        list_name: t.list_name.trim().to_owned(),
        days_past: t.days_past,
        days_future: t.days_future,
        direction: match t.direction {
            TaskDirection::CrmToMicrosoft365 => gc_sync::tasks::Direction::CrmToMicrosoft365,
            TaskDirection::Both => gc_sync::tasks::Direction::Both,
        },
        full_walk_every: std::time::Duration::from_secs(u64::from(t.full_walk_minutes) * 60),
        status: gc_sync::tasks::StatusTexts {
            not_started: t.status_not_started.clone(),
            in_progress: t.status_in_progress.clone(),
            completed: t.status_completed.clone(),
            waiting: t.status_waiting.clone(),
            deferred: t.status_deferred.clone(),
        },
        priority_high: t.priority_high.clone(),
        priority_low: t.priority_low.clone(),
    }
}

/// The `[contacts]` rules.
pub fn contact_rules(config: &Config) -> gc_sync::ContactRules {
    let c = &config.contacts;
    gc_sync::ContactRules {
        target: match c.target {
            crate::config::model::ContactTarget::Folder => {
                gc_sync::ContactTarget::Folder(c.folder_name.clone())
            }
            crate::config::model::ContactTarget::Category => {
                gc_sync::ContactTarget::Category(c.category.clone())
            }
        },
        responsible_companies: c.responsible_companies,
        activity_days: c.activity_days,
    }
}

/// The `[absences]` rules; dates and times of CRM are read in `time_zone` (`[crm] time_zone`).
pub fn absence_rules(config: &Config, time_zone: jiff::tz::TimeZone) -> gc_sync::AbsenceRules {
    use crate::config::model::ShowAs;
    let a = &config.absences;
    gc_sync::AbsenceRules {
        days_past: a.days_past,
        days_future: a.days_future,
        show_as: match a.show_as {
            ShowAs::Oof => "oof",
            ShowAs::Busy => "busy",
            ShowAs::Tentative => "tentative",
            ShowAs::Free => "free",
        }
        .to_owned(),
        default_subject: a.subject.clone(),
        time_zone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_block_is_found_after_the_certificate() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\
                   -----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            private_key_block(pem),
            Some("-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----")
        );
        assert!(private_key_block("-----BEGIN CERTIFICATE-----\n").is_none());
    }
}
