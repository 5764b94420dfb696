//! [`Prober`]s over the real clients: stored delta links asked 20 per `$batch` call
//! ([`GraphMail`]), CRM change checks asked for every rep in one CRM.interface request
//! ([`CrmActivities`]), and [`Probers`], which hands each question to the one that answers
//! it (a kind with a Graph and a CRM source asks both in one pre-pass).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use gc_graph::{DeltaProbe, DeltaState};

use crate::absences::probe::fingerprint;
use crate::adapters::{CrmActivities, GraphMail};
use crate::contacts::probe::fingerprint as selection_fingerprint;
use crate::ports::probe::{
    FingerprintQuestion, Probe, ProbeAnswer, Prober, Question, SelectionQuestion, StampQuestion,
};

fn unanswered(probes: &[Probe], why: &str) -> Vec<ProbeAnswer> {
    probes
        .iter()
        .map(|_| ProbeAnswer::Unknown(why.to_owned()))
        .collect()
}

#[async_trait]
impl Prober for GraphMail {
    async fn probe(&self, probes: &[Probe]) -> Vec<ProbeAnswer> {
        let mut links = Vec::new();
        let mut slots = Vec::new();
        let mut answers: Vec<ProbeAnswer> = Vec::with_capacity(probes.len());
        for (i, p) in probes.iter().enumerate() {
            match &p.question {
                Question::Delta {
                    link,
                    removals_are_changes,
                } => {
                    links.push(DeltaProbe {
                        link: link.clone(),
                        removals_are_changes: *removals_are_changes,
                    });
                    slots.push(i);
                    answers.push(ProbeAnswer::Unknown("not asked".into()));
                }
                _ => answers.push(ProbeAnswer::Unknown("not a Graph question".into())),
            }
        }
        if links.is_empty() {
            return answers;
        }
        match self.client().probe_deltas(&links).await {
            Ok(found) => {
                for (slot, a) in slots.into_iter().zip(found) {
                    answers[slot] = match a {
                        Ok(DeltaState::Unchanged) => ProbeAnswer::Unchanged,
                        Ok(DeltaState::Changed) => ProbeAnswer::Changed,
                        Err(e) => ProbeAnswer::Unknown(e.to_string()),
                    };
                }
                answers
            }
            Err(e) => {
                tracing::debug!(error = %e, "delta probes failed; the mailboxes are run");
                for slot in slots {
                    answers[slot] = ProbeAnswer::Unknown(e.to_string());
                }
                answers
            }
        }
    }
}

#[async_trait]
impl Prober for CrmActivities {
    /// The task, activity and absence questions, grouped by window (every mailbox of a cycle
    /// has the same one), in one CRM.interface request per window and table as the master
    /// user.
    async fn probe(&self, probes: &[Probe]) -> Vec<ProbeAnswer> {
        let mut answers: Vec<ProbeAnswer> = probes
            .iter()
            .map(|_| ProbeAnswer::Unknown("not a CRM question".into()))
            .collect();
        self.stamp_answers(probes, &mut answers, true).await;
        self.stamp_answers(probes, &mut answers, false).await;
        self.absence_answers(probes, &mut answers).await;
        self.selection_answers(probes, &mut answers).await;
        answers
    }
}

impl CrmActivities {
    /// The contacts' selection questions: one request for the companies (with their
    /// persons' ids and stamps) of every rep asked, compared with each rep's fingerprint.
    async fn selection_answers(&self, probes: &[Probe], answers: &mut [ProbeAnswer]) {
        let asked: Vec<(usize, &SelectionQuestion)> = probes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.question {
                Question::CrmSelection(q) => Some((i, q)),
                _ => None,
            })
            .collect();
        if asked.is_empty() {
            return;
        }
        let mut reps: Vec<String> = asked.iter().map(|(_, q)| q.rep_number.clone()).collect();
        reps.sort();
        reps.dedup();
        let found = self.client().master().rep_company_stamps(&reps).await;
        let mut by_rep: HashMap<&str, Vec<gc_crm::CompanyStamps>> = HashMap::new();
        if let Ok(Some(companies)) = &found {
            for c in companies {
                by_rep.entry(c.rep_id.as_str()).or_default().push(c.clone());
            }
        }
        for (i, q) in asked {
            answers[i] = match &found {
                Ok(Some(_)) => {
                    let seen = by_rep.get(q.rep_number.trim()).cloned().unwrap_or_default();
                    if selection_fingerprint(seen) == q.fingerprint {
                        ProbeAnswer::Unchanged
                    } else {
                        ProbeAnswer::Changed
                    }
                }
                Ok(None) => {
                    ProbeAnswer::Unknown("the dialect names no company rep or update stamps".into())
                }
                Err(e) => ProbeAnswer::Unknown(format!("CRM selection check: {e}")),
            };
        }
    }
}

impl CrmActivities {
    /// The task questions (`tasks`) or the activity questions, grouped by window: one
    /// request per window for which reps have changes.
    async fn stamp_answers(&self, probes: &[Probe], answers: &mut [ProbeAnswer], tasks: bool) {
        let asked: Vec<(usize, &StampQuestion)> = probes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match (&p.question, tasks) {
                (Question::CrmTasks(q), true) | (Question::CrmActivities(q), false) => Some((i, q)),
                _ => None,
            })
            .collect();
        let tasks_asked = asked;
        let mut windows: Vec<_> = tasks_asked.iter().map(|(_, q)| (q.from, q.to)).collect();
        windows.sort();
        windows.dedup();
        for (from, to) in windows {
            let asked: Vec<&(usize, &StampQuestion)> = tasks_asked
                .iter()
                .filter(|(_, q)| (q.from, q.to) == (from, to))
                .collect();
            let reps: Vec<(String, Option<String>)> = asked
                .iter()
                .map(|(_, q)| (q.rep_number.clone(), q.since.clone()))
                .collect();
            let master = self.client().master();
            let changed: Result<HashSet<String>, _> = if tasks {
                master.reps_with_changed_tasks(from, to, &reps).await
            } else {
                master.reps_with_changed_activities(from, to, &reps).await
            };
            for (i, q) in asked {
                answers[*i] = match &changed {
                    Ok(c) if c.contains(&q.rep_number) => ProbeAnswer::Changed,
                    Ok(_) => ProbeAnswer::Unchanged,
                    Err(e) => ProbeAnswer::Unknown(format!("CRM change check: {e}")),
                };
            }
        }
    }
}

impl CrmActivities {
    /// The absence questions, grouped by window: one request per window for the ids and
    /// stamps of every rep's absences, compared with each rep's stored fingerprint.
    async fn absence_answers(&self, probes: &[Probe], answers: &mut [ProbeAnswer]) {
        let asked: Vec<(usize, &FingerprintQuestion)> = probes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.question {
                Question::CrmAbsences(q) => Some((i, q)),
                _ => None,
            })
            .collect();
        let mut windows: Vec<_> = asked.iter().map(|(_, q)| (q.from, q.to)).collect();
        windows.sort();
        windows.dedup();
        for (from, to) in windows {
            let of_window: Vec<&(usize, &FingerprintQuestion)> = asked
                .iter()
                .filter(|(_, q)| (q.from, q.to) == (from, to))
                .collect();
            let mut reps: Vec<String> = of_window
                .iter()
                .map(|(_, q)| q.rep_number.clone())
                .collect();
            reps.sort();
            reps.dedup();
            let found = self.client().master().absence_stamps(&reps, from, to).await;
            let mut by_rep: HashMap<&str, Vec<(gc_store::CrmId, String)>> = HashMap::new();
            if let Ok(Some(stamps)) = &found {
                for s in stamps {
                    by_rep
                        .entry(s.rep_id.as_str())
                        .or_default()
                        .push((s.id, s.updated.clone()));
                }
            }
            for (i, q) in of_window {
                answers[*i] = match &found {
                    Ok(Some(_)) => {
                        let seen = by_rep.get(q.rep_number.as_str()).cloned();
                        if fingerprint(from, to, seen.unwrap_or_default()) == q.fingerprint {
                            ProbeAnswer::Unchanged
                        } else {
                            ProbeAnswer::Changed
                        }
                    }
                    Ok(None) => {
                        ProbeAnswer::Unknown("the dialect names no absence update stamp".into())
                    }
                    Err(e) => ProbeAnswer::Unknown(format!("CRM absence check: {e}")),
                };
            }
        }
    }
}

/// Graph's questions to one prober, CRM's to another; one answer per probe, in order.
#[derive(Clone)]
pub struct Probers {
    graph: Arc<dyn Prober>,
    crm: Arc<dyn Prober>,
}

impl Probers {
    /// Delta links go to `graph`, CRM questions to `crm`.
    pub fn new(graph: Arc<dyn Prober>, crm: Arc<dyn Prober>) -> Self {
        Probers { graph, crm }
    }
}

impl std::fmt::Debug for Probers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probers").finish()
    }
}

#[async_trait]
impl Prober for Probers {
    async fn probe(&self, probes: &[Probe]) -> Vec<ProbeAnswer> {
        let (graph, crm): (Vec<(usize, &Probe)>, Vec<(usize, &Probe)>) = probes
            .iter()
            .enumerate()
            .partition(|(_, p)| matches!(p.question, Question::Delta { .. }));
        let ask = |part: &[(usize, &Probe)]| part.iter().map(|(_, p)| (*p).clone()).collect();
        let (graph_probes, crm_probes): (Vec<Probe>, Vec<Probe>) = (ask(&graph), ask(&crm));
        let (g, c) = futures::join!(
            async {
                if graph_probes.is_empty() {
                    Vec::new()
                } else {
                    self.graph.probe(&graph_probes).await
                }
            },
            async {
                if crm_probes.is_empty() {
                    Vec::new()
                } else {
                    self.crm.probe(&crm_probes).await
                }
            }
        );
        let mut answers = unanswered(probes, "no answer");
        for ((i, _), a) in graph.iter().zip(g).chain(crm.iter().zip(c)) {
            answers[*i] = a;
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

    use super::*;

    /// Answers `Changed` to everything it is asked, and remembers what.
    #[derive(Default)]
    struct Echo(Mutex<Vec<Probe>>);

    #[async_trait]
    impl Prober for Echo {
        async fn probe(&self, probes: &[Probe]) -> Vec<ProbeAnswer> {
            self.0.lock().unwrap().extend(probes.iter().cloned());
            probes.iter().map(|_| ProbeAnswer::Changed).collect()
        }
    }

    #[tokio::test]
    async fn each_question_goes_to_its_prober_and_the_answers_keep_their_order() {
        let (g, c) = (Arc::new(Echo::default()), Arc::new(Echo::default()));
        let p = Probers::new(g.clone(), c.clone());
        let crm = |rep: &str| Probe {
            user: "u".into(),
            question: Question::CrmTasks(StampQuestion {
                rep_number: rep.into(),
                from: jiff::civil::date(2026, 12, 1),
                to: jiff::civil::date(2026, 12, 9),
                since: None,
            }),
        };
        let probes = vec![
            Probe::delta("u", "https://g/a".into()),
            crm("1"),
            Probe::delta("u", "https://g/b".into()),
            crm("2"),
        ];
        let answers = p.probe(&probes).await;
        assert_eq!(answers, vec![ProbeAnswer::Changed; 4]);
        let asked_g = g.0.lock().unwrap().clone();
        let asked_c = c.0.lock().unwrap().clone();
        assert_eq!(asked_g, vec![probes[0].clone(), probes[2].clone()]);
        assert_eq!(asked_c, vec![probes[1].clone(), probes[3].clone()]);
    }
}
