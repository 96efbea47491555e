//! Per-run event streams from Rust to the window over `tauri::ipc::Channel`, which Tauri
//! recommends over events for ordered, high-volume streams. Each run gets its own channel,
//! passed in by the command that starts it; events carry the run id and a sequence number so
//! the UI can tell runs apart and notice gaps. Progress updates can be throttled so a fast
//! engine never floods the window; state changes are always delivered.

use std::time::{Duration, Instant};

use serde::Serialize;
use tauri::ipc::Channel;
use ts_rs::TS;

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunEvent<E> {
    pub run_id: String,
    /// Counts from 1 per run; a JSON number in the window (never near 2^53).
    #[ts(type = "number")]
    pub seq: u64,
    pub event: E,
}

pub struct RunStream<E: Serialize + Clone> {
    run_id: String,
    seq: u64,
    channel: Channel<RunEvent<E>>,
    min_interval: Duration,
    last_throttled: Option<Instant>,
}

impl<E: Serialize + Clone> RunStream<E> {
    pub fn new(channel: Channel<RunEvent<E>>, min_interval: Duration) -> Self {
        Self {
            run_id: uuid::Uuid::new_v4().to_string(),
            seq: 0,
            channel,
            min_interval,
            last_throttled: None,
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Delivers an event that must not be dropped (a step started, finished or failed).
    pub fn send(&mut self, event: E) {
        self.seq += 1;
        let message = RunEvent {
            run_id: self.run_id.clone(),
            seq: self.seq,
            event,
        };
        // The window may have been closed or reloaded mid-run; the run itself goes on.
        if let Err(e) = self.channel.send(message) {
            tracing::debug!(run_id = %self.run_id, error = %e, "progress event not delivered");
        }
    }

    /// Delivers a progress update unless one went out less than `min_interval` ago.
    /// Returns whether it was sent.
    pub fn send_throttled(&mut self, event: E) -> bool {
        let now = Instant::now();
        if self
            .last_throttled
            .is_some_and(|last| now.duration_since(last) < self.min_interval)
        {
            return false;
        }
        self.last_throttled = Some(now);
        self.send(event);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tauri::ipc::InvokeResponseBody;

    fn recording_channel() -> (Channel<RunEvent<u32>>, Arc<Mutex<Vec<serde_json::Value>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let channel = Channel::new(move |body| {
            if let InvokeResponseBody::Json(json) = body {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&json).unwrap());
            }
            Ok(())
        });
        (channel, seen)
    }

    #[test]
    fn events_arrive_in_order_with_the_run_id_and_a_sequence_number() {
        let (channel, seen) = recording_channel();
        let mut stream = RunStream::new(channel, Duration::from_secs(60));
        stream.send(7);
        stream.send(8);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0]["runId"], stream.run_id());
        assert_eq!(
            (seen[0]["seq"].as_u64(), seen[0]["event"].as_u64()),
            (Some(1), Some(7))
        );
        assert_eq!(
            (seen[1]["seq"].as_u64(), seen[1]["event"].as_u64()),
            (Some(2), Some(8))
        );
    }

    #[test]
    fn throttled_updates_are_dropped_within_the_interval_but_state_changes_are_not() {
        let (channel, seen) = recording_channel();
        let mut stream = RunStream::new(channel, Duration::from_secs(60));
        assert!(stream.send_throttled(1));
        assert!(!stream.send_throttled(2));
        stream.send(3);
        let events: Vec<_> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["event"].clone())
            .collect();
        assert_eq!(events, vec![serde_json::json!(1), serde_json::json!(3)]);
    }
}
