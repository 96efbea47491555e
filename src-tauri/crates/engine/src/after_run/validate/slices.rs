//! Validation holds both sides of what it compares in memory, so it compares a large entity one
//! time slice at a time: a window the source counts above the limit is halved until each part
//! fits. Memory then follows the slice, not the run. A source that cannot count (or counts
//! without regard to the window) is read whole, as before.

use crate::connectors::SourceConnector;
use crate::vocab::filter::time_field;
use crate::vocab::{Entity, Scope};
use chrono::{DateTime, Duration, Utc};

/// Below this a window is not halved again, whatever it holds.
const SHORTEST: Duration = Duration::seconds(1);

pub(crate) type Window = (DateTime<Utc>, DateTime<Utc>);

async fn count(
    source: &dyn SourceConnector,
    entity: Entity,
    scope: &Scope,
    (from, to): Window,
) -> Option<u64> {
    let windowed = Scope {
        from,
        to,
        ..scope.clone()
    };
    source.estimate(entity, &windowed).await.ok().flatten()
}

/// Consecutive windows covering `scope`'s window, each holding at most `limit` objects of
/// `entity` as far as the source counts them, oldest first.
pub(crate) async fn windows(
    source: &dyn SourceConnector,
    entity: Entity,
    scope: &Scope,
    limit: u64,
) -> Vec<Window> {
    let whole = vec![(scope.from, scope.to)];
    if time_field(entity).is_none() {
        return whole;
    }
    // An open-ended window is halved over the time that can hold data; the last slice then
    // reaches the window's end again.
    let end = scope.to.min(Utc::now() + Duration::days(1));
    if end <= scope.from {
        return whole;
    }
    let Some(total) = count(source, entity, scope, (scope.from, end)).await else {
        return whole;
    };
    let mut out: Vec<Window> = vec![];
    let mut todo = vec![(scope.from, end, total)];
    while let Some((a, b, n)) = todo.pop() {
        if n <= limit || b - a <= SHORTEST {
            out.push((a, b));
            continue;
        }
        let mid = a + (b - a) / 2;
        let (left, right) = (
            count(source, entity, scope, (a, mid)).await,
            count(source, entity, scope, (mid, b)).await,
        );
        match (left, right) {
            // Halves that count less than the whole: the count follows the window.
            (Some(l), Some(r)) if l < n || r < n => {
                todo.push((mid, b, r));
                todo.push((a, mid, l));
            }
            _ => out.push((a, b)),
        }
    }
    if let Some(last) = out.last_mut() {
        last.1 = scope.to;
    }
    out
}
