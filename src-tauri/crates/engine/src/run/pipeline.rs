//! The streaming pipeline of one entity: reader → classification against the journal → batching
//! by bytes → concurrent writers → verification of writes whose outcome is unknown.
//!
//! Memory stays flat: the reader runs at most two pages ahead (bounded channel), at most
//! `2 × concurrency` batches are in flight, and nothing else holds records except the (small)
//! list of writes waiting to be verified.

use crate::connectors::langfuse::experiments::{ExperimentIndex, Settled};
use crate::connectors::{SourceConnector, TargetConnector, WriteOutcome};
use crate::run::control::RunControl;
use crate::run::journal::{Journal, ObjectState, RowUpdate};
use crate::run::plan::{OnExisting, Plan};
use crate::run::progress::{ProgressEvent, ProgressSink};
use crate::vocab::Counters;
use crate::vocab::{EngineError, Entity, Generation, Record, natural_key};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

/// Everything a phase needs.
pub struct Ctx {
    /// Names the run in logs and events.
    #[allow(dead_code)]
    pub run_id: String,
    pub plan: Plan,
    pub journal: Arc<Journal>,
    pub source: Arc<dyn SourceConnector>,
    pub target: Arc<dyn TargetConnector>,
    pub source_gen: Generation,
    pub counters: Arc<Counters>,
    pub sink: Arc<dyn ProgressSink>,
    pub control: RunControl,
    pub dry_run: bool,
    /// Run items that ride on root spans (a v4 target with run items in scope; see `experiments`).
    pub experiments: std::sync::OnceLock<ExperimentIndex>,
    /// Copies the media a batch refers to before it is written (`None`: media not in scope, or
    /// a side without media).
    pub media: Option<crate::media::MediaCopier>,
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

fn human_bytes(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.0} KB", (n as f64 / 1e3).ceil())
    }
}

/// A batch being filled.
#[derive(Default)]
struct Batch {
    items: Vec<(u64, Record)>,
    bytes: usize,
}

/// Copies one entity. Returns the labels of prompt versions created (for the label pass).
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

    // A phase that starts with no rows reads every object once: no per-object lookups needed.
    let lookup_states = ctx.journal.has_rows(entity)?;
    let lookup_existing = ctx.journal.has_target_existing(entity)?;
    let tracker = Arc::new(PageTracker::new(&stream));
    let (tx, mut rx) = mpsc::channel::<(u64, crate::connectors::Page)>(2);
    let reader = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
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
        })
    };

    let concurrency = ctx.plan.options.concurrency.max(1);
    // Prompt versions are numbered by the target in arrival order: one at a time, oldest first.
    // One batch being filled per writer plus one ready to go keeps writers busy and memory flat.
    let in_flight = Arc::new(Semaphore::new(if entity == Entity::Prompts {
        1
    } else {
        concurrency + 1
    }));
    let verify: Arc<Mutex<Vec<(u64, Record)>>> = Arc::default();
    let mut writers: JoinSet<Result<(), EngineError>> = JoinSet::new();
    let max_bytes = ctx
        .plan
        .options
        .batch_bytes
        .min(ctx.target.max_batch_bytes(entity));
    let max_items = ctx
        .target
        .max_batch_items(entity)
        .min(ctx.plan.options.batch_items.max(1));
    let mut batch = Batch::default();
    let mut labels: Vec<(String, Vec<String>)> = vec![];
    let mut stop: Option<EngineError> = None;

    while let Some((seq, page)) = rx.recv().await {
        let n = page.records.len();
        ctx.counters.add_read(entity, n as u64);
        tracker.add_page(seq, n, page.next.clone());
        let states = if lookup_states {
            let ids: Vec<&str> = page.records.iter().map(|r| r.id.as_str()).collect();
            ctx.journal.states(entity, &ids)?
        } else {
            Default::default()
        };
        let mut handled = 0usize;
        let mut skipped: Vec<(String, Option<String>)> = vec![];
        let mut pending: Vec<String> = vec![];
        let mut failed: Vec<(String, String)> = vec![];
        let mut confirmed: Vec<String> = vec![];
        for r in page.records {
            if entity == Entity::Prompts {
                let l: Vec<String> = r
                    .body
                    .get("labels")
                    .and_then(|v| serde_json::from_str(v.get()).ok())
                    .unwrap_or_default();
                labels.push((r.id.clone(), l));
            }
            match states.get(&r.id).map(|s| s.0) {
                Some(s) if s.is_final() => handled += 1,
                // Mapped like a first send: a re-send must carry the same references.
                Some(ObjectState::Sent) if !ctx.dry_run => verify
                    .lock()
                    .expect("verify")
                    .push((seq, map_references(&ctx, r)?)),
                _ => {
                    let r = map_references(&ctx, r)?;
                    let existing = if lookup_existing {
                        let key = natural_key(entity, &r.body).unwrap_or_else(|| r.id.clone());
                        ctx.journal.preexisting(entity, &key)?.map(|t| (key, t))
                    } else {
                        None
                    };
                    // On v4 a run item was written with its trace's root span, or cannot be.
                    if entity == Entity::DatasetRunItems
                        && let Some(ix) = ctx.experiments.get()
                        && let Some(settled) =
                            ix.settle(&r, ctx.source_gen, ctx.journal.as_ref(), existing.is_some())?
                    {
                        match settled {
                            Settled::Written => confirmed.push(r.id.clone()),
                            Settled::Pending => pending.push(r.id.clone()),
                            Settled::Failed(reason) => failed.push((r.id.clone(), reason)),
                        }
                        handled += 1;
                        continue;
                    }
                    if let Some((key, target_id)) = existing {
                        if ctx.plan.options.on_existing == OnExisting::Stop {
                            stop = Some(EngineError::Stopped(format!(
                                "{entity} \"{key}\" already exists in the target and the plan says to stop"
                            )));
                            break;
                        }
                        if let (Entity::Prompts, Some(t), Some(src)) =
                            (entity, &target_id, r.body.str("id"))
                        {
                            ctx.journal.map_id(entity, &src, t)?;
                        }
                        skipped.push((r.id.clone(), target_id));
                        handled += 1;
                    } else if ctx.dry_run {
                        pending.push(r.id.clone());
                        handled += 1;
                    } else {
                        let size = r.body.approx_len();
                        if size > max_bytes {
                            failed.push((r.id.clone(), format!(
                                "it is {}, more than the {} one request to the target may carry",
                                human_bytes(size),
                                human_bytes(max_bytes)
                            )));
                            handled += 1;
                            continue;
                        }
                        if !batch.items.is_empty()
                            && (batch.bytes + size > max_bytes || batch.items.len() >= max_items)
                        {
                            let full = std::mem::take(&mut batch);
                            spawn_writer(
                                &ctx,
                                entity,
                                full.items,
                                &tracker,
                                &verify,
                                &in_flight,
                                &mut writers,
                            )
                            .await;
                        }
                        batch.bytes += size;
                        batch.items.push((seq, r));
                    }
                }
            }
        }
        if !skipped.is_empty() {
            let rows: Vec<RowUpdate> = skipped
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
        if !pending.is_empty() {
            ctx.journal
                .mark(entity, ObjectState::Pending, &plain_rows(&pending))?;
        }
        if !confirmed.is_empty() {
            ctx.journal
                .mark(entity, ObjectState::Confirmed, &plain_rows(&confirmed))?;
            ctx.counters.add_written(entity, confirmed.len() as u64);
        }
        if !failed.is_empty() {
            mark_failed(&ctx, entity, &failed)?;
        }
        tracker.done(&ctx.journal, seq, handled)?;
        if stop.is_some() {
            break;
        }
        // Drain finished writers so their errors surface early.
        while let Some(res) = writers.try_join_next() {
            res.map_err(|e| EngineError::Journal(e.to_string()))??;
        }
    }
    drop(rx);
    if !batch.items.is_empty() && stop.is_none() {
        let full = std::mem::take(&mut batch);
        spawn_writer(
            &ctx,
            entity,
            full.items,
            &tracker,
            &verify,
            &in_flight,
            &mut writers,
        )
        .await;
    }
    while let Some(res) = writers.join_next().await {
        res.map_err(|e| EngineError::Journal(e.to_string()))??;
    }
    if let Some(e) = stop {
        reader.abort();
        return Err(e);
    }
    reader
        .await
        .map_err(|e| EngineError::Journal(e.to_string()))??;
    verify_unknown(&ctx, entity, &tracker, &verify).await?;
    if entity == Entity::Prompts && !ctx.dry_run && !ctx.control.is_cancelled() {
        apply_labels(&ctx, labels).await?;
    }
    Ok(())
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
    if matches!(r.entity, Entity::Traces | Entity::Observations)
        && let Some(a) = ctx
            .experiments
            .get()
            .and_then(|ix| ix.attrs_for(r.entity, &r.id))
    {
        r.body
            .set(crate::connectors::langfuse::experiments::BODY_KEY, a);
    }
    if r.entity == Entity::Comments
        && r.body.str("objectType").as_deref() == Some("PROMPT")
        && let Some(id) = r.body.str("objectId")
        && let Some(t) = ctx.journal.mapped_id(Entity::Prompts, &id)?
    {
        r.body.set("objectId", &t);
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
    {
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
        ctx.journal.mark(entity, ObjectState::Sent, &rows)?;
    }
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
            .write_batch(entity, &records, ctx.source_gen)
            .await;
        let sent = seqs.into_iter().zip(records);
        let mut confirmed: Vec<(String, Option<String>)> = vec![];
        let mut failed: Vec<(String, String)> = vec![];
        let mut again: Vec<(u64, Record)> = vec![];
        let mut unknown_now: Vec<(u64, Record)> = vec![];
        let mut per_page: BTreeMap<u64, usize> = BTreeMap::new();
        for (item, outcome) in sent.zip(outcomes) {
            match outcome {
                WriteOutcome::Written {
                    target_id,
                    object_id,
                } => {
                    *per_page.entry(item.0).or_default() += 1;
                    if let (Some(obj), Some(src)) = (object_id, item.1.body.str("id")) {
                        ctx.journal.map_id(entity, &src, &obj)?;
                    }
                    confirmed.push((item.1.id, target_id));
                }
                WriteOutcome::Failed(reason) => {
                    *per_page.entry(item.0).or_default() += 1;
                    failed.push((item.1.id, reason));
                }
                // Prompt versions must arrive in order: settle an unknown outcome right away.
                WriteOutcome::Unknown(_) if entity == Entity::Prompts => unknown_now.push(item),
                WriteOutcome::Unknown(_) => verify.lock().expect("verify").push(item),
                WriteOutcome::Retry(reason) if round >= 5 => {
                    *per_page.entry(item.0).or_default() += 1;
                    failed.push((item.1.id, reason));
                }
                WriteOutcome::Retry(_) => again.push(item),
            }
        }
        if !confirmed.is_empty() {
            let rows: Vec<RowUpdate> = confirmed
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
        if !failed.is_empty() {
            mark_failed(ctx, entity, &failed)?;
        }
        for (seq, n) in per_page {
            tracker.done(&ctx.journal, seq, n)?;
        }
        if !unknown_now.is_empty() {
            tokio::time::sleep(Duration::from_millis(ctx.plan.options.visibility_wait_ms)).await;
            let records: Vec<Record> = unknown_now.iter().map(|(_, r)| r.clone()).collect();
            let present = ctx.target.which_exist(entity, &records).await?;
            for item in unknown_now {
                if present.contains(&item.1.id) {
                    let row = [RowUpdate {
                        source_id: &item.1.id,
                        target_id: Some(&item.1.id),
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
        }
        pending = again;
        if pending.is_empty() {
            return Ok(());
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(round.min(6)))).await;
    }
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
        let present = ctx.target.which_exist(entity, &records).await?;
        let (arrived, missing): (Vec<_>, Vec<_>) = items
            .into_iter()
            .partition(|(_, r)| present.contains(&r.id));
        if !arrived.is_empty() {
            let rows: Vec<RowUpdate> = arrived
                .iter()
                .map(|(_, r)| RowUpdate {
                    source_id: &r.id,
                    target_id: None,
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
