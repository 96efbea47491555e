//! The migration plan: what to copy from where to where, loadable from TOML (the CLI) or built by
//! the app. Secrets are never part of a plan; a plan names where the secret lives.

pub use crate::connectors::langfuse::LangfuseEndpoint;
use crate::vocab::EngineError;
// Where these lived before the vocabulary had a folder of its own.
pub use crate::vocab::{CloudPlan, EntitySelection, Scope, Secret};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub source: EndpointSpec,
    pub target: EndpointSpec,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub options: Options,
}

/// One side of a migration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum EndpointSpec {
    Langfuse(LangfuseEndpoint),
    Archive {
        path: PathBuf,
    },
    /// A LangSmith workspace (a source only).
    Langsmith(crate::langsmith::LangsmithEndpoint),
}

impl EndpointSpec {
    /// Which project or folder this side is, without how it is reached.
    fn identity(&self) -> serde_json::Value {
        match self {
            EndpointSpec::Langfuse(l) => serde_json::json!({
                "url": l.url.trim_end_matches('/'),
                "public_key": l.public_key,
            }),
            // Its workspace and project filters are part of its settings (no secret is
            // serialised); the share of Cloud's limits is an operating knob.
            EndpointSpec::Langsmith(l) => {
                let l = crate::langsmith::LangsmithEndpoint {
                    cloud_share_percent: None,
                    ..l.clone()
                };
                serde_json::json!({ "langsmith": l })
            }
            EndpointSpec::Archive { path } => serde_json::json!({ "path": path }),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            EndpointSpec::Langfuse(l) => format!("Langfuse at {}", l.url),
            EndpointSpec::Archive { path } => format!("archive folder {}", path.display()),
            EndpointSpec::Langsmith(l) => format!("LangSmith at {}", l.url),
        }
    }
}

/// What to do with an object whose id already exists in the target before this run wrote it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnExisting {
    #[default]
    Skip,
    Stop,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub on_existing: OnExisting,
    /// Add `langfuse_migrator_run` metadata naming the run to every migrated object.
    #[serde(default = "yes")]
    pub run_tag: bool,
    /// Concurrent write requests to start with (adapts down on 429, back up on success).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Upper bound of one write request's body, below the endpoints' limits (ingestion: 3.5 MB).
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: usize,
    /// Upper bound of objects per write request (the target's own limit applies too).
    #[serde(default = "default_batch_items")]
    pub batch_items: usize,
    /// Per-request timeout in seconds.
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// How long the target may take to show a write (v3/v4 are eventually visible); used before
    /// checking whether a write with unknown outcome arrived.
    #[serde(default = "default_visibility_ms")]
    pub visibility_wait_ms: u64,
}

fn yes() -> bool {
    true
}
fn default_concurrency() -> usize {
    4
}
fn default_batch_bytes() -> usize {
    3_000_000
}
fn default_batch_items() -> usize {
    1000
}
fn default_timeout() -> u64 {
    30
}
fn default_visibility_ms() -> u64 {
    5_000
}

impl Default for Options {
    fn default() -> Self {
        Options {
            on_existing: OnExisting::Skip,
            run_tag: true,
            concurrency: default_concurrency(),
            batch_bytes: default_batch_bytes(),
            batch_items: default_batch_items(),
            request_timeout_secs: default_timeout(),
            visibility_wait_ms: default_visibility_ms(),
        }
    }
}

impl Plan {
    pub fn from_toml(text: &str) -> Result<Plan, EngineError> {
        let mut plan: Plan =
            toml::from_str(text).map_err(|e| EngineError::InvalidPlan(e.message().to_string()))?;
        if let Some(start) = plan.scope.fan_out_started_at {
            plan.scope.to = plan.scope.to.min(start);
        }
        plan.validate()?;
        Ok(plan)
    }

    pub fn load(path: &std::path::Path) -> Result<Plan, EngineError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            EngineError::InvalidPlan(format!("cannot read {}: {e}", path.display()))
        })?;
        Plan::from_toml(&text)
    }

    pub fn validate(&self) -> Result<(), EngineError> {
        if self.scope.from >= self.scope.to {
            return Err(EngineError::InvalidPlan(
                "the time window is empty: `from` must be before `to`".into(),
            ));
        }
        if let (EndpointSpec::Archive { .. }, EndpointSpec::Archive { .. }) =
            (&self.source, &self.target)
        {
            return Err(EngineError::InvalidPlan(
                "source and target are both archives; copy the folder instead".into(),
            ));
        }
        if let EndpointSpec::Langsmith(_) = &self.target {
            return Err(EngineError::InvalidPlan(
                "LangSmith can only be a source; the target must be Langfuse or an archive folder"
                    .into(),
            ));
        }
        for (name, side) in [("source", &self.source), ("target", &self.target)] {
            let url = match side {
                EndpointSpec::Langfuse(l) => &l.url,
                EndpointSpec::Langsmith(l) => &l.url,
                EndpointSpec::Archive { .. } => continue,
            };
            if crate::url_credentials::has_credentials(url) {
                return Err(EngineError::InvalidPlan(format!(
                    "the {name} URL \"{}\" carries a user name or password (the part before @); remove it. The server is reached with the keys the plan names, and a password in a URL would be written into the run's journal.",
                    crate::url_credentials::redacted(url)
                )));
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(EngineError::InvalidPlan(format!(
                    "the URL \"{url}\" must start with http:// or https://"
                )));
            }
            if let EndpointSpec::Langfuse(l) = side
                && crate::plain_http::to_another_host(url)
                && !l.allow_plain_http
            {
                return Err(EngineError::InvalidPlan(format!(
                    "the {name} URL \"{url}\" uses plain http:// to another computer, so the keys would travel unencrypted. Use https://, or confirm it: allow_plain_http = true under [{name}] in a plan file, or the checkbox in the connection form."
                )));
            }
        }
        if self.options.concurrency == 0 {
            return Err(EngineError::InvalidPlan(
                "concurrency must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Canonical JSON of the plan (no secrets), stored in the journal.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("plan serialises")
    }

    /// Hash of what defines the data a run copies: both sides, the scope (entities, window,
    /// filters) and how objects land (existing-object policy, run tag). A resume must match it.
    /// Operating knobs (concurrency, batch sizes, timeouts, rate budgets, where a secret lives)
    /// stay out, so a run can go on more gently after a storm of 429s.
    pub fn hash(&self) -> String {
        self.definition_hash(&self.scope)
    }

    /// The hash of a live-sync run: the same definition with the window's end left open, since
    /// a sync follows the source past any end the plan names (its passes and watermark live in
    /// the journal, not in the plan).
    pub fn open_end_hash(&self) -> String {
        let mut scope = self.scope.clone();
        scope.to = Scope::default().to;
        scope.fan_out_started_at = None;
        self.definition_hash(&scope)
    }

    fn definition_hash(&self, scope: &Scope) -> String {
        use sha2::{Digest, Sha256};
        let definition = serde_json::json!({
            "source": self.source.identity(),
            "target": self.target.identity(),
            "scope": scope,
            "on_existing": self.options.on_existing,
            "run_tag": self.options.run_tag,
        });
        hex::encode(Sha256::digest(definition.to_string().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Entity;

    const MINIMAL: &str = r#"
[source]
kind = "langfuse"
url = "http://127.0.0.1:3001"
public_key = "pk-lf-source"
secret_key_env = "SOURCE_SECRET_KEY"

[target]
kind = "langfuse"            # or kind = "archive" with path = "/some/folder"
url = "http://127.0.0.1:3002"
public_key = "pk-lf-target"
secret_key_env = "TARGET_SECRET_KEY"

[scope]
entities = "all"
from = "2020-01-01T00:00:00Z"
to = "2030-01-01T00:00:00Z"
"#;

    #[test]
    fn minimal_plan_from_the_issue_parses() {
        let p = Plan::from_toml(MINIMAL).unwrap();
        assert_eq!(p.scope.entities, EntitySelection::All);
        assert!(p.options.run_tag);
        match &p.target {
            EndpointSpec::Langfuse(l) => {
                assert_eq!(l.secret_key_env.as_deref(), Some("TARGET_SECRET_KEY"))
            }
            _ => panic!("target kind"),
        }
        // round trip through JSON keeps the hash
        let again: Plan = serde_json::from_str(&p.canonical_json()).unwrap();
        assert_eq!(again.hash(), p.hash());
    }

    #[test]
    fn llm_keys_are_named_by_environment_variable_and_the_callers_win() {
        use crate::vocab::ExposeSecret;
        let text = MINIMAL.replace(
            "secret_key_env = \"TARGET_SECRET_KEY\"",
            "secret_key_env = \"TARGET_SECRET_KEY\"\nllm_key_env = { openai = \"LFM_TEST_UNSET_OPENAI_KEY\", my-gateway = \"PATH\" }",
        );
        let p = Plan::from_toml(&text).unwrap();
        let EndpointSpec::Langfuse(mut l) = p.target.clone() else {
            panic!("target kind")
        };
        assert!(l.llm_key("openai").is_none(), "an unset variable is no key");
        assert!(
            l.llm_key("anthropic").is_none(),
            "nor is an unnamed provider"
        );
        // Any variable the test process has: its value is the key.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(
            l.llm_key("my-gateway")
                .map(|k| k.expose_secret().to_string()),
            Some(path)
        );
        l.llm_keys.insert(
            "my-gateway".into(),
            crate::vocab::Secret::new("from-the-app"),
        );
        assert_eq!(
            l.llm_key("my-gateway").unwrap().expose_secret(),
            "from-the-app"
        );
        // The names travel with the plan, the keys never do.
        let json = p.canonical_json();
        assert!(json.contains("LFM_TEST_UNSET_OPENAI_KEY"), "{json}");
        let EndpointSpec::Langfuse(back) = serde_json::from_str::<Plan>(&json).unwrap().target
        else {
            panic!("target kind")
        };
        assert!(back.llm_keys.is_empty());
    }

    #[test]
    fn a_langsmith_source_parses_and_cannot_be_a_target() {
        let text = r#"
[source]
kind = "langsmith"
url = "https://api.smith.langchain.com"
api_key_env = "LANGSMITH_API_KEY"
projects = ["support-bot"]
[target]
kind = "archive"
path = "/tmp/x"
"#;
        let p = Plan::from_toml(text).unwrap();
        match &p.source {
            EndpointSpec::Langsmith(l) => {
                assert_eq!(l.projects, vec!["support-bot".to_string()]);
                assert!(l.cloud_limits(), "Cloud limits on for smith.langchain.com");
            }
            _ => panic!("source kind"),
        }
        let swapped = text
            .replace("[source]", "[tmp]")
            .replace("[target]", "[source]")
            .replace("[tmp]", "[target]");
        assert!(Plan::from_toml(&swapped).is_err());
    }

    #[test]
    fn archive_target_and_entity_list() {
        let text = MINIMAL
            .replace(
                "kind = \"langfuse\"            # or kind = \"archive\" with path = \"/some/folder\"\nurl = \"http://127.0.0.1:3002\"\npublic_key = \"pk-lf-target\"\nsecret_key_env = \"TARGET_SECRET_KEY\"",
                "kind = \"archive\"\npath = \"/tmp/x\"",
            )
            .replace("entities = \"all\"", "entities = [\"traces\", \"scores\"]");
        let p = Plan::from_toml(&text).unwrap();
        assert!(matches!(p.target, EndpointSpec::Archive { .. }));
        assert!(p.scope.entities.includes(Entity::Scores));
        assert!(!p.scope.entities.includes(Entity::Prompts));
    }

    #[test]
    fn bad_plans_get_plain_messages() {
        let e = Plan::from_toml(&MINIMAL.replace("\"all\"", "[\"tracez\"]")).unwrap_err();
        assert!(e.to_string().contains("unknown entity \"tracez\""), "{e}");
        let e = Plan::from_toml(&MINIMAL.replace("2030-01-01", "2019-01-01")).unwrap_err();
        assert!(e.to_string().contains("time window is empty"), "{e}");
        let e = Plan::from_toml(&MINIMAL.replace(
            "secret_key_env = \"SOURCE_SECRET_KEY\"",
            "secret_key = \"sk-lf-x\"",
        ))
        .unwrap_err();
        assert!(!e.to_string().contains("sk-lf-x"), "{e}");
    }

    #[test]
    fn the_hash_covers_what_is_copied_not_how_gently() {
        let p = Plan::from_toml(MINIMAL).unwrap();
        let mut knobs = p.clone();
        knobs.options.concurrency = 1;
        knobs.options.batch_items = 10;
        knobs.options.batch_bytes = 100_000;
        knobs.options.request_timeout_secs = 120;
        knobs.options.visibility_wait_ms = 1;
        if let EndpointSpec::Langfuse(l) = &mut knobs.target {
            l.requests_per_minute = Some(60);
            l.cloud_plan = CloudPlan::Hobby;
            l.secret_key_env = Some("OTHER_VAR".into());
            l.ca_file = Some("/etc/company-ca.pem".into());
            l.allow_plain_http = true;
        }
        assert_eq!(knobs.hash(), p.hash());
        type Change = Box<dyn Fn(&mut Plan)>;
        let data_changes: Vec<Change> = vec![
            Box::new(|p| p.scope.tags = vec!["x".into()]),
            Box::new(|p| p.scope.environments = vec!["prod".into()]),
            Box::new(|p| p.scope.trace_names = vec!["n".into()]),
            Box::new(|p| p.scope.from = Scope::default().from + chrono::Duration::days(1)),
            Box::new(|p| p.scope.entities = EntitySelection::Only(vec![Entity::Traces])),
            Box::new(|p| p.options.on_existing = OnExisting::Stop),
            Box::new(|p| p.options.run_tag = false),
            Box::new(|p| {
                if let EndpointSpec::Langfuse(l) = &mut p.target {
                    l.url = "http://127.0.0.1:9999".into();
                }
            }),
            Box::new(|p| {
                if let EndpointSpec::Langfuse(l) = &mut p.source {
                    l.public_key = "pk-lf-other".into();
                }
            }),
        ];
        for (i, change) in data_changes.iter().enumerate() {
            let mut changed = p.clone();
            change(&mut changed);
            assert_ne!(changed.hash(), p.hash(), "change {i} is not seen");
        }
    }

    #[test]
    fn a_sync_runs_hash_leaves_the_window_end_open_but_not_the_rest() {
        let p = Plan::from_toml(MINIMAL).unwrap();
        let mut later_end = p.clone();
        later_end.scope.to = p.scope.to + chrono::Duration::days(30);
        assert_ne!(later_end.hash(), p.hash(), "a plain run's window is fixed");
        assert_eq!(later_end.open_end_hash(), p.open_end_hash());
        let mut later_start = p.clone();
        later_start.scope.from = p.scope.from + chrono::Duration::days(1);
        assert_ne!(later_start.open_end_hash(), p.open_end_hash());
        let mut other_entities = p.clone();
        other_entities.scope.entities = EntitySelection::Only(vec![Entity::Traces]);
        assert_ne!(other_entities.open_end_hash(), p.open_end_hash());
    }

    #[test]
    fn a_url_with_a_password_is_refused_without_repeating_it() {
        let e = Plan::from_toml(&MINIMAL.replace(
            "http://127.0.0.1:3001",
            "https://admin:hunter2@127.0.0.1:3001",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("user name or password"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn a_ca_file_and_the_plain_http_confirmation_parse_per_side() {
        let p = Plan::from_toml(&MINIMAL.replace(
            "secret_key_env = \"TARGET_SECRET_KEY\"",
            "secret_key_env = \"TARGET_SECRET_KEY\"\nca_file = \"/etc/ssl/company-ca.pem\"\nallow_plain_http = true",
        ))
        .unwrap();
        let EndpointSpec::Langfuse(t) = &p.target else {
            panic!("target kind")
        };
        assert_eq!(
            t.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/ssl/company-ca.pem"))
        );
        assert!(t.allow_plain_http);
        let EndpointSpec::Langfuse(s) = &p.source else {
            panic!("source kind")
        };
        assert_eq!((s.ca_file.as_ref(), s.allow_plain_http), (None, false));
        // The journal keeps them, so a resume trusts the same CA.
        let again: Plan = serde_json::from_str(&p.canonical_json()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn plain_http_to_another_host_needs_the_sides_confirmation() {
        let far = MINIMAL.replace("http://127.0.0.1:3002", "http://langfuse.internal:3000");
        let e = Plan::from_toml(&far).unwrap_err();
        assert!(e.to_string().contains("the target URL"), "{e}");
        assert!(e.to_string().contains("unencrypted"), "{e}");
        let confirmed = far.replace(
            "secret_key_env = \"TARGET_SECRET_KEY\"",
            "secret_key_env = \"TARGET_SECRET_KEY\"\nallow_plain_http = true",
        );
        Plan::from_toml(&confirmed).unwrap();
        // This computer needs no confirmation.
        Plan::from_toml(&MINIMAL.replace("127.0.0.1", "localhost")).unwrap();
    }

    #[test]
    fn secret_never_shows_in_debug() {
        let l = LangfuseEndpoint::new("http://x", "pk", "sk-lf-very-secret");
        assert!(!format!("{l:?}").contains("very-secret"));
    }
}
