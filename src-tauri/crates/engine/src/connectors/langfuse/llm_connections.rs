//! LLM connections: read from the source without their secrets (the API never returns them),
//! upserted in the target by provider with the key the user supplied for it. Without a key the
//! connection is not created: the user adds it in Langfuse (a manual step with that sentence).
//! Servers without the API (Langfuse v2) have none to read and take none.

use super::ConnectionInfo;
use super::Langfuse;
use crate::connectors::http::{Bucket, HttpFailure, Idempotency};
use crate::connectors::traits::{ExistingKey, Page, WriteOutcome};
use crate::connectors::{SourceConnector, for_each_page};
use crate::vocab::{EngineError, Entity, ExposeSecret, RawObject, Record, Scope, SecretString};
use serde::{Deserialize, Serialize};

/// One LLM connection the source holds, as the pre-flight names it so the caller can ask for
/// its key (the API never returns it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLlmConnection {
    pub provider: String,
    pub adapter: Option<String>,
    pub base_url: Option<String>,
    /// A key for it is already at hand (the plan's `llm_key_env` or the caller's).
    pub has_key: bool,
}

pub(crate) const PATH: &str = "/api/public/llm-connections";

/// What the upsert takes besides the provider and the secret (the rest is the server's).
const FIELDS: &[&str] = &[
    "provider",
    "adapter",
    "baseURL",
    "customModels",
    "withDefaultModels",
    "config",
];

/// What the user is told to do for a connection that could not be created with its key.
pub fn manual_step(provider: &str) -> String {
    format!(
        "LLM connection \"{provider}\" needs its secret key, which Langfuse never returns: supply the key for \"{provider}\" and run again, or add the connection with its key in the target's Langfuse under Settings → LLM Connections."
    )
}

impl Langfuse {
    pub(crate) async fn read_llm_connections_page(
        &self,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
        let what = format!("reading {}", Entity::LlmConnections);
        let Some((data, more)) = self.listing_if_served(PATH, page, &what).await? else {
            return Ok(Page::default());
        };
        let records = data
            .into_iter()
            .filter_map(|o| Some(Record::new(Entity::LlmConnections, o.str("id")?, o)))
            .collect();
        Ok(Page {
            records,
            next: more.then(|| (page + 1).to_string()),
        })
    }

    pub(crate) async fn existing_llm_connections_page(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<ExistingKey>, Option<String>), EngineError> {
        let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
        let what = "listing LLM connections in the target";
        let Some((data, more)) = self.listing_if_served(PATH, page, what).await? else {
            return Ok((vec![], None));
        };
        let keys = data
            .into_iter()
            .filter_map(|o| {
                Some(ExistingKey {
                    key: o.str("provider")?,
                    target_id: o.str("id"),
                })
            })
            .collect();
        Ok((keys, more.then(|| (page + 1).to_string())))
    }

    /// Creates one connection with the key supplied for its provider. Upserting by provider
    /// makes sending it twice harmless.
    pub(crate) async fn write_llm_connection(&self, r: &Record) -> WriteOutcome {
        let provider = r.body.str("provider").unwrap_or_default();
        let Some(key) = self.llm_keys.get(&provider) else {
            return WriteOutcome::Failed(manual_step(&provider));
        };
        let body = upsert_body(&r.body, key);
        let sent = self
            .http
            .send(
                Bucket::PublicApi,
                || {
                    self.http
                        .put(PATH)
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                Idempotency::Safe,
            )
            .await;
        match sent {
            Ok(resp) => match resp.json::<RawObject>().await {
                Ok(created) => WriteOutcome::Written {
                    target_id: created.str("id"),
                    object_id: None,
                    warning: headers_left_behind(&provider, &r.body),
                },
                Err(_) => WriteOutcome::Unknown("the answer could not be read".into()),
            },
            Err(HttpFailure::Rejected { status: 404, .. }) => WriteOutcome::Failed(format!(
                "this Langfuse server does not offer LLM connections through its API (PUT {PATH} answered 404); add \"{provider}\" in its settings by hand"
            )),
            Err(f) => super::write::failure_outcome(&f),
        }
    }
}

/// The upsert's JSON text: the connection's settings and the secret. Built here and sent, never
/// kept: the record journaled is the source's, which holds no secret.
fn upsert_body(o: &RawObject, key: &SecretString) -> String {
    let mut b = RawObject::new();
    for k in FIELDS {
        if let Some(v) = o.get_present(k) {
            b.set_raw(k, v.to_owned());
        }
    }
    b.set("secretKey", &key.expose_secret());
    b.to_json()
}

/// The extra headers' values are not readable either: a warning naming them.
fn headers_left_behind(provider: &str, o: &RawObject) -> Option<String> {
    let keys: Vec<String> = o
        .get("extraHeaderKeys")
        .and_then(|v| serde_json::from_str(v.get()).ok())
        .unwrap_or_default();
    (!keys.is_empty()).then(|| {
        format!(
            "LLM connection \"{provider}\" was created without its extra headers ({}): Langfuse never returns their values. Add them in the target's Langfuse under Settings → LLM Connections.",
            keys.join(", ")
        )
    })
}

/// What the pre-flight says about LLM connections (a side without the API, and each source
/// connection the run cannot create for want of its key), and the source's connections a key
/// can be given for (a Langfuse target that offers the API).
pub(crate) async fn preflight_notes(
    source: &dyn SourceConnector,
    source_info: Option<&ConnectionInfo>,
    // `None`: an archive target, which keeps the connections' settings (keys are asked for when
    // it is imported).
    target: Option<&super::LangfuseEndpoint>,
    target_info: Option<&ConnectionInfo>,
    scope: &Scope,
) -> Result<(Vec<String>, Vec<SourceLlmConnection>), EngineError> {
    let lacks = |i: Option<&ConnectionInfo>| i.is_some_and(|i| !i.capabilities.llm_connections);
    if lacks(source_info) {
        return Ok((vec![
            "The source Langfuse does not offer LLM connections through its API (Langfuse v2 does not): none are copied; set them up in the target by hand.".into(),
        ], vec![]));
    }
    let mut found: Vec<SourceLlmConnection> = vec![];
    for_each_page(source, Entity::LlmConnections, scope, |records| {
        found.extend(records.iter().filter_map(|r| {
            Some(SourceLlmConnection {
                provider: r.body.str("provider")?,
                adapter: r.body.str("adapter"),
                base_url: r.body.str("baseURL"),
                has_key: false,
            })
        }));
        Ok(())
    })
    .await?;
    if found.is_empty() {
        return Ok((vec![], vec![]));
    }
    let providers: Vec<String> = found.iter().map(|c| c.provider.clone()).collect();
    if lacks(target_info) {
        return Ok((
            vec![format!(
                "The target Langfuse does not offer LLM connections through its API: {} cannot be copied; set them up in its settings by hand.",
                quoted(&providers)
            )],
            vec![],
        ));
    }
    let Some(t) = target else {
        return Ok((vec![], vec![]));
    };
    for c in &mut found {
        c.has_key = t.llm_key(&c.provider).is_some();
    }
    let keyless: Vec<String> = found
        .iter()
        .filter(|c| !c.has_key)
        .map(|c| c.provider.clone())
        .collect();
    let notes = keyless_note(&keyless).into_iter().collect();
    Ok((notes, found))
}

/// The pre-flight's sentence about connections without a key; `None` when every one has one.
/// (The app shows a key field per connection instead, and leaves this sentence out.)
pub fn keyless_note(keyless: &[String]) -> Option<String> {
    let one = keyless.len() == 1;
    (!keyless.is_empty()).then(|| format!(
        "No secret key was supplied for the LLM connection{} {}: Langfuse never returns keys, so {} will not be created. Supply the keys, or add {} with {} key{} in the target's Langfuse under Settings → LLM Connections after the run.",
        if one { "" } else { "s" },
        quoted(keyless),
        if one { "it" } else { "they" },
        if one { "it" } else { "them" },
        if one { "its" } else { "their" },
        if one { "" } else { "s" },
    ))
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
