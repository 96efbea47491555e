//! The plan as the window describes it (profile ids, no secrets) and its translation into an
//! engine [`Plan`] with the secrets the app looked up itself.

use chrono::{DateTime, NaiveDate, Utc};
use migrator_engine::plan::{CloudPlan, EntitySelection};
use migrator_engine::profile::{Credentials, ProfileId};
use migrator_engine::{
    EndpointSpec, Entity, LangfuseEndpoint, LangsmithEndpoint, OnExisting, Options, Plan, Scope,
};
use secrecy::SecretString;
use serde::Deserialize;
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ExistingPolicy {
    /// Leave objects that already exist in the target alone and report them.
    Skip,
    /// Stop the run at the first object that already exists.
    Stop,
}

#[derive(Clone, Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlanRequest {
    pub source_id: ProfileId,
    pub target_id: ProfileId,
    /// Entity keys such as `traces`, `observations`, `scores`.
    pub entities: Vec<String>,
    /// First day included, `YYYY-MM-DD` (UTC); `null` = from the beginning.
    pub from_day: Option<String>,
    /// Last day included, `YYYY-MM-DD` (UTC); `null` = up to `window_end`.
    pub to_day: Option<String>,
    /// When `to_day` is empty: the instant (RFC 3339) the window ends, pinned by the window
    /// when the plan was made; `null` = the moment this request becomes a plan. Either way the
    /// window is fixed, so validation later compares the same window the run copied.
    pub window_end: Option<String>,
    pub environments: Vec<String>,
    pub trace_names: Vec<String>,
    pub tags: Vec<String>,
    pub on_existing: ExistingPolicy,
    /// Mark every migrated object with metadata naming the run.
    pub run_tag: bool,
    /// The Langfuse Cloud plan of each side, as the user set it in the plan; `null` = the one
    /// saved with the connection.
    pub source_cloud_plan: Option<CloudPlan>,
    pub target_cloud_plan: Option<CloudPlan>,
    /// LangSmith sources only: the project names to move; empty = every project.
    #[serde(default)]
    #[ts(optional)]
    pub projects: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanRequestError {
    #[error("Pick at least one kind of object to migrate.")]
    NoEntities,
    #[error("“{0}” is not a kind of object the migrator knows.")]
    UnknownEntity(String),
    #[error("“{0}” is not a date (expected YYYY-MM-DD).")]
    BadDate(String),
    #[error("“{0}” is not a moment in time (expected RFC 3339, such as 2026-01-31T12:00:00Z).")]
    BadInstant(String),
    #[error("The date range is empty: the first day is after the last day.")]
    EmptyRange,
    #[error("Source and target are the same connection. Pick two different ones.")]
    SameProfile,
    #[error(
        "LangSmith can only be a source: migrate into a Langfuse connection or an archive folder."
    )]
    LangSmithTarget,
}

fn parse_day(s: &str) -> Result<NaiveDate, PlanRequestError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| PlanRequestError::BadDate(s.to_owned()))
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

fn clean(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// One side of the plan. Langfuse sides carry the secret (filled in, never serialised) and
/// name their profile so a resume after a restart can find the secret again.
fn endpoint(
    id: &ProfileId,
    creds: &Credentials,
    plan_override: Option<CloudPlan>,
    projects: &[String],
) -> Result<EndpointSpec, PlanRequestError> {
    Ok(match creds {
        Credentials::Langfuse { cloud_plan, .. } => {
            let mut l = langfuse_endpoint(creds).expect("a Langfuse connection");
            l.keychain_profile = Some(id.as_str().to_owned());
            // The run stays within the plan's request limits; a rollback plans its deletes with it.
            l.cloud_plan = plan_override.unwrap_or(*cloud_plan);
            EndpointSpec::Langfuse(l)
        }
        Credentials::Archive { folder } => EndpointSpec::Archive {
            path: folder.clone(),
        },
        Credentials::LangSmith { .. } => {
            let mut l = langsmith_endpoint(creds).expect("a LangSmith connection");
            l.keychain_profile = Some(id.as_str().to_owned());
            l.projects = projects.to_vec();
            EndpointSpec::Langsmith(l)
        }
    })
}

/// How the engine reaches a LangSmith connection: its address and the API key as the same
/// `SecretString` the keychain handed over. `None` for other kinds of connection.
pub fn langsmith_endpoint(creds: &Credentials) -> Option<LangsmithEndpoint> {
    let Credentials::LangSmith { endpoint, api_key } = creds else {
        return None;
    };
    let mut l = LangsmithEndpoint::new(endpoint, "");
    l.api_key = Some(api_key.clone());
    Some(l)
}

/// How the engine reaches a Langfuse connection: its address and keys, the CA file it trusts and
/// whether plain http was confirmed. `None` for other kinds of connection.
pub fn langfuse_endpoint(creds: &Credentials) -> Option<LangfuseEndpoint> {
    let Credentials::Langfuse {
        host,
        public_key,
        secret_key,
        ca_file,
        allow_plain_http,
        ..
    } = creds
    else {
        return None;
    };
    let mut l = LangfuseEndpoint::with_secret(host, public_key, secret_key.clone());
    l.ca_file = ca_file.clone();
    l.allow_plain_http = *allow_plain_http;
    Some(l)
}

impl PlanRequest {
    /// A request for `entities` from one profile to another, over all time, skipping what the
    /// target holds and tagging what the run writes (the form's defaults).
    pub fn between(source: ProfileId, target: ProfileId, entities: &[&str]) -> PlanRequest {
        PlanRequest {
            source_id: source,
            target_id: target,
            entities: entities.iter().map(|e| e.to_string()).collect(),
            from_day: None,
            to_day: None,
            environments: vec![],
            trace_names: vec![],
            tags: vec![],
            on_existing: ExistingPolicy::Skip,
            run_tag: true,
            window_end: None,
            source_cloud_plan: None,
            target_cloud_plan: None,
            projects: None,
        }
    }

    pub fn to_plan(
        &self,
        source: &Credentials,
        target: &Credentials,
    ) -> Result<Plan, PlanRequestError> {
        if self.source_id == self.target_id {
            return Err(PlanRequestError::SameProfile);
        }
        if self.entities.is_empty() {
            return Err(PlanRequestError::NoEntities);
        }
        let entities = self
            .entities
            .iter()
            .map(|e| Entity::parse(e).ok_or_else(|| PlanRequestError::UnknownEntity(e.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let (from, to) = self.window()?;
        if matches!(target, Credentials::LangSmith { .. }) {
            return Err(PlanRequestError::LangSmithTarget);
        }
        let projects = self.chosen_projects();
        Ok(Plan {
            source: endpoint(&self.source_id, source, self.source_cloud_plan, &projects)?,
            target: endpoint(&self.target_id, target, self.target_cloud_plan, &[])?,
            scope: Scope {
                entities: EntitySelection::Only(entities),
                from,
                to,
                environments: clean(&self.environments),
                trace_names: clean(&self.trace_names),
                tags: clean(&self.tags),
                fan_out_started_at: None,
                copy_back_of: None,
            },
            options: Options {
                on_existing: match self.on_existing {
                    ExistingPolicy::Skip => OnExisting::Skip,
                    ExistingPolicy::Stop => OnExisting::Stop,
                },
                run_tag: self.run_tag,
                ..Options::default()
            },
        })
    }

    fn chosen_projects(&self) -> Vec<String> {
        clean(self.projects.as_deref().unwrap_or_default())
    }

    /// The LangSmith source and window of the mapping preview; `None` when the source is not
    /// LangSmith. Needs no target and no kinds of object: the preview reads one trace.
    pub fn preview_source(
        &self,
        source: &Credentials,
    ) -> Result<Option<(LangsmithEndpoint, Scope)>, PlanRequestError> {
        let (from, to) = self.window()?;
        let Some(mut l) = langsmith_endpoint(source) else {
            return Ok(None);
        };
        l.keychain_profile = Some(self.source_id.as_str().to_owned());
        l.projects = self.chosen_projects();
        Ok(Some((
            l,
            Scope {
                from,
                to,
                ..Scope::default()
            },
        )))
    }

    /// The window `[from, to)`: the first day's midnight (or the beginning) up to the midnight
    /// after the last day (or the pinned end, or now).
    fn window(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), PlanRequestError> {
        let defaults = Scope::default();
        let from = match self.from_day.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(d) => midnight(parse_day(d)?),
            None => defaults.from,
        };
        let to = match self.to_day.as_deref().filter(|s| !s.trim().is_empty()) {
            // The last day is included: the engine's window ends before the next midnight.
            Some(d) => midnight(
                parse_day(d)?
                    .succ_opt()
                    .ok_or(PlanRequestError::EmptyRange)?,
            ),
            None => match self.window_end.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(t) => DateTime::parse_from_rfc3339(t.trim())
                    .map_err(|_| PlanRequestError::BadInstant(t.to_owned()))?
                    .with_timezone(&Utc),
                None => Utc::now(),
            },
        };
        if from >= to {
            return Err(PlanRequestError::EmptyRange);
        }
        Ok((from, to))
    }
}

/// How a resumed run works, without changing what it copies: `null` keeps the run's setting.
/// Gentler settings get a run past a storm of 429s.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OperatingSettings {
    /// Concurrent write requests to start with.
    pub concurrency: Option<u32>,
    /// Seconds one request may take.
    pub request_timeout_secs: Option<u32>,
    /// Requests per minute on each Langfuse side.
    pub requests_per_minute: Option<u32>,
}

impl OperatingSettings {
    /// The journaled plan with these settings applied.
    pub fn apply(&self, mut plan: Plan) -> Plan {
        if let Some(c) = self.concurrency {
            plan.options.concurrency = c.max(1) as usize;
        }
        if let Some(t) = self.request_timeout_secs {
            plan.options.request_timeout_secs = u64::from(t.max(1));
        }
        if let Some(r) = self.requests_per_minute {
            for side in [&mut plan.source, &mut plan.target] {
                if let EndpointSpec::Langfuse(l) = side {
                    l.requests_per_minute = Some(r.max(1));
                }
            }
        }
        plan
    }
}

/// Warnings the app adds to the engine's pre-flight: what a later rollback will cost.
pub fn rollback_warnings(plan: &Plan) -> Vec<String> {
    const MANUAL: &str = "Datasets, comments and score configs cannot be deleted through the Langfuse API: a rollback lists them for you to remove by hand.";
    match &plan.target {
        EndpointSpec::Langfuse(l) => {
            let budget = match (l.cloud_plan, migrator_engine::rollback::daily_delete_budget(l.cloud_plan)) {
                (p, Some(n)) => Some(format!(
                    "The target is on Langfuse Cloud's {} plan, which allows {n} deletes a day: a rollback of a large run may take several days under that budget.",
                    plan_name(p)
                )),
                (_, None) if l.url.contains("langfuse.com") => Some(
                    "The target is Langfuse Cloud, which limits deletes per day by plan (hobby: 25 a day). Say which plan the target is on, so a rollback can plan within its budget.".into(),
                ),
                _ => None,
            };
            budget.into_iter().chain([MANUAL.to_owned()]).collect()
        }
        EndpointSpec::Archive { .. } | EndpointSpec::Langsmith(_) => vec![],
    }
}

fn plan_name(p: CloudPlan) -> &'static str {
    match p {
        CloudPlan::None => "no",
        CloudPlan::Hobby => "hobby",
        CloudPlan::Core => "core",
        CloudPlan::Pro => "pro",
    }
}

/// The profile ids a journaled plan names, so a resume can fetch their secrets.
pub fn plan_profiles(plan: &Plan) -> (Option<ProfileId>, Option<ProfileId>) {
    let id = |side: &EndpointSpec| match side {
        EndpointSpec::Langfuse(l) => l.keychain_profile.as_deref().map(ProfileId::from),
        EndpointSpec::Langsmith(l) => l.keychain_profile.as_deref().map(ProfileId::from),
        EndpointSpec::Archive { .. } => None,
    };
    (id(&plan.source), id(&plan.target))
}

/// The secret goes on as the same `SecretString` the keychain handed over: never a plain copy.
pub fn secret_of(creds: &Credentials) -> Option<SecretString> {
    match creds {
        Credentials::Langfuse { secret_key, .. } => Some(secret_key.clone()),
        Credentials::LangSmith { api_key, .. } => Some(api_key.clone()),
        Credentials::Archive { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn langfuse(host: &str) -> Credentials {
        Credentials::Langfuse {
            host: host.into(),
            public_key: "pk-lf-1".into(),
            secret_key: SecretString::from("sk-lf-secret"),
            cloud_plan: CloudPlan::None,
            ca_file: None,
            allow_plain_http: false,
        }
    }

    fn request() -> PlanRequest {
        PlanRequest {
            source_id: ProfileId::from("a"),
            target_id: ProfileId::from("b"),
            entities: vec!["traces".into(), "observations".into()],
            from_day: Some("2026-01-01".into()),
            to_day: Some("2026-01-31".into()),
            environments: vec![" production ".into(), "".into()],
            trace_names: vec![],
            tags: vec![],
            on_existing: ExistingPolicy::Skip,
            run_tag: true,
            window_end: None,
            source_cloud_plan: None,
            target_cloud_plan: None,
            projects: None,
        }
    }

    #[test]
    fn the_ca_file_and_the_plain_http_confirmation_reach_the_plan() {
        let source = Credentials::Langfuse {
            host: "http://langfuse.internal:3000".into(),
            public_key: "pk-lf-1".into(),
            secret_key: SecretString::from("sk-lf-secret"),
            cloud_plan: CloudPlan::None,
            ca_file: None,
            allow_plain_http: true,
        };
        let target = Credentials::Langfuse {
            host: "https://langfuse.corp.example".into(),
            public_key: "pk-lf-2".into(),
            secret_key: SecretString::from("sk-lf-secret"),
            cloud_plan: CloudPlan::None,
            ca_file: Some("/etc/ssl/corp-ca.pem".into()),
            allow_plain_http: false,
        };
        let plan = request().to_plan(&source, &target).unwrap();
        plan.validate()
            .expect("the confirmed plain-http side is accepted");
        let (EndpointSpec::Langfuse(s), EndpointSpec::Langfuse(t)) = (&plan.source, &plan.target)
        else {
            panic!("Langfuse sides")
        };
        assert!(s.allow_plain_http && s.ca_file.is_none());
        assert_eq!(
            t.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/ssl/corp-ca.pem"))
        );
        assert!(!t.allow_plain_http);
    }

    #[test]
    fn each_side_runs_within_its_cloud_plan_from_the_connection_or_the_plan() {
        let source = Credentials::Langfuse {
            host: "https://cloud.langfuse.com".into(),
            public_key: "pk-lf-1".into(),
            secret_key: SecretString::from("sk-lf-secret"),
            cloud_plan: CloudPlan::Hobby,
            ca_file: None,
            allow_plain_http: false,
        };
        let target = langfuse("https://us.cloud.langfuse.com");
        let plan_of = |side: &EndpointSpec| match side {
            EndpointSpec::Langfuse(l) => l.cloud_plan,
            _ => panic!("a Langfuse side"),
        };
        let plan = request().to_plan(&source, &target).unwrap();
        assert_eq!(
            plan_of(&plan.source),
            CloudPlan::Hobby,
            "the connection's plan"
        );
        assert_eq!(plan_of(&plan.target), CloudPlan::None);
        let mut r = request();
        r.source_cloud_plan = Some(CloudPlan::Pro);
        r.target_cloud_plan = Some(CloudPlan::Core);
        let plan = r.to_plan(&source, &target).unwrap();
        assert_eq!(
            plan_of(&plan.source),
            CloudPlan::Pro,
            "the plan's choice wins"
        );
        assert_eq!(plan_of(&plan.target), CloudPlan::Core);
        // The rollback's delete budget follows the target's plan, as the CLI's does.
        assert_eq!(
            migrator_engine::rollback::daily_delete_budget(plan_of(&plan.target)),
            Some(100)
        );
        assert!(
            rollback_warnings(&plan)
                .iter()
                .any(|w| w.contains("core") && w.contains("100 deletes a day")),
            "{:?}",
            rollback_warnings(&plan)
        );
    }

    #[test]
    fn an_open_end_is_pinned_to_the_moment_the_plan_is_made() {
        let (s, t) = (langfuse("http://src"), langfuse("http://dst"));
        let mut r = request();
        r.to_day = None;
        let before = Utc::now();
        let plan = r.to_plan(&s, &t).unwrap();
        let after = Utc::now();
        assert!(
            plan.scope.to >= before && plan.scope.to <= after,
            "an open window ends at {}, not when the plan was made",
            plan.scope.to
        );
        // The window's own pinned end wins, so pre-flight and run count the same window.
        r.window_end = Some("2026-03-04T05:06:07.890Z".into());
        let plan = r.to_plan(&s, &t).unwrap();
        assert_eq!(plan.scope.to.to_rfc3339(), "2026-03-04T05:06:07.890+00:00");
        // A last day beats a pinned end.
        r.to_day = Some("2026-01-31".into());
        let plan = r.to_plan(&s, &t).unwrap();
        assert_eq!(plan.scope.to.to_rfc3339(), "2026-02-01T00:00:00+00:00");
        r.to_day = None;
        r.window_end = Some("yesterday".into());
        assert_eq!(
            r.to_plan(&s, &t),
            Err(PlanRequestError::BadInstant("yesterday".into()))
        );
    }

    #[test]
    fn the_last_day_is_included_and_the_secret_never_serialises() {
        let plan = request()
            .to_plan(&langfuse("http://src"), &langfuse("http://dst"))
            .unwrap();
        assert_eq!(plan.scope.from.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(plan.scope.to.to_rfc3339(), "2026-02-01T00:00:00+00:00");
        assert_eq!(plan.scope.environments, vec!["production".to_owned()]);
        let journaled = serde_json::to_string(&plan).unwrap();
        assert!(!journaled.contains("sk-lf-secret"));
        assert_eq!(
            plan_profiles(&plan),
            (Some(ProfileId::from("a")), Some(ProfileId::from("b")))
        );
    }

    #[test]
    fn bad_requests_are_refused_with_a_plain_reason() {
        let (s, t) = (langfuse("http://src"), langfuse("http://dst"));
        let mut r = request();
        r.entities.clear();
        assert_eq!(r.to_plan(&s, &t), Err(PlanRequestError::NoEntities));
        let mut r = request();
        r.from_day = Some("2026-02-02".into());
        assert_eq!(r.to_plan(&s, &t), Err(PlanRequestError::EmptyRange));
        let mut r = request();
        r.to_day = Some("31/01/2026".into());
        assert_eq!(
            r.to_plan(&s, &t),
            Err(PlanRequestError::BadDate("31/01/2026".into()))
        );
        let mut r = request();
        r.target_id = r.source_id.clone();
        assert_eq!(r.to_plan(&s, &t), Err(PlanRequestError::SameProfile));
    }

    fn langsmith() -> Credentials {
        Credentials::LangSmith {
            endpoint: "https://eu.api.smith.langchain.com/".into(),
            api_key: SecretString::from("lsv2_pt_secret_key"),
        }
    }

    #[test]
    fn a_langsmith_source_moves_the_chosen_projects_with_the_key_from_the_keychain() {
        let mut r = request();
        r.projects = Some(vec![" support-bot ".into(), "".into(), "rag".into()]);
        let plan = r.to_plan(&langsmith(), &langfuse("https://dst")).unwrap();
        plan.validate()
            .expect("a LangSmith → Langfuse plan is valid");
        let EndpointSpec::Langsmith(l) = &plan.source else {
            panic!("a LangSmith source, not {:?}", plan.source.describe())
        };
        assert_eq!(l.projects, vec!["support-bot".to_owned(), "rag".to_owned()]);
        assert_eq!(l.base_url(), "https://eu.api.smith.langchain.com");
        assert_eq!(l.keychain_profile.as_deref(), Some("a"));
        use secrecy::ExposeSecret;
        assert_eq!(
            l.resolve_api_key().unwrap().expose_secret(),
            "lsv2_pt_secret_key"
        );
        // The journaled plan names the profile; the key stays out of it.
        let journaled = serde_json::to_string(&plan).unwrap();
        assert!(!journaled.contains("lsv2_pt_secret_key"), "{journaled}");
        assert_eq!(plan_profiles(&plan).0, Some(ProfileId::from("a")));
        // A resume, validation or rollback looks the key up again for the source.
        assert_eq!(
            secret_of(&langsmith()).map(|s| s.expose_secret().to_owned()),
            Some("lsv2_pt_secret_key".to_owned())
        );
        assert!(
            rollback_warnings(&plan)
                .iter()
                .any(|w| w.contains("by hand"))
        );
    }

    #[test]
    fn every_project_moves_when_none_is_chosen_and_an_archive_is_a_target_too() {
        let plan = request()
            .to_plan(
                &langsmith(),
                &Credentials::Archive {
                    folder: "/tmp/export".into(),
                },
            )
            .unwrap();
        let EndpointSpec::Langsmith(l) = &plan.source else {
            panic!("a LangSmith source")
        };
        assert!(l.projects.is_empty());
        assert!(matches!(plan.target, EndpointSpec::Archive { .. }));
    }

    #[test]
    fn langsmith_is_refused_as_a_target_with_a_plain_reason() {
        let err = request()
            .to_plan(&langfuse("http://src"), &langsmith())
            .unwrap_err();
        assert_eq!(err, PlanRequestError::LangSmithTarget);
        assert!(err.to_string().contains("only be a source"));
    }
}
