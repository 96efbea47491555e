//! The streaming pipeline of one entity: reader → classification against the journal → batching
//! by bytes → concurrent writers → verification of writes whose outcome is unknown.
//!
//! Memory stays flat: the reader runs at most two pages ahead (bounded channel), at most
//! `2 × concurrency` batches are in flight, and nothing else holds records except the (small)
//! list of writes waiting to be verified.

use crate::connectors::TargetPromptVersion;
use crate::connectors::langfuse::experiments::{ExperimentIndex, Settled};
use crate::connectors::{Page, SourceConnector, TargetConnector, WriteOutcome};
use crate::run::control::RunControl;
use crate::run::journal::{Journal, ObjectState, RowUpdate};
use crate::run::plan::{OnExisting, Plan};
use crate::run::progress::{ProgressEvent, ProgressSink};
use crate::run::prompt_identity::{PromptMatcher, target_key};
use crate::vocab::bytes::human_bytes;
use crate::vocab::{Counters, Dialect, EngineError, Entity, Record, natural_key};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

/// Everything a phase needs.
pub struct Ctx {
    /// Names the run in logs and events.
    pub run_id: String,
    pub plan: Plan,
    pub journal: Arc<Journal>,
    pub source: Arc<dyn SourceConnector>,
    pub target: Arc<dyn TargetConnector>,
    /// The dialect of the source's payloads.
    pub source_dialect: Dialect,
    pub counters: Arc<Counters>,
    pub sink: Arc<dyn ProgressSink>,
    pub control: RunControl,
    pub dry_run: bool,
    /// Run items that ride on root spans (a v4 target with run items in scope; see `experiments`).
    pub experiments: std::sync::OnceLock<ExperimentIndex>,
    /// Copies the media a batch refers to before it is written (`None`: media not in scope, or
    /// a side without media).
    pub media: Option<crate::run::media_copy::MediaCopier>,
}

/// Tracks which pages of a stream are fully handled, to move the checkpoint safely.
struct PageTracker {
    stream: String,
    pages: Mutex<BTreeMap<u64, (usize, Option<String>)>>,
}

impl PageTracker {
    fn new(stream: &str) -> Self {
        Self {
            stream: stream.to_string(),
            pages: Mutex::new(BTreeMap::new()),
        }
    }

    fn add_page(&self, seq: u64, count: usize, next: Option<String>) {
        self.pages
            .lock()
            .expect("tracker")
            .insert(seq, (count, next));
    }

    /// Marks `n` objects of page `seq` handled and persists the checkpoint if it moved.
    fn done(&self, journal: &Journal, seq: u64, n: usize) -> Result<(), EngineError> {
        if n == 0 {
            return self.advance(journal);
        }
        {
            let mut p = self.pages.lock().expect("tracker");
            if let Some(e) = p.get_mut(&seq) {
                e.0 = e.0.saturating_sub(n);
            }
        }
        self.advance(journal)
    }

    fn advance(&self, journal: &Journal) -> Result<(), EngineError> {
        let mut moved: Option<Option<String>> = None;
        {
            let mut p = self.pages.lock().expect("tracker");
            while let Some((&seq, (remaining, _))) = p.iter().next() {
                if *remaining > 0 {
                    break;
                }
                let (_, next) = p.remove(&seq).expect("present");
                moved = Some(next);
            }
        }
        if let Some(next) = moved {
            journal.set_checkpoint(&self.stream, next.as_deref(), next.is_none())?;
        }
        Ok(())
    }
}

/// A batch being filled.
#[derive(Default)]
struct Batch {
    items: Vec<(u64, Record)>,
    bytes: usize,
}

/// Copies one entity: lists what the target holds, streams the source's pages through
/// classification into batches and writers, then settles unknown outcomes (and, for prompts,
/// applies the labels once every version exists).
pub async fn run_entity(ctx: Arc<Ctx>, entity: Entity) -> Result<(), EngineError> {
    let stream = entity.as_str().to_string();
    let (checkpoint, done) = ctx.journal.checkpoint(&stream)?;
    // Prompts are always read in full: their labels are applied after every version exists.
    let always_full = entity == Entity::Prompts;
    if done && !always_full {
        return Ok(());
    }
    ctx.sink.emit(ProgressEvent::PhaseStarted { entity });
    // The total, where the source can count cheaply, gives the UI an ETA.
    if let Ok(Some(n)) = ctx.source.count(entity, &ctx.plan.scope).await {
        ctx.counters.set_expected(entity, n);
    }
    load_existing(&ctx, entity).await?;
    let start_cursor = if always_full { None } else { checkpoint };

    let mut phase = Phase::new(ctx.clone(), entity, &stream)?;
    let (reader, mut pages) = spawn_reader(&ctx, entity, start_cursor);
    let mut stop: Option<EngineError> = None;
    while let Some((seq, page)) = pages.recv().await {
        stop = phase.handle_page(seq, page).await?;
        if stop.is_some() {
            break;
        }
    }
    drop(pages);
    phase.finish(reader, stop).await
}

/// The task that reads a phase's pages.
type Reader = tokio::task::JoinHandle<Result<(), EngineError>>;

/// Reads the source's pages in a task of their own, at most two ahead of classification.
fn spawn_reader(
    ctx: &Arc<Ctx>,
    entity: Entity,
    start_cursor: Option<String>,
) -> (Reader, mpsc::Receiver<(u64, Page)>) {
    let (tx, rx) = mpsc::channel::<(u64, Page)>(2);
    let ctx = ctx.clone();
    let reader = tokio::spawn(async move {
        let mut cursor = start_cursor;
        let mut seq = 0u64;
        loop {
            if !ctx.control.proceed().await {
                return Ok::<(), EngineError>(());
            }
            let page = ctx
                .source
                .read_page(entity, &ctx.plan.scope, cursor.clone())
                .await?;
            let next = page.next.clone();
            if tx.send((seq, page)).await.is_err() {
                return Ok(());
            }
            seq += 1;
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    });
    (reader, rx)
}

/// What classification decided for the objects of one page, journaled together.
#[derive(Default)]
struct PageOutcome {
    /// Objects of the page that are final now (the rest are in batches or being verified).
    handled: usize,
    skipped: Vec<(String, Option<String>)>,
    pending: Vec<String>,
    failed: Vec<(String, String)>,
    confirmed: Vec<String>,
    /// Same id (or name), other content in the target: left as it is.
    conflicts: Vec<(String, String)>,
    /// Prompt versions whose write had an unknown outcome, found in the target by content.
    arrived_prompts: Vec<(String, String)>,
}

/// A prompt page is one prompt's versions, matched by content with the target's.
#[derive(Default)]
struct PromptPage {
    matches: HashMap<String, TargetPromptVersion>,
    /// Why versions without a match are conflicts (the target holds versions the source lacks).
    conflict: Option<String>,
}

/// Matches a prompt page's unsettled versions by content with the target's versions of that
/// prompt; versions the target holds that match none make the unmatched ones conflicts.
async fn prompt_page(
    ctx: &Ctx,
    page: &Page,
    states: &HashMap<String, (ObjectState, Option<String>)>,
) -> Result<PromptPage, EngineError> {
    let mut out = PromptPage::default();
    let Some(name) = page.records.first().and_then(|r| r.body.str("name")) else {
        return Ok(out);
    };
    let mut m = PromptMatcher::load(ctx.target.as_ref(), &ctx.journal, &name).await?;
    for r in &page.records {
        if states.get(&r.id).is_some_and(|s| s.0.is_final()) {
            continue;
        }
        if let Some(v) = m.take(&r.body) {
            out.matches.insert(r.id.clone(), v);
        }
    }
    let foreign = m.foreign();
    if !foreign.is_empty() {
        out.conflict = Some(m.conflict_reason(&foreign));
    }
    Ok(out)
}

/// One entity's phase while its pages stream in: the batch being filled, the writers in flight,
/// the writes waiting to be verified.
struct Phase {
    ctx: Arc<Ctx>,
    entity: Entity,
    tracker: Arc<PageTracker>,
    verify: Arc<Mutex<Vec<(u64, Record)>>>,
    in_flight: Arc<Semaphore>,
    writers: JoinSet<Result<(), EngineError>>,
    max_bytes: usize,
    /// One object larger than a batch goes alone; only the target's own limit refuses it.
    max_object: Option<usize>,
    max_items: usize,
    batch: Batch,
    /// Prompt versions' labels, applied once every version exists.
    labels: Vec<(String, Vec<String>)>,
    /// A phase that starts with no rows reads every object once: no per-object lookups needed.
    lookup_states: bool,
    lookup_existing: bool,
}

impl Phase {
    fn new(ctx: Arc<Ctx>, entity: Entity, stream: &str) -> Result<Self, EngineError> {
        let concurrency = ctx.plan.options.concurrency.max(1);
        // Prompt versions are numbered by the target in arrival order: one at a time, oldest
        // first. One batch being filled per writer plus one ready to go keeps writers busy and
        // memory flat.
        let in_flight = Arc::new(Semaphore::new(if entity == Entity::Prompts {
            1
        } else {
            concurrency + 1
        }));
        let max_bytes = ctx
            .plan
            .options
            .batch_bytes
            .min(ctx.target.max_batch_bytes(entity));
        let max_items = ctx
            .target
            .max_batch_items(entity)
            .min(ctx.plan.options.batch_items.max(1));
        let max_object = ctx.target.max_object_bytes(entity);
        Ok(Phase {
            lookup_states: ctx.journal.has_rows(entity)?,
            lookup_existing: ctx.journal.has_target_existing(entity)?,
            ctx,
            entity,
            tracker: Arc::new(PageTracker::new(stream)),
            verify: Arc::default(),
            in_flight,
            writers: JoinSet::new(),
            max_bytes,
            max_object,
            max_items,
            batch: Batch::default(),
            labels: vec![],
        })
    }

    /// Classifies one page's objects and journals what was decided. Returns why the run must
    /// stop, if it must.
    async fn handle_page(
        &mut self,
        seq: u64,
        page: Page,
    ) -> Result<Option<EngineError>, EngineError> {
        let (ctx, entity) = (self.ctx.clone(), self.entity);
        let n = page.records.len();
        ctx.counters.add_read(entity, n as u64);
        self.tracker.add_page(seq, n, page.next.clone());
        crate::run::remarks::record(&ctx.journal, &page.records)?;
        let states = if self.lookup_states {
            let ids: Vec<&str> = page.records.iter().map(|r| r.id.as_str()).collect();
            ctx.journal.states(entity, &ids)?
        } else {
            Default::default()
        };
        let prompts = if entity == Entity::Prompts {
            prompt_page(&ctx, &page, &states).await?
        } else {
            PromptPage::default()
        };
        let mut out = PageOutcome::default();
        let mut stop = None;
        for r in page.records {
            if entity == Entity::Prompts {
                let l: Vec<String> = r
                    .body
                    .get("labels")
                    .and_then(|v| serde_json::from_str(v.get()).ok())
                    .unwrap_or_default();
                self.labels.push((r.id.clone(), l));
            }
            match states.get(&r.id).map(|s| s.0) {
                Some(s) if s.is_final() => out.handled += 1,
                // A version whose write had an unknown outcome, found in the target by content.
                Some(ObjectState::Sent) if prompts.matches.contains_key(&r.id) && !ctx.dry_run => {
                    let v = &prompts.matches[&r.id];
                    let name = r.body.str("name").unwrap_or_default();
                    if let (Some(src), Some(obj)) = (r.body.str("id"), &v.object_id) {
                        ctx.journal.map_id(entity, &src, obj)?;
                    }
                    out.arrived_prompts
                        .push((r.id.clone(), target_key(&name, v.version)));
                    out.handled += 1;
                }
                // What the source could not read fails on its own.
                _ if r.failure.is_some() => {
                    out.failed
                        .push((r.id.clone(), r.failure.clone().unwrap_or_default()));
                    out.handled += 1;
                }
                // Mapped like a first send: a re-send must carry the same references.
                Some(ObjectState::Sent) if !ctx.dry_run => self
                    .verify
                    .lock()
                    .expect("verify")
                    .push((seq, map_references(&ctx, r)?)),
                _ => {
                    stop = self
                        .admit(seq, map_references(&ctx, r)?, &prompts, &mut out)
                        .await?;
                    if stop.is_some() {
                        break;
                    }
                }
            }
        }
        self.journal_outcome(&out)?;
        self.tracker.done(&ctx.journal, seq, out.handled)?;
        if stop.is_none() {
            // Drain finished writers so their errors surface early.
            while let Some(res) = self.writers.try_join_next() {
                res.map_err(|e| EngineError::Journal(e.to_string()))??;
            }
        }
        Ok(stop)
    }

    /// An object the journal has not settled: already in the target (skipped, or the run
    /// stops), a run item that rode on its trace, a dry run's would-be write, too big, or into
    /// the batch.
    async fn admit(
        &mut self,
        seq: u64,
        r: Record,
        prompts: &PromptPage,
        out: &mut PageOutcome,
    ) -> Result<Option<EngineError>, EngineError> {
        let (ctx, entity) = (self.ctx.clone(), self.entity);
        let existing = if entity == Entity::Prompts {
            match prompts.matches.get(&r.id) {
                Some(v) => {
                    let name = r.body.str("name").unwrap_or_default();
                    if let (Some(src), Some(obj)) = (r.body.str("id"), &v.object_id) {
                        ctx.journal.map_id(entity, &src, obj)?;
                    }
                    Some((r.id.clone(), Some(target_key(&name, v.version))))
                }
                None => {
                    if let Some(reason) = &prompts.conflict {
                        out.conflicts.push((r.id.clone(), reason.clone()));
                        out.handled += 1;
                        return Ok(None);
                    }
                    None
                }
            }
        } else if self.lookup_existing {
            let key = natural_key(entity, &r.body).unwrap_or_else(|| r.id.clone());
            ctx.journal.preexisting(entity, &key)?.map(|t| (key, t))
        } else {
            None
        };
        // On v4 a run item was written with its trace's root span, or cannot be.
        if entity == Entity::DatasetRunItems
            && let Some(ix) = ctx.experiments.get()
            && let Some(settled) =
                ix.settle(&r, ctx.source_dialect, &*ctx.journal, existing.is_some())?
        {
            match settled {
                Settled::Written => out.confirmed.push(r.id.clone()),
                Settled::Pending => out.pending.push(r.id.clone()),
                Settled::Failed(reason) => out.failed.push((r.id.clone(), reason)),
                // Written like any object: journaled as sent first, looked up on a resume.
                Settled::OwnSpan => return self.enqueue(seq, r, out).await,
            }
            out.handled += 1;
            return Ok(None);
        }
        if let Some((key, target_id)) = existing {
            if ctx.plan.options.on_existing == OnExisting::Stop {
                return Ok(Some(EngineError::Stopped(format!(
                    "{entity} \"{key}\" already exists in the target and the plan says to stop"
                ))));
            }
            out.skipped.push((r.id.clone(), target_id));
            out.handled += 1;
        } else if ctx.dry_run {
            out.pending.push(r.id.clone());
            out.handled += 1;
        } else {
            return self.enqueue(seq, r, out).await;
        }
        Ok(None)
    }

    /// Puts an object into the batch being filled (sending the batch first when it is full),
    /// or fails it when it is too big for one request.
    async fn enqueue(
        &mut self,
        seq: u64,
        r: Record,
        out: &mut PageOutcome,
    ) -> Result<Option<EngineError>, EngineError> {
        let size = self.ctx.target.wire_len(self.entity, &r);
        if let Some(limit) = self.max_object.filter(|m| size > *m) {
            out.failed.push((
                r.id.clone(),
                format!(
                    "it is {} as sent, more than the {} one request to the target may carry",
                    human_bytes(size),
                    human_bytes(limit)
                ),
            ));
            out.handled += 1;
            return Ok(None);
        }
        if !self.batch.items.is_empty()
            && (self.batch.bytes + size > self.max_bytes
                || self.batch.items.len() >= self.max_items)
        {
            self.send_batch().await;
        }
        self.batch.bytes += size;
        self.batch.items.push((seq, r));
        Ok(None)
    }

    /// Hands the batch being filled to a writer (waiting while too many are in flight).
    async fn send_batch(&mut self) {
        let full = std::mem::take(&mut self.batch);
        spawn_writer(
            &self.ctx,
            self.entity,
            full.items,
            &self.tracker,
            &self.verify,
            &self.in_flight,
            &mut self.writers,
        )
        .await;
    }

    /// Journals the page's skipped, pending, confirmed and failed objects.
    fn journal_outcome(&self, out: &PageOutcome) -> Result<(), EngineError> {
        let (ctx, entity) = (&self.ctx, self.entity);
        if !out.skipped.is_empty() {
            let rows: Vec<RowUpdate> = out
                .skipped
                .iter()
                .map(|(id, t)| RowUpdate {
                    source_id: id,
                    target_id: t.as_deref(),
                    content_hash: None,
                    reason: Some("it already existed in the target"),
                })
                .collect();
            ctx.journal
                .mark(entity, ObjectState::SkippedExisting, &rows)?;
            ctx.counters.add_skipped(entity, rows.len() as u64);
        }
        if !out.pending.is_empty() {
            ctx.journal
                .mark(entity, ObjectState::Pending, &plain_rows(&out.pending))?;
        }
        if !out.conflicts.is_empty() && !ctx.dry_run {
            let rows: Vec<RowUpdate> = out
                .conflicts
                .iter()
                .map(|(id, reason)| RowUpdate {
                    source_id: id,
                    target_id: None,
                    content_hash: None,
                    reason: Some(reason),
                })
                .collect();
            ctx.journal.mark(entity, ObjectState::Conflict, &rows)?;
        }
        if !out.arrived_prompts.is_empty() {
            let rows: Vec<RowUpdate> = out
                .arrived_prompts
                .iter()
                .map(|(id, t)| RowUpdate {
                    source_id: id,
                    target_id: Some(t),
                    content_hash: None,
                    reason: None,
                })
                .collect();
            ctx.journal.mark(entity, ObjectState::Confirmed, &rows)?;
            ctx.counters.add_written(entity, rows.len() as u64);
        }
        if !out.confirmed.is_empty() {
            ctx.journal
                .mark(entity, ObjectState::Confirmed, &plain_rows(&out.confirmed))?;
            ctx.counters.add_written(entity, out.confirmed.len() as u64);
        }
        if !out.failed.is_empty() {
            mark_failed(ctx, entity, &out.failed)?;
        }
        Ok(())
    }

    /// Sends the last batch, waits for the writers and the reader, settles unknown outcomes and
    /// applies prompt labels. With `stop`, ends the phase with that error instead.
    async fn finish(
        mut self,
        reader: Reader,
        stop: Option<EngineError>,
    ) -> Result<(), EngineError> {
        if !self.batch.items.is_empty() && stop.is_none() {
            self.send_batch().await;
        }
        while let Some(res) = self.writers.join_next().await {
            res.map_err(|e| EngineError::Journal(e.to_string()))??;
        }
        if let Some(e) = stop {
            reader.abort();
            return Err(e);
        }
        reader
            .await
            .map_err(|e| EngineError::Journal(e.to_string()))??;
        let ctx = &self.ctx;
        verify_unknown(ctx, self.entity, &self.tracker, &self.verify).await?;
        if self.entity == Entity::Prompts && !ctx.dry_run && !ctx.control.is_cancelled() {
            apply_labels(ctx, self.labels).await?;
        }
        Ok(())
    }
}

/// Row updates that change only the state.
fn plain_rows(ids: &[String]) -> Vec<RowUpdate<'_>> {
    ids.iter()
        .map(|id| RowUpdate {
            source_id: id,
            target_id: None,
            content_hash: None,
            reason: None,
        })
        .collect()
}

/// Lists what the target already holds, once per run and entity.
async fn load_existing(ctx: &Ctx, entity: Entity) -> Result<(), EngineError> {
    let stream = format!("existing:{}", entity.as_str());
    let (mut cursor, done) = ctx.journal.checkpoint(&stream)?;
    if done {
        return Ok(());
    }
    loop {
        let (keys, next) = ctx
            .target
            .existing_keys_page(entity, &ctx.plan.scope, cursor.clone())
            .await?;
        ctx.journal.add_target_existing(entity, &keys)?;
        ctx.journal
            .set_checkpoint(&stream, next.as_deref(), next.is_none())?;
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// Rewrites references to objects whose ids the target assigned (score → score config,
/// comment → prompt version) and puts run items on their root spans (v4 target).
fn map_references(ctx: &Ctx, mut r: Record) -> Result<Record, EngineError> {
    use crate::connectors::langfuse::experiments::{self, CarrierPlace, place_key};
    if let Some(ix) = ctx.experiments.get() {
        if matches!(r.entity, Entity::Traces | Entity::Observations) {
            if let Some(a) = ix.attrs_for(r.entity, &r.id) {
                r.body.set(experiments::BODY_KEY, a);
            }
            // The items beside this one get spans of their own at its place.
            if ix.is_shared(r.entity, &r.id) {
                let place = serde_json::to_string(&CarrierPlace::of(&r))
                    .map_err(|e| EngineError::Journal(e.to_string()))?;
                ctx.journal
                    .set_meta(&place_key(&(r.entity, r.id.clone())), &place)?;
            }
        }
        if r.entity == Entity::DatasetRunItems
            && let Some(carrier) = ix.extra_carrier(&r, ctx.source_dialect)
        {
            let place: CarrierPlace = ctx
                .journal
                .meta(&place_key(&carrier))?
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            if let Some(span) = ix.item_span(&r, ctx.source_dialect, &place) {
                r.body.set(experiments::ITEM_SPAN_KEY, &span);
            }
        }
    }
    if r.entity == Entity::Comments
        && r.body.str("objectType").as_deref() == Some("PROMPT")
        && let Some(id) = r.body.str("objectId")
        && let Some(t) = ctx.journal.mapped_id(Entity::Prompts, &id)?
    {
        r.body.set("objectId", &t);
    }
    if r.entity == Entity::AnnotationQueues
        && let Some(v) = r.body.get("scoreConfigIds")
    {
        let source: Vec<String> = serde_json::from_str(v.get()).unwrap_or_default();
        let mut target = Vec::with_capacity(source.len());
        for id in source {
            target.push(
                ctx.journal
                    .target_id(Entity::ScoreConfigs, &id)?
                    .unwrap_or(id),
            );
        }
        r.body.set("scoreConfigIds", &target);
    }
    if r.entity == Entity::AnnotationQueueItems
        && let Some(queue) = r.body.str("queueId")
        && let Some(t) = ctx.journal.target_id(Entity::AnnotationQueues, &queue)?
    {
        r.body.set(
            crate::connectors::langfuse::annotation_queues::TARGET_QUEUE_ID,
            &t,
        );
    }
    if r.entity == Entity::EvaluationRules {
        map_rule_references(ctx, &mut r)?;
    }
    if r.entity == Entity::Dashboards {
        map_dashboard_widgets(ctx, &mut r)?;
    }
    if r.entity == Entity::Scores
        && let Some(cfg) = r.body.str("configId")
        && let Some(t) = ctx.journal.target_id(Entity::ScoreConfigs, &cfg)?
    {
        r.body.set("configId", &t);
    }
    Ok(r)
}

fn mark_failed(ctx: &Ctx, entity: Entity, failed: &[(String, String)]) -> Result<(), EngineError> {
    let rows: Vec<RowUpdate> = failed
        .iter()
        .map(|(id, reason)| RowUpdate {
            source_id: id,
            target_id: None,
            content_hash: None,
            reason: Some(reason),
        })
        .collect();
    ctx.journal.mark(entity, ObjectState::Failed, &rows)?;
    ctx.counters.add_failed(entity, rows.len() as u64);
    for (id, reason) in failed.iter().take(20) {
        ctx.sink.emit(ProgressEvent::ObjectFailed {
            entity,
            id: id.clone(),
            reason: reason.clone(),
        });
    }
    Ok(())
}

async fn spawn_writer(
    ctx: &Arc<Ctx>,
    entity: Entity,
    items: Vec<(u64, Record)>,
    tracker: &Arc<PageTracker>,
    verify: &Arc<Mutex<Vec<(u64, Record)>>>,
    in_flight: &Arc<Semaphore>,
    writers: &mut JoinSet<Result<(), EngineError>>,
) {
    let permit = in_flight
        .clone()
        .acquire_owned()
        .await
        .expect("semaphore open");
    let (ctx, tracker, verify) = (ctx.clone(), tracker.clone(), verify.clone());
    writers.spawn(async move {
        let _permit = permit;
        write_items(&ctx, entity, items, &tracker, &verify).await
    });
}

/// Sends items until each is confirmed, failed, or handed to verification.
async fn write_items(
    ctx: &Ctx,
    entity: Entity,
    items: Vec<(u64, Record)>,
    tracker: &PageTracker,
    verify: &Mutex<Vec<(u64, Record)>>,
) -> Result<(), EngineError> {
    let mut items = items;
    // Media first, so a reference the target renames is rewritten before the object is sent.
    if let Some(media) = &ctx.media
        && !ctx.dry_run
    {
        media
            .carry(items.iter_mut().map(|(_, r)| r).collect())
            .await?;
    }
    // Journal first: a crash from here on finds the rows `sent` and checks the target.
    journal_sent(ctx, entity, &items)?;
    let mut pending = items;
    let mut round = 0u32;
    loop {
        if !ctx.control.proceed().await {
            // Cancelled before sending: the rows stay `sent` and are checked on resume.
            return Ok(());
        }
        let (seqs, records): (Vec<u64>, Vec<Record>) = pending.into_iter().unzip();
        let outcomes = ctx
            .target
            .write_batch(entity, &records, ctx.source_dialect)
            .await;
        let unsettled = maybe_applied(&records, &outcomes);
        if !unsettled.is_empty() {
            ctx.journal.mark_unsettled(entity, &unsettled)?;
        }
        let mut sorted = Sorted::default();
        for (item, outcome) in seqs.into_iter().zip(records).zip(outcomes) {
            sorted.add(ctx, entity, item, outcome, round, verify)?;
        }
        let mut again = sorted.journal(ctx, entity, tracker)?;
        if !sorted.unknown_now.is_empty() {
            again.extend(settle_now(ctx, entity, tracker, sorted.unknown_now).await?);
        }
        pending = again;
        if pending.is_empty() {
            return Ok(());
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(round.min(6)))).await;
    }
}

/// Marks items `sent`, with their content hashes, in one transaction.
fn journal_sent(ctx: &Ctx, entity: Entity, items: &[(u64, Record)]) -> Result<(), EngineError> {
    let hashes: Vec<String> = items.iter().map(|(_, r)| r.content_hash()).collect();
    let rows: Vec<RowUpdate> = items
        .iter()
        .zip(&hashes)
        .map(|((_, r), h)| RowUpdate {
            source_id: &r.id,
            target_id: None,
            content_hash: Some(h),
            reason: None,
        })
        .collect();
    ctx.journal.mark(entity, ObjectState::Sent, &rows)
}

/// The outcomes of one write, sorted by what happens next.
#[derive(Default)]
struct Sorted {
    confirmed: Vec<(String, Option<String>)>,
    failed: Vec<(String, String)>,
    /// To send again after a pause.
    again: Vec<(u64, Record)>,
    /// Prompt versions whose outcome is unknown: settled before anything else is sent.
    unknown_now: Vec<(u64, Record)>,
    /// Objects that became final, per page.
    per_page: BTreeMap<u64, usize>,
}

impl Sorted {
    fn add(
        &mut self,
        ctx: &Ctx,
        entity: Entity,
        item: (u64, Record),
        outcome: WriteOutcome,
        round: u32,
        verify: &Mutex<Vec<(u64, Record)>>,
    ) -> Result<(), EngineError> {
        match outcome {
            WriteOutcome::Written {
                target_id,
                object_id,
                warning,
            } => {
                *self.per_page.entry(item.0).or_default() += 1;
                if let Some(w) = warning {
                    // Kept in the journal so the run report lists it, also after a resume.
                    ctx.journal.log(crate::journal::WARNING, &w)?;
                    ctx.sink.emit(ProgressEvent::Warning { message: w });
                }
                if let (Some(obj), Some(src)) = (object_id, item.1.body.str("id")) {
                    ctx.journal.map_id(entity, &src, &obj)?;
                }
                self.confirmed.push((item.1.id, target_id));
            }
            WriteOutcome::Failed(reason) => {
                *self.per_page.entry(item.0).or_default() += 1;
                self.failed.push((item.1.id, reason));
            }
            // Prompt versions must arrive in order: settle an unknown outcome right away.
            WriteOutcome::Unknown(_) if entity == Entity::Prompts => self.unknown_now.push(item),
            WriteOutcome::Unknown(_) => verify.lock().expect("verify").push(item),
            WriteOutcome::Retry(reason) if round >= 5 => {
                *self.per_page.entry(item.0).or_default() += 1;
                self.failed.push((item.1.id, reason));
            }
            WriteOutcome::Retry(_) => self.again.push(item),
        }
        Ok(())
    }

    /// Journals the confirmed and failed objects, moves the checkpoints, and returns what is
    /// to be sent again.
    fn journal(
        &mut self,
        ctx: &Ctx,
        entity: Entity,
        tracker: &PageTracker,
    ) -> Result<Vec<(u64, Record)>, EngineError> {
        if !self.confirmed.is_empty() {
            let rows: Vec<RowUpdate> = self
                .confirmed
                .iter()
                .map(|(id, t)| RowUpdate {
                    source_id: id,
                    target_id: t.as_deref(),
                    content_hash: None,
                    reason: None,
                })
                .collect();
            ctx.journal.mark(entity, ObjectState::Confirmed, &rows)?;
            ctx.counters.add_written(entity, rows.len() as u64);
        }
        if !self.failed.is_empty() {
            mark_failed(ctx, entity, &self.failed)?;
        }
        for (&seq, &n) in &self.per_page {
            tracker.done(&ctx.journal, seq, n)?;
        }
        Ok(std::mem::take(&mut self.again))
    }
}

/// Looks up writes with an unknown outcome after the target's visibility delay: confirms what
/// arrived and returns the rest, to be sent again.
async fn settle_now(
    ctx: &Ctx,
    entity: Entity,
    tracker: &PageTracker,
    unknown: Vec<(u64, Record)>,
) -> Result<Vec<(u64, Record)>, EngineError> {
    tokio::time::sleep(Duration::from_millis(ctx.plan.options.visibility_wait_ms)).await;
    let records: Vec<Record> = unknown.iter().map(|(_, r)| r.clone()).collect();
    let present = arrived(ctx, entity, &records).await?;
    let mut again = vec![];
    for item in unknown {
        if let Some(target) = present.get(&item.1.id) {
            let row = [RowUpdate {
                source_id: &item.1.id,
                target_id: Some(target.as_deref().unwrap_or(&item.1.id)),
                content_hash: None,
                reason: None,
            }];
            ctx.journal.mark(entity, ObjectState::Confirmed, &row)?;
            ctx.counters.add_written(entity, 1);
            tracker.done(&ctx.journal, item.0, 1)?;
        } else {
            again.push(item);
        }
    }
    Ok(again)
}

/// Objects whose write may have applied without our knowing: unknown outcomes, and transient
/// failures (a server can fail after applying a write).
fn maybe_applied<'a>(records: &'a [Record], outcomes: &[WriteOutcome]) -> Vec<&'a str> {
    records
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| matches!(o, WriteOutcome::Unknown(_) | WriteOutcome::Retry(_)))
        .map(|(r, _)| r.id.as_str())
        .collect()
}

/// Objects whose write had an unknown outcome: wait until the target shows writes, look them up,
/// confirm what arrived and send the rest again.
async fn verify_unknown(
    ctx: &Ctx,
    entity: Entity,
    tracker: &PageTracker,
    verify: &Mutex<Vec<(u64, Record)>>,
) -> Result<(), EngineError> {
    // An object must be missing in two checks a visibility delay apart before it is sent
    // again: a slow target must not turn a write that did arrive into a duplicate.
    let mut missed_once: std::collections::HashSet<String> = Default::default();
    for _round in 0..8 {
        let items: Vec<(u64, Record)> = std::mem::take(&mut *verify.lock().expect("verify"));
        if items.is_empty() || ctx.control.is_cancelled() {
            if !items.is_empty() {
                verify.lock().expect("verify").extend(items);
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(ctx.plan.options.visibility_wait_ms)).await;
        let records: Vec<Record> = items.iter().map(|(_, r)| r.clone()).collect();
        let present = arrived(ctx, entity, &records).await?;
        let (arrived, missing): (Vec<_>, Vec<_>) = items
            .into_iter()
            .partition(|(_, r)| present.contains_key(&r.id));
        if !arrived.is_empty() {
            let rows: Vec<RowUpdate> = arrived
                .iter()
                .map(|(_, r)| RowUpdate {
                    source_id: &r.id,
                    target_id: present.get(&r.id).and_then(|t| t.as_deref()),
                    content_hash: None,
                    reason: None,
                })
                .collect();
            ctx.journal.mark(entity, ObjectState::Confirmed, &rows)?;
            ctx.counters.add_written(entity, rows.len() as u64);
            let mut per_page: BTreeMap<u64, usize> = BTreeMap::new();
            for (seq, _) in &arrived {
                *per_page.entry(*seq).or_default() += 1;
            }
            for (seq, n) in per_page {
                tracker.done(&ctx.journal, seq, n)?;
            }
        }
        let (resend, recheck): (Vec<_>, Vec<_>) = missing
            .into_iter()
            .partition(|(_, r)| missed_once.contains(&r.id));
        for (_, r) in &recheck {
            missed_once.insert(r.id.clone());
        }
        verify.lock().expect("verify").extend(recheck);
        for chunk in resend.chunks(ctx.target.max_batch_items(entity).max(1)) {
            for (_, r) in chunk {
                missed_once.remove(&r.id);
            }
            write_items(ctx, entity, chunk.to_vec(), tracker, verify).await?;
        }
    }
    let left: Vec<(u64, Record)> = std::mem::take(&mut *verify.lock().expect("verify"));
    if !left.is_empty() {
        // They may still arrive: rollback looks them up.
        let ids: Vec<&str> = left.iter().map(|(_, r)| r.id.as_str()).collect();
        ctx.journal.mark_unsettled(entity, &ids)?;
        let failed: Vec<(String, String)> = left
            .iter()
            .map(|(_, r)| {
                (
                    r.id.clone(),
                    "its write could not be confirmed after several checks".to_string(),
                )
            })
            .collect();
        mark_failed(ctx, entity, &failed)?;
    }
    Ok(())
}

/// Of these records, the ones the target shows, with the target's id where it is known.
///
/// Comments are found by what they say and where: two identical comments on one object share
/// that key, so each target comment is claimed by one record only, and comments the journal
/// already holds (written or there before) are claimed already.
async fn arrived(
    ctx: &Ctx,
    entity: Entity,
    records: &[Record],
) -> Result<std::collections::HashMap<String, Option<String>>, EngineError> {
    if entity == Entity::Prompts {
        // By content: the number the target gave a version need not be the source's.
        let mut out = std::collections::HashMap::new();
        let mut names: Vec<String> = records.iter().filter_map(|r| r.body.str("name")).collect();
        names.dedup();
        for name in names {
            let mut m = PromptMatcher::load(ctx.target.as_ref(), &ctx.journal, &name).await?;
            for r in records
                .iter()
                .filter(|r| r.body.str("name").as_deref() == Some(&name))
            {
                if let Some(v) = m.take(&r.body) {
                    if let (Some(src), Some(obj)) = (r.body.str("id"), &v.object_id) {
                        ctx.journal.map_id(entity, &src, obj)?;
                    }
                    out.insert(r.id.clone(), Some(target_key(&name, v.version)));
                }
            }
        }
        return Ok(out);
    }
    if entity != Entity::Comments {
        let found = ctx.target.which_exist(entity, records).await?;
        return Ok(found.into_iter().map(|id| (id, None)).collect());
    }
    let mut claimed: std::collections::HashSet<String> = ctx
        .journal
        .rows_where(Some(entity), Some(ObjectState::Confirmed))?
        .into_iter()
        .filter_map(|r| r.target_id)
        .collect();
    claimed.extend(ctx.journal.preexisting_target_ids(entity)?);
    let mut by_key: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut cursor = None;
    loop {
        let (keys, next) = ctx
            .target
            .existing_keys_page(entity, &ctx.plan.scope, cursor)
            .await?;
        for k in keys {
            if let Some(t) = k.target_id.filter(|t| !claimed.contains(t)) {
                by_key.entry(k.key).or_default().push(t);
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut out = std::collections::HashMap::new();
    for r in records {
        if let Some(t) = natural_key(entity, &r.body)
            .and_then(|k| by_key.get_mut(&k))
            .and_then(|ids| ids.pop())
        {
            out.insert(r.id.clone(), Some(t));
        }
    }
    Ok(out)
}

/// Applies prompt labels once every version exists (labels name exactly one version each).
async fn apply_labels(ctx: &Ctx, labels: Vec<(String, Vec<String>)>) -> Result<(), EngineError> {
    let created: std::collections::HashMap<String, Option<String>> = ctx
        .journal
        .rows_in_state(Entity::Prompts, ObjectState::Confirmed)?
        .into_iter()
        .map(|r| (r.source_id, r.target_id))
        .collect();
    let ours: std::collections::HashSet<String> = created
        .iter()
        .map(|(source, target)| target.clone().unwrap_or_else(|| source.clone()))
        .collect();
    for (source_id, l) in labels {
        if l.iter().all(|x| x == "latest") {
            continue;
        }
        let Some(target) = created.get(&source_id) else {
            continue;
        };
        let target = target.clone().unwrap_or(source_id.clone());
        let Some((name, version)) = target.rsplit_once(':') else {
            continue;
        };
        let Ok(version) = version.parse::<i64>() else {
            continue;
        };
        // A label held by a version that was there before the run moves onto ours: remember
        // where it was, so a rollback can put it back (first, before it moves).
        for (label, holder) in ctx.target.prompt_label_holders(name, &l).await? {
            if holder != version && !ours.contains(&format!("{name}:{holder}")) {
                ctx.journal
                    .record_label_move(crate::run::journal::LabelMove {
                        prompt: name.to_string(),
                        label,
                        version: holder,
                    })?;
            }
        }
        ctx.target.apply_prompt_labels(name, version, &l).await?;
    }
    Ok(())
}

/// A rule's assignments with the target's evaluator ids (null where the evaluator is not in the
/// target, its source id kept for the sentence), and its `datasetId` conditions naming the
/// target's datasets.
fn map_rule_references(ctx: &Ctx, r: &mut Record) -> Result<(), EngineError> {
    let parse = |r: &Record, k: &str| {
        r.body
            .get(k)
            .and_then(|v| serde_json::from_str::<serde_json::Value>(v.get()).ok())
    };
    let mut assigned = vec![];
    for a in parse(r, "evaluatorAssignments")
        .and_then(|a| a.as_array().cloned())
        .unwrap_or_default()
    {
        let source = a["evaluatorId"].as_str().unwrap_or_default().to_string();
        let mut out = a.clone();
        out["sourceEvaluatorId"] = source.clone().into();
        out["evaluatorId"] = ctx
            .journal
            .target_id(Entity::Evaluators, &source)?
            .map_or(serde_json::Value::Null, Into::into);
        assigned.push(out);
    }
    r.body.set(
        crate::connectors::langfuse::evaluators::TARGET_ASSIGNMENTS,
        &assigned,
    );
    if let Some(mut filter) = parse(r, "filter").and_then(|f| f.as_array().cloned()) {
        for c in filter.iter_mut().filter(|c| c["column"] == "datasetId") {
            if let Some(values) = c["value"].as_array_mut() {
                for v in values {
                    if let Some(t) = v
                        .as_str()
                        .map(|id| ctx.journal.target_id(Entity::Datasets, id))
                        .transpose()?
                        .flatten()
                    {
                        *v = t.into();
                    }
                }
            }
        }
        r.body.set("filter", &filter);
    }
    Ok(())
}

/// A dashboard's widget placements pointing at the target's widgets; those the target lacks are
/// listed (`missingWidgets`) so the write can say which.
fn map_dashboard_widgets(ctx: &Ctx, r: &mut Record) -> Result<(), EngineError> {
    let Some(mut definition) = r
        .body
        .get("definition")
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v.get()).ok())
    else {
        return Ok(());
    };
    let mut missing = vec![];
    for p in definition["widgets"].as_array_mut().into_iter().flatten() {
        let Some(source) = p["widgetId"].as_str().map(str::to_string) else {
            continue;
        };
        match ctx.journal.target_id(Entity::DashboardWidgets, &source)? {
            Some(t) => p["widgetId"] = t.into(),
            None => missing.push(source),
        }
    }
    r.body.set("definition", &definition);
    r.body.set(
        crate::connectors::langfuse::dashboards::MISSING_WIDGETS,
        &missing,
    );
    Ok(())
}
