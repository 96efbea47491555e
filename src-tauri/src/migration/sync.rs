//! The "Zero-downtime cutover" card behind the window: start a live sync from a plan (backfill,
//! then follow), the timing defaults of the source's generation, and the sync's standing as the
//! card shows it. Resume, pause and cancel go through the run commands (the engine's `resume`
//! continues a sync run as a sync). The engine does the work (`migrator_engine::live_sync`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use migrator_engine::vocab::rate::{Bucket, Budget, CloudPlan};
use migrator_engine::{
    CutOver, EndpointSpec, Followed, Generation, Journal, Plan, SenderSeen, SyncPass, SyncSettings,
    SyncStatus, SyncTiming,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use super::hub::{ActiveRun, RunChannel};
use super::request::PlanRequest;
use super::views::RunView;
use super::{
    MigrationError, Migrations, Result, blocking, describe_sides, launch, launch_keeping_keys,
    plan_for, run_secrets,
};
use crate::AppState;

/// Passes kept in the view for objects per minute.
const RECENT_PASSES: usize = 30;

/// Seconds between passes, how long an object must rest, how far back each pass reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncTimingView {
    pub poll_secs: f64,
    pub settle_secs: f64,
    pub lookback_secs: f64,
}

impl From<&SyncTiming> for SyncTimingView {
    fn from(t: &SyncTiming) -> Self {
        SyncTimingView {
            poll_secs: t.poll_secs,
            settle_secs: t.settle_secs,
            lookback_secs: t.lookback_secs,
        }
    }
}

/// One finished pass, as the card shows it.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncPassView {
    #[ts(type = "number")]
    pub pass: u64,
    #[ts(type = "number")]
    pub seen: u64,
    #[ts(type = "number")]
    pub copied: u64,
    #[ts(type = "number")]
    pub skipped: u64,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// How long the pass took.
    pub seconds: Option<f64>,
    pub lag_seconds: Option<f64>,
}

impl From<&SyncPass> for SyncPassView {
    fn from(p: &SyncPass) -> Self {
        let at = |s: &str| migrator_engine::filter::parse_time(s);
        let seconds = match (at(&p.started_at), p.ended_at.as_deref().and_then(at)) {
            (Some(a), Some(b)) => Some((b - a).num_milliseconds().max(0) as f64 / 1000.0),
            _ => None,
        };
        SyncPassView {
            pass: p.pass,
            seen: p.seen,
            copied: p.copied,
            skipped: p.skipped,
            started_at: p.started_at.clone(),
            ended_at: p.ended_at.clone(),
            seconds,
            lag_seconds: p.lag_seconds,
        }
    }
}

/// Who still writes to the source since the switch (the drain), as the card lists it.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SenderView {
    pub sdk: Option<String>,
    pub sdk_version: Option<String>,
    pub service: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Objects first seen since the switch.
    #[ts(type = "number")]
    pub objects: u64,
    pub last_seen: String,
}

impl From<&SenderSeen> for SenderView {
    fn from(s: &SenderSeen) -> Self {
        SenderView {
            sdk: s.sdk.clone(),
            sdk_version: s.sdk_version.clone(),
            service: s.service.clone(),
            release: s.release.clone(),
            environment: s.environment.clone(),
            objects: s.objects,
            last_seen: s.last_seen.clone(),
        }
    }
}

/// A finished sync: its last pass ran and its whole window was validated.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncCutOverView {
    pub at: String,
    pub window_to: String,
    pub validation_clean: bool,
    pub validation_summary: String,
}

impl From<&CutOver> for SyncCutOverView {
    fn from(c: &CutOver) -> Self {
        SyncCutOverView {
            at: c.at.clone(),
            window_to: c.window_to.clone(),
            validation_clean: c.validation_clean,
            validation_summary: c.validation_summary.clone(),
        }
    }
}

/// How much of a Langfuse Cloud plan's request limit the sync takes, leaving the rest to the
/// application's own traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RateShareView {
    pub plan: CloudPlan,
    pub percent: u8,
    /// Requests per minute the sync may send to that side's tightest bucket (every other
    /// bucket: the same share of its own limit).
    pub requests_per_minute: u32,
    /// The plan's tightest per-minute limit (the bucket `requests_per_minute` is of).
    pub plan_limit: u32,
}

/// How much of LangSmith Cloud's run-query limit (per API key) the sync takes from a LangSmith
/// source; its other limits are cut to the same share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LangsmithShareView {
    pub percent: u8,
    /// Run queries the sync may send per 10 s.
    pub run_queries_per_10s: u32,
    /// LangSmith Cloud's limit of run queries per 10 s.
    pub run_query_limit: u32,
}

/// Where a live sync stands, for the cutover card.
#[derive(Clone, Debug, Default, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncView {
    /// Finished passes (the first one copies the history).
    #[ts(type = "number")]
    pub passes: u64,
    /// How far the newest copied moment is behind now, after the last pass.
    pub lag_seconds: Option<f64>,
    /// Objects seen at the source and not copied yet (open, or not at rest yet).
    #[ts(type = "number")]
    pub waiting: u64,
    /// Of those, the ones that have not ended yet.
    #[ts(type = "number")]
    pub waiting_open: u64,
    pub last_pass: Option<SyncPassView>,
    /// The last few finished passes, oldest first (objects per minute).
    pub recent: Vec<SyncPassView>,
    pub timing: Option<SyncTimingView>,
    /// The target's address, for the application readiness check before the switch.
    pub target_url: Option<String>,
    /// Per Cloud side the sync talks to: the share of its plan's limit the sync takes.
    pub source_share: Option<RateShareView>,
    pub target_share: Option<RateShareView>,
    /// The source is a LangSmith workspace.
    pub langsmith_source: bool,
    /// The source is LangSmith Cloud: the share of its limits the sync takes.
    pub langsmith_share: Option<LangsmithShareView>,
    /// Who still writes to the source since the switch.
    pub senders: Vec<SenderView>,
    /// When the source last showed something new.
    pub quiet_since: Option<String>,
    /// When the application was switched to the target, while that switch stands.
    pub switched_at: Option<String>,
    /// Finishing was asked for and the run is not cut over yet.
    pub finishing: bool,
    /// Set once the sync finished (last pass, validation of the whole window).
    pub cut_over: Option<SyncCutOverView>,
    /// Seconds of quiet after which the sync finishes by itself (`null`: only with Finish).
    pub drain_secs: Option<f64>,
}

impl SyncView {
    /// Takes in a pass the engine just finished.
    pub fn record_pass(
        &mut self,
        pass: &SyncPass,
        (waiting, waiting_open): (u64, u64),
        senders: &[SenderSeen],
        quiet_since: Option<&String>,
    ) {
        let view = SyncPassView::from(pass);
        self.senders = senders.iter().map(SenderView::from).collect();
        self.quiet_since = quiet_since.cloned();
        self.passes = self.passes.max(pass.pass);
        self.lag_seconds = pass.lag_seconds;
        self.waiting = waiting;
        self.waiting_open = waiting_open;
        self.recent.retain(|p| p.pass != pass.pass);
        self.recent.push(view.clone());
        if self.recent.len() > RECENT_PASSES {
            self.recent.remove(0);
        }
        self.last_pass = Some(view);
    }

    /// Takes in the journaled standing (a sync read back, or the final report).
    fn record_status(&mut self, s: &SyncStatus) {
        self.passes = s.passes;
        self.lag_seconds = s.lag_seconds;
        self.waiting = s.waiting;
        self.waiting_open = s.waiting_open;
        self.last_pass = s.last_pass.as_ref().map(SyncPassView::from);
        self.senders = s.senders.iter().map(SenderView::from).collect();
        self.quiet_since = s.quiet_since.clone();
        self.switched_at = s.switched_at.clone();
        self.finishing = s.finishing;
        self.cut_over = s.cut_over.as_ref().map(SyncCutOverView::from);
        if let Some(t) = &s.timing {
            self.timing = Some(t.into());
            self.drain_secs = t.drain_secs;
        }
    }
}

/// The sides' facts the card shows next to the sync: the target's address and the Cloud shares.
fn describe_plan(view: &mut SyncView, plan: &Plan) {
    let side = |s: &EndpointSpec| match s {
        EndpointSpec::Langfuse(l) => Some(l.clone()),
        _ => None,
    };
    view.target_url = side(&plan.target).map(|l| l.url);
    let share = |s: &EndpointSpec| {
        let l = side(s)?;
        let limit = tightest_limit(l.cloud_plan)?;
        // A flat cap over every bucket, or a share of each bucket's own limit.
        let (rpm, percent) = match (l.requests_per_minute, l.cloud_share_percent) {
            (Some(rpm), _) => (
                rpm,
                ((rpm as f64 / limit as f64) * 100.0).round().min(100.0) as u8,
            ),
            (None, Some(p)) => (((limit * u32::from(p.clamp(1, 100))) / 100).max(1), p),
            (None, None) => return None,
        };
        Some(RateShareView {
            plan: l.cloud_plan,
            percent,
            requests_per_minute: rpm,
            plan_limit: limit,
        })
    };
    view.source_share = share(&plan.source);
    view.target_share = share(&plan.target);
    view.langsmith_source = matches!(plan.source, EndpointSpec::Langsmith(_));
    view.langsmith_share = match &plan.source {
        EndpointSpec::Langsmith(l) if l.cloud_limits() => {
            let run_queries = |quotas: Vec<(Bucket, u32, std::time::Duration)>| {
                quotas
                    .into_iter()
                    .find(|(b, ..)| *b == Bucket::LegacyRead)
                    .map_or(0, |(_, n, _)| n)
            };
            let limit = run_queries(migrator_engine::langsmith::source::cloud_quotas());
            let mine = run_queries(migrator_engine::langsmith::source::cloud_quotas_share(
                l.cloud_share_percent,
            ));
            Some(LangsmithShareView {
                percent: l.cloud_share_percent.unwrap_or(100),
                run_queries_per_10s: mine,
                run_query_limit: limit,
            })
        }
        _ => None,
    };
}

/// A Cloud plan's smallest per-minute limit over the buckets a sync uses; `None` off Cloud.
fn tightest_limit(plan: CloudPlan) -> Option<u32> {
    let budget = Budget {
        plan,
        time_scale: 1.0,
        requests_per_minute: None,
        share_percent: None,
    };
    Bucket::ALL
        .iter()
        .filter_map(|b| budget.per_minute(*b))
        .min()
}

/// Caps each Langfuse Cloud side of `plan` at `percent` of each of its plan's bucket limits, and
/// a LangSmith Cloud source at `percent` of each of its limits, so the application keeps the
/// rest of every bucket. Sides off Cloud (no plan set, a self-hosted LangSmith) are left as
/// they are.
fn apply_share(plan: &mut Plan, percent: u8) {
    migrator_engine::live_sync::share_cloud_limits(plan, percent);
}

fn generation(name: Option<&str>) -> Option<Generation> {
    match name? {
        "v2" => Some(Generation::V2),
        "v3" => Some(Generation::V3),
        "v4" => Some(Generation::V4),
        _ => None,
    }
}

/// The poll, settle and lookback a sync of a source of this generation (`v2`, `v3`, `v4` as
/// the pre-flight's connection check names it, or `langsmith`) starts with unless changed.
#[tauri::command]
pub fn sync_defaults(generation: Option<String>) -> SyncTimingView {
    let source = match generation.as_deref() {
        Some("langsmith") => Followed::LangSmith,
        g => Followed::Langfuse(self::generation(g)),
    };
    (&SyncSettings::default().resolve_for(source)).into()
}

/// What the window chose for a new sync.
#[derive(Clone, Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncRequest {
    pub timing: SyncTimingView,
    /// Finish by itself once the source has been quiet this long after the switch (`null`: only
    /// when the user clicks Finish).
    pub drain_secs: Option<f64>,
    /// Share (1–100) of a Langfuse Cloud plan's request limit the sync may take.
    pub rate_share_percent: u8,
}

/// Starts a live sync: the plan's history first, then whatever arrives at the source, until it
/// is cancelled. Returns once the engine has named and journaled the run; progress and each
/// finished pass arrive on `on_event`.
#[tauri::command]
pub async fn start_sync(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    request: PlanRequest,
    sync: SyncRequest,
    expected: HashMap<String, u64>,
    llm_keys: Option<super::llm_keys::LlmKeys>,
    on_event: RunChannel,
) -> Result<RunView> {
    start_live_sync(
        &app,
        &migrations,
        request,
        sync,
        expected,
        llm_keys.unwrap_or_default(),
        on_event,
    )
    .await
}

/// [`start_sync`] without Tauri's state wrappers.
pub async fn start_live_sync(
    app: &Arc<AppState>,
    migrations: &Migrations,
    request: PlanRequest,
    sync: SyncRequest,
    expected: HashMap<String, u64>,
    llm_keys: super::llm_keys::LlmKeys,
    on_event: RunChannel,
) -> Result<RunView> {
    let mut plan = plan_for(app, migrations, &request).await?;
    apply_share(&mut plan, sync.rate_share_percent);
    // A sync from the sample source: the sample application starts writing to it, as the
    // application a real sync follows does.
    let (source, _) = super::request::plan_profiles(&plan);
    if source.is_some_and(|p| p.as_str() == crate::sample::SOURCE_ID)
        && let Some(set) = migrations.sample.lock().await.as_ref()
    {
        set.start_app();
    }
    // Typed LLM connection keys serve this sync's passes, and are kept under the run's id for a
    // resume as a run's are (deleted once the sync ends for good).
    let keys = super::llm_keys::typed(llm_keys);
    if let EndpointSpec::Langfuse(t) = &mut plan.target {
        t.llm_keys.extend(keys.clone());
    }
    let settings = SyncSettings {
        poll_secs: Some(sync.timing.poll_secs),
        settle_secs: Some(sync.timing.settle_secs),
        lookback_secs: Some(sync.timing.lookback_secs),
        until_idle_secs: None,
        drain_secs: sync.drain_secs,
    };
    let mut view = RunView::new(
        String::new(),
        plan.source.describe(),
        plan.target.describe(),
        false,
    );
    describe_sides(&mut view, &plan);
    let mut sync_view = SyncView {
        timing: Some(sync.timing),
        drain_secs: sync.drain_secs,
        ..SyncView::default()
    };
    describe_plan(&mut sync_view, &plan);
    view.sync = Some(sync_view);
    let run = Arc::new(ActiveRun::new(view, Some(on_event), expected));
    let data_dir = migrations.data_dir.clone();
    let key_plan = plan.clone();
    launch_keeping_keys(
        app,
        migrations,
        &key_plan,
        keys,
        run,
        move |sink, control| async move {
            migrator_engine::sync(plan, &data_dir, settings, sink, control).await
        },
    )
    .await
}

/// Finish: the pass under way ends, one last pass copies up to now, the whole window is
/// validated and the run is cut over (the engine does all of it; the view follows).
#[tauri::command]
pub fn finish_sync(migrations: State<'_, Arc<Migrations>>, run_id: String) -> Result<RunView> {
    let run = migrations
        .hub
        .get(&run_id)
        .filter(|r| r.view().live && r.view().sync.is_some())
        .ok_or(MigrationError::NotLive)?;
    run.control.finish();
    // A paused sync would never get to its last pass.
    run.control.resume();
    Ok(run.view())
}

/// Finish for a sync that is not running in this window (the app was restarted, or the sync
/// was stopped): the finish is journaled, then the sync is resumed; it runs one last pass,
/// validates the whole window and is cut over (the engine reads the journaled request). Returns
/// once the engine has taken the run up again; progress arrives on `on_event`.
#[tauri::command]
pub async fn finish_stopped_sync(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    on_event: RunChannel,
) -> Result<RunView> {
    finish_stopped(&app, &migrations, run_id, on_event).await
}

/// [`finish_stopped_sync`] without Tauri's state wrappers.
pub async fn finish_stopped(
    app: &Arc<AppState>,
    migrations: &Migrations,
    run_id: String,
    on_event: RunChannel,
) -> Result<RunView> {
    if migrations.hub.is_live(&run_id) {
        return Err(MigrationError::AlreadyRunning);
    }
    let (dir, id) = (migrations.data_dir.clone(), run_id.clone());
    blocking(move || Ok(migrator_engine::request_finish(&dir, &id)?)).await?;
    super::resume(app, migrations, run_id, None, on_event).await
}

fn set_secret(side: &mut EndpointSpec, secret: Option<secrecy::SecretString>) {
    if let (EndpointSpec::Langfuse(l), Some(s)) = (side, secret) {
        l.secret_key = Some(s);
    }
}

/// Rolling back a switch: copies what the application wrote to the sync's target since the
/// switch back to its source, as a run of its own (journal, validation, rollback), leaving out
/// what the sync carried. Returns once the engine has named it; progress arrives on `on_event`.
#[tauri::command]
pub async fn start_copy_back(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    on_event: RunChannel,
) -> Result<RunView> {
    copy_back(&app, &migrations, run_id, on_event).await
}

/// [`start_copy_back`] without Tauri's state wrappers.
pub async fn copy_back(
    app: &Arc<AppState>,
    migrations: &Migrations,
    run_id: String,
    on_event: RunChannel,
) -> Result<RunView> {
    let secrets = run_secrets(app, migrations, &run_id).await?;
    let (dir, id) = (migrations.data_dir.clone(), run_id.clone());
    let mut plan = blocking(move || Ok(migrator_engine::copy_back_plan(&dir, &id)?)).await?;
    // The sample application's switch was rolled back: all it wrote to the target is before
    // that moment, and what it writes to the source since is not the copy-back's.
    let restored = migrations
        .sample
        .lock()
        .await
        .as_ref()
        .and_then(|set| set.app_restored(&run_id));
    if let Some(at) = restored {
        plan.scope.to = plan.scope.to.min(at);
    }
    // It reads the sync's target and writes to its source: their keys change places too.
    set_secret(&mut plan.source, secrets.target);
    set_secret(&mut plan.target, secrets.source);
    let mut view = RunView::new(
        String::new(),
        plan.source.describe(),
        plan.target.describe(),
        false,
    );
    describe_sides(&mut view, &plan);
    let run = Arc::new(ActiveRun::new(view, Some(on_event), HashMap::new()));
    let data_dir = migrations.data_dir.clone();
    launch(&migrations.hub, run, move |sink, control| async move {
        migrator_engine::run(plan, &data_dir, sink, control, false).await
    })
    .await
}

/// The sync's standing as journaled (`None` for a plain run): read back for Runs, a re-attached
/// window and a resume.
pub fn stored_sync_view(data_dir: &Path, run_id: &str) -> Option<SyncView> {
    let journal = Journal::open(data_dir, run_id).ok()?;
    let status = migrator_engine::live_sync::status::status(&journal, None).ok()??;
    let mut view = SyncView::default();
    view.record_status(&status);
    if let Ok(passes) = migrator_engine::live_sync::status::passes(&journal) {
        let start = passes.len().saturating_sub(RECENT_PASSES);
        view.recent = passes[start..]
            .iter()
            .filter(|p| p.ended_at.is_some())
            .map(SyncPassView::from)
            .collect();
    }
    // The timing the sync was started with (the window always sets all three).
    let timing = journal
        .meta("sync")
        .ok()
        .flatten()
        .and_then(|s| serde_json::from_str::<SyncSettings>(&s).ok())
        .map(|s| s.resolve(None));
    view.timing = timing.as_ref().map(SyncTimingView::from);
    view.drain_secs = timing.and_then(|t| t.drain_secs);
    if let Ok(plan) = journal.plan() {
        describe_plan(&mut view, &plan);
    }
    Some(view)
}

/// Folds the final report's sync standing into the view (the card keeps showing it).
pub fn record_final(view: &mut RunView, status: Option<&SyncStatus>) {
    if let Some(s) = status {
        view.sync
            .get_or_insert_with(SyncView::default)
            .record_status(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(n: u64, copied: u64, lag: f64) -> SyncPass {
        SyncPass {
            pass: n,
            window_from: "2026-11-30T10:00:00.000Z".into(),
            window_to: "2026-11-30T10:01:00.000Z".into(),
            started_at: "2026-11-30T10:01:00.000Z".into(),
            ended_at: Some("2026-11-30T10:01:02.500Z".into()),
            attempts: 1,
            seen: copied + 1,
            copied,
            skipped: 1,
            waiting: 0,
            watermark: Some("2026-11-30T10:01:00.000Z".into()),
            lag_seconds: Some(lag),
        }
    }

    #[test]
    fn a_pass_sets_the_standing_and_its_duration_and_recent_passes_stay_bounded() {
        let mut v = SyncView::default();
        for n in 1..=40 {
            v.record_pass(&pass(n, n * 2, 3.0), (4, 1), &[], None);
        }
        assert_eq!(v.passes, 40);
        assert_eq!(
            (v.waiting, v.waiting_open, v.lag_seconds),
            (4, 1, Some(3.0))
        );
        let last = v.last_pass.unwrap();
        assert_eq!((last.pass, last.copied, last.seconds), (40, 80, Some(2.5)));
        assert_eq!(v.recent.len(), RECENT_PASSES);
        assert_eq!(v.recent.first().unwrap().pass, 11);
    }

    #[test]
    fn a_cloud_side_gets_the_chosen_share_of_its_tightest_limit_and_others_none() {
        let mut plan = Plan::from_toml(
            r#"
[source]
kind = "langfuse"
url = "https://cloud.langfuse.com"
public_key = "pk"
secret_key_env = "SOURCE_SECRET_KEY"
cloud_plan = "hobby"

[target]
kind = "langfuse"
url = "http://127.0.0.1:3000"
public_key = "pk"
secret_key_env = "TARGET_SECRET_KEY"

[scope]
entities = "all"
from = "2020-01-01T00:00:00Z"
to = "2030-01-01T00:00:00Z"
"#,
        )
        .expect("a plan");
        apply_share(&mut plan, 50);
        let mut view = SyncView::default();
        describe_plan(&mut view, &plan);
        // Hobby's tightest limits are 30 requests a minute (public API, legacy reads).
        let share = view.source_share.expect("the Cloud side has a share");
        assert_eq!(
            (share.requests_per_minute, share.plan_limit, share.percent),
            (15, 30, 50)
        );
        assert_eq!(view.target_share, None);
        assert_eq!(view.target_url.as_deref(), Some("http://127.0.0.1:3000"));
        // A share of each bucket, not one cap over all of them.
        let EndpointSpec::Langfuse(source) = &plan.source else {
            panic!("a Langfuse source")
        };
        assert_eq!(
            (source.requests_per_minute, source.cloud_share_percent),
            (None, Some(50))
        );
    }

    #[test]
    fn a_langsmith_cloud_source_gets_the_chosen_share_of_its_run_queries_and_says_so() {
        let mut plan = Plan::from_toml(
            r#"
[source]
kind = "langsmith"
url = "https://api.smith.langchain.com"
api_key_env = "LANGSMITH_API_KEY"

[target]
kind = "langfuse"
url = "http://127.0.0.1:3000"
public_key = "pk"
secret_key_env = "TARGET_SECRET_KEY"
"#,
        )
        .expect("a plan");
        let before = plan.hash();
        apply_share(&mut plan, 40);
        let mut view = SyncView::default();
        describe_plan(&mut view, &plan);
        assert!(view.langsmith_source);
        // LangSmith Cloud allows a key 15 run queries per 10 s; 40 % of them is 6.
        assert_eq!(
            view.langsmith_share,
            Some(LangsmithShareView {
                percent: 40,
                run_queries_per_10s: 6,
                run_query_limit: 15
            })
        );
        assert_eq!(view.source_share, None, "not a Langfuse Cloud plan");
        assert_eq!(plan.hash(), before, "the share is an operating knob");

        let mut own = plan.clone();
        if let EndpointSpec::Langsmith(l) = &mut own.source {
            l.url = "http://127.0.0.1:1984".into();
            l.cloud_share_percent = None;
        }
        apply_share(&mut own, 40);
        let mut view = SyncView::default();
        describe_plan(&mut view, &own);
        assert_eq!(
            view.langsmith_share, None,
            "a self-hosted LangSmith has no published limits"
        );
    }

    #[test]
    fn defaults_come_from_the_sources_generation() {
        let v2 = sync_defaults(Some("v2".into()));
        let v4 = sync_defaults(Some("v4".into()));
        assert!(v4.lookback_secs > v2.lookback_secs);
        assert_eq!(
            sync_defaults(None),
            (&SyncSettings::default().resolve(None)).into()
        );
        let ls = sync_defaults(Some("langsmith".into()));
        assert!(ls.settle_secs > sync_defaults(Some("v3".into())).settle_secs);
    }
}
