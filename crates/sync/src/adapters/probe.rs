//! [`Prober`] over gc-graph: stored delta links asked 20 per `$batch` call.

use async_trait::async_trait;
use gc_graph::DeltaState;

use crate::adapters::GraphMail;
use crate::ports::probe::{Probe, ProbeAnswer, Prober};

#[async_trait]
impl Prober for GraphMail {
    async fn probe(&self, probes: &[Probe]) -> Vec<ProbeAnswer> {
        let links: Vec<String> = probes.iter().map(|p| p.link.clone()).collect();
        match self.client().probe_deltas(&links).await {
            Ok(answers) => answers
                .into_iter()
                .map(|a| match a {
                    Ok(DeltaState::Unchanged) => ProbeAnswer::Unchanged,
                    Ok(DeltaState::Changed) => ProbeAnswer::Changed,
                    Err(e) => ProbeAnswer::Unknown(e.to_string()),
                })
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "delta probes failed; the mailboxes are run");
                probes
                    .iter()
                    .map(|_| ProbeAnswer::Unknown(e.to_string()))
                    .collect()
            }
        }
    }
}
