//! JSON `$batch`: up to 20 requests per call, `dependsOn`, per-sub-request results.
//!
//! Larger sets are split into several calls, keeping every `dependsOn` group in one call.
//! Graph checks throttling per sub-request and does not retry them; we do: sub-requests answered
//! 429 (or 503) — and their dependents that failed with 424 because of them — are sent again in
//! a new batch after the largest `Retry-After` among them, up to `max_retries` times.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{Body, GraphClient, Req};
use crate::error::{ApiError, GraphError, ResourceKind};
use crate::retry;
use crate::slots::Lane;

/// Graph's limit of requests in one `$batch`.
pub const MAX_BATCH: usize = 20;

/// One sub-request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchRequest {
    /// Unique (case-insensitive) id within the whole set.
    pub id: String,
    /// HTTP method.
    pub method: String,
    /// URL relative to the Graph base, e.g. `/users/{id}/messages/{id}`.
    pub url: String,
    /// Sub-request headers (the client adds `Prefer` and `Content-Type` as needed).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Ids that must succeed first.
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl BatchRequest {
    /// A GET sub-request.
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        BatchRequest {
            id: id.into(),
            method: "GET".into(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
            depends_on: Vec::new(),
        }
    }

    /// A sub-request with a JSON body (POST, PATCH...).
    pub fn with_body(
        id: impl Into<String>,
        method: &str,
        url: impl Into<String>,
        body: serde_json::Value,
    ) -> Self {
        BatchRequest {
            id: id.into(),
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: Some(body),
            depends_on: Vec::new(),
        }
    }

    /// A DELETE sub-request.
    pub fn delete(id: impl Into<String>, url: impl Into<String>) -> Self {
        BatchRequest {
            method: "DELETE".into(),
            ..Self::get(id, url)
        }
    }

    /// Run only after `id` succeeded.
    pub fn depends_on(mut self, id: impl Into<String>) -> Self {
        self.depends_on.push(id.into());
        self
    }

    fn key(&self) -> String {
        self.id.to_ascii_lowercase()
    }
}

/// One sub-response.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BatchResponse {
    /// The sub-request's id.
    pub id: String,
    /// Its HTTP status (424: a dependency failed).
    pub status: u16,
    /// Its headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Its body (JSON, or a base64 string for binary content).
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// How many times it was sent (1 = no retry).
    #[serde(skip)]
    pub attempts: u32,
}

impl BatchResponse {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(retry::parse_retry_after)
    }

    /// The sub-request's failure as a [`GraphError`] (classified like a direct call).
    pub fn error(&self, resource: ResourceKind) -> Option<GraphError> {
        if self.is_success() {
            return None;
        }
        let body = self
            .body
            .as_ref()
            .map(|b| b.to_string())
            .unwrap_or_default();
        let rid = self.header("request-id").map(str::to_owned);
        Some(GraphError::from(ApiError::from_body(
            self.status,
            body.as_bytes(),
            rid,
            resource,
            self.retry_after(),
        )))
    }

    /// Decode a successful body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        if let Some(e) = self.error(ResourceKind::Other) {
            return Err(e);
        }
        let body = self.body.clone().unwrap_or(serde_json::Value::Null);
        serde_json::from_value(body)
            .map_err(|e| GraphError::Decode(format!("batch response {}: {e}", self.id)))
    }
}

#[derive(Deserialize)]
struct BatchEnvelope {
    responses: Vec<BatchResponse>,
}

/// Split into chunks of at most [`MAX_BATCH`], keeping `dependsOn` groups together.
pub(crate) fn plan_chunks(requests: &[BatchRequest]) -> Result<Vec<Vec<usize>>, GraphError> {
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, r) in requests.iter().enumerate() {
        if index.insert(r.key(), i).is_some() {
            return Err(GraphError::Config(format!(
                "duplicate batch request id {:?}",
                r.id
            )));
        }
    }
    // Union-find over dependsOn.
    let mut parent: Vec<usize> = (0..requests.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (i, r) in requests.iter().enumerate() {
        for d in &r.depends_on {
            let j = *index.get(&d.to_ascii_lowercase()).ok_or_else(|| {
                GraphError::Config(format!(
                    "batch request {:?} depends on unknown id {d:?}",
                    r.id
                ))
            })?;
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            parent[a] = b;
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    for i in 0..requests.len() {
        let root = find(&mut parent, i);
        let g = *group_of.entry(root).or_insert_with(|| {
            groups.push((root, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for (_, members) in groups {
        if members.len() > MAX_BATCH {
            return Err(GraphError::Config(format!(
                "a dependsOn chain of {} requests does not fit in one batch of {MAX_BATCH}",
                members.len()
            )));
        }
        if current.len() + members.len() > MAX_BATCH {
            chunks.push(std::mem::take(&mut current));
        }
        current.extend(members);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    Ok(chunks)
}

impl GraphClient {
    /// Run `requests` as `$batch` calls (chunks of 20) and return one response per request, in
    /// the order given. `mailbox` names the mailbox for concurrency accounting when all
    /// sub-requests target one mailbox. Sub-requests throttled inside a batch are retried by
    /// themselves; other sub-request failures are returned as their responses (see
    /// [`BatchResponse::error`]), not as an `Err`.
    pub async fn batch(
        &self,
        mailbox: Option<&str>,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let chunks = plan_chunks(&requests)?;
        let mut out: Vec<Option<BatchResponse>> = vec![None; requests.len()];
        for chunk in chunks {
            let subset: Vec<BatchRequest> = chunk.iter().map(|&i| requests[i].clone()).collect();
            let answers = self.run_chunk(mailbox, subset).await?;
            for (&i, answer) in chunk.iter().zip(answers) {
                out[i] = Some(answer);
            }
        }
        out.into_iter()
            .zip(&requests)
            .map(|(r, req)| {
                r.ok_or_else(|| {
                    GraphError::Decode(format!("batch answered nothing for {:?}", req.id))
                })
            })
            .collect()
    }

    fn prepare(&self, mut r: BatchRequest) -> BatchRequest {
        let kind = ResourceKind::from_path(&r.url);
        let mut prefer: Vec<String> = Vec::new();
        if kind.wants_immutable_ids() {
            prefer.push("IdType=\"ImmutableId\"".into());
        }
        if kind == ResourceKind::Calendar && r.method == "GET" {
            prefer.push("outlook.timezone=\"UTC\"".into());
        }
        if let Some((k, v)) = r
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("prefer"))
        {
            prefer.push(v.clone());
            let k = k.clone();
            r.headers.remove(&k);
        }
        if !prefer.is_empty() {
            r.headers.insert("Prefer".into(), prefer.join(", "));
        }
        if r.body.is_some()
            && !r
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            r.headers
                .insert("Content-Type".into(), "application/json".into());
        }
        r
    }

    /// One chunk (≤ 20), with per-sub-request retries of throttled ones.
    async fn run_chunk(
        &self,
        mailbox: Option<&str>,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let opts = self.options();
        let by_key: HashMap<String, &BatchRequest> =
            requests.iter().map(|r| (r.key(), r)).collect();
        let mut done: HashMap<String, BatchResponse> = HashMap::new();
        let mut pending: Vec<String> = requests.iter().map(BatchRequest::key).collect();
        let mut attempts: HashMap<String, u32> = HashMap::new();
        let mut round: u32 = 0;
        while !pending.is_empty() {
            let pending_set: HashSet<&String> = pending.iter().collect();
            let send: Vec<BatchRequest> = pending
                .iter()
                .filter_map(|k| by_key.get(k))
                .map(|r| {
                    let mut r = (*r).clone();
                    // Dependencies that already succeeded are not in this batch any more.
                    r.depends_on
                        .retain(|d| pending_set.contains(&d.to_ascii_lowercase()));
                    self.prepare(r)
                })
                .collect();
            for r in &send {
                *attempts.entry(r.key()).or_default() += 1;
            }
            let idempotent = send.iter().all(|r| r.method != "POST");
            let resp = self
                .send(Req {
                    method: reqwest::Method::POST,
                    url: self.url("/$batch"),
                    mailbox: mailbox.map(str::to_owned),
                    resource: ResourceKind::Batch,
                    body: Some(Body::Json(serde_json::json!({ "requests": send }))),
                    prefer: Vec::new(),
                    idempotent,
                    lane: Lane::Item,
                })
                .await?;
            let envelope: BatchEnvelope = resp.json()?;
            let mut answers: HashMap<String, BatchResponse> = envelope
                .responses
                .into_iter()
                .map(|mut r| {
                    r.attempts = attempts
                        .get(&r.id.to_ascii_lowercase())
                        .copied()
                        .unwrap_or(1);
                    (r.id.to_ascii_lowercase(), r)
                })
                .collect();
            // Throttled ones, plus dependents that failed only because of them.
            let mut again: HashSet<String> = answers
                .iter()
                .filter(|(_, r)| matches!(r.status, 429 | 503))
                .map(|(k, _)| k.clone())
                .collect();
            loop {
                let before = again.len();
                for (k, r) in &answers {
                    if r.status == 424
                        && by_key.get(k).is_some_and(|req| {
                            req.depends_on
                                .iter()
                                .any(|d| again.contains(&d.to_ascii_lowercase()))
                        })
                    {
                        again.insert(k.clone());
                    }
                }
                if again.len() == before {
                    break;
                }
            }
            round += 1;
            let may_retry = round <= opts.max_retries;
            let wait = again
                .iter()
                .filter_map(|k| answers.get(k).and_then(BatchResponse::retry_after))
                .max()
                .unwrap_or_else(|| retry::backoff(round, opts.base_backoff, opts.max_backoff))
                .min(opts.max_backoff);
            let mut next = Vec::new();
            for k in pending {
                match answers.remove(&k) {
                    Some(_) if again.contains(&k) && may_retry => next.push(k),
                    Some(r) => {
                        done.insert(k, r);
                    }
                    None => {}
                }
            }
            pending = next;
            if !pending.is_empty() {
                tracing::info!(
                    retrying = pending.len(),
                    round,
                    wait_ms = wait.as_millis() as u64,
                    "batch sub-requests throttled, retrying them"
                );
                tokio::time::sleep(wait).await;
            }
        }
        requests
            .iter()
            .map(|r| {
                done.remove(&r.key()).ok_or_else(|| {
                    GraphError::Decode(format!("batch answered nothing for {:?}", r.id))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_dependency_groups_together() {
        let mut reqs: Vec<BatchRequest> = (0..45)
            .map(|i| BatchRequest::get(i.to_string(), format!("/users/{i}")))
            .collect();
        // 18 → 19 → 20 chain must stay in one chunk.
        reqs[19] = reqs[19].clone().depends_on("18");
        reqs[20] = reqs[20].clone().depends_on("19");
        let chunks = plan_chunks(&reqs).unwrap();
        assert!(chunks.iter().all(|c| c.len() <= MAX_BATCH));
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 45);
        let holding = |i: usize| chunks.iter().position(|c| c.contains(&i)).unwrap();
        assert_eq!(holding(18), holding(19));
        assert_eq!(holding(19), holding(20));
    }

    #[test]
    fn invalid_sets_are_rejected() {
        let dup = vec![BatchRequest::get("a", "/x"), BatchRequest::get("A", "/y")];
        assert!(plan_chunks(&dup).is_err());
        let unknown = vec![BatchRequest::get("a", "/x").depends_on("zz")];
        assert!(plan_chunks(&unknown).is_err());
        let mut chain = vec![BatchRequest::get("0", "/x")];
        for i in 1..21 {
            chain.push(BatchRequest::get(i.to_string(), "/x").depends_on((i - 1).to_string()));
        }
        assert!(plan_chunks(&chain).is_err());
    }

    #[test]
    fn sub_request_serialises_like_graph_expects() {
        let r = BatchRequest::with_body(
            "2",
            "patch",
            "/users/u/messages/m",
            serde_json::json!({"isRead": true}),
        )
        .depends_on("1");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["method"], "PATCH");
        assert_eq!(v["dependsOn"][0], "1");
        assert!(v.get("headers").is_none());
    }
}
