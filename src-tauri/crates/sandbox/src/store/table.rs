//! An append-only table with indexes by id, by time and by trace, so page reads over a million
//! rows touch only the rows they return.

use std::collections::{BTreeSet, HashMap};

/// What a table needs to know about its rows.
pub trait Row {
    fn id(&self) -> &str;
    /// The time reads order and filter by (ms since epoch).
    fn time(&self) -> i64;
    fn trace_id(&self) -> Option<&str> {
        None
    }
    /// Server-clock ms after which the row is visible to API reads.
    fn visible_at(&self) -> u64;
    fn set_visible_at(&mut self, at: u64);
}

pub type Slot = u32;

#[derive(Debug)]
pub struct Table<T> {
    rows: Vec<Option<T>>,
    by_id: HashMap<String, Vec<Slot>>,
    by_time: BTreeSet<(i64, Slot)>,
    by_trace: HashMap<String, Vec<Slot>>,
    live: usize,
    /// The latest `visible_at` of any row: once the clock passes it every row is visible.
    max_visible_at: u64,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            by_id: HashMap::new(),
            by_time: BTreeSet::new(),
            by_trace: HashMap::new(),
            live: 0,
            max_visible_at: 0,
        }
    }
}

impl<T: Row> Table<T> {
    fn index(&mut self, slot: Slot, row: &T) {
        self.by_id
            .entry(row.id().to_string())
            .or_default()
            .push(slot);
        self.by_time.insert((row.time(), slot));
        if let Some(t) = row.trace_id() {
            self.by_trace.entry(t.to_string()).or_default().push(slot);
        }
        self.live += 1;
        self.max_visible_at = self.max_visible_at.max(row.visible_at());
    }

    pub fn insert(&mut self, row: T) -> Slot {
        let slot = self.rows.len() as Slot;
        self.index(slot, &row);
        self.rows.push(Some(row));
        slot
    }

    /// True when every row is visible at `now`, so reads can skip per-row checks.
    pub fn all_visible(&self, now: u64) -> bool {
        self.max_visible_at <= now
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn get(&self, slot: Slot) -> Option<&T> {
        self.rows.get(slot as usize).and_then(|r| r.as_ref())
    }

    /// Mutable access; the id, time and trace of the row must not change (they are indexed).
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut T> {
        self.rows.get_mut(slot as usize).and_then(|r| r.as_mut())
    }

    /// Replaces a row, re-indexing it.
    pub fn replace(&mut self, slot: Slot, row: T) {
        if self.remove(slot).is_some() {
            self.index(slot, &row);
            self.rows[slot as usize] = Some(row);
        }
    }

    pub fn slots_of(&self, id: &str) -> &[Slot] {
        self.by_id.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn first_of(&self, id: &str) -> Option<Slot> {
        self.slots_of(id).first().copied()
    }

    pub fn slots_of_trace(&self, trace_id: &str) -> &[Slot] {
        self.by_trace
            .get(trace_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn remove(&mut self, slot: Slot) -> Option<T> {
        let row = self.rows.get_mut(slot as usize)?.take()?;
        self.live -= 1;
        if let Some(v) = self.by_id.get_mut(row.id()) {
            v.retain(|s| *s != slot);
            if v.is_empty() {
                self.by_id.remove(row.id());
            }
        }
        self.by_time.remove(&(row.time(), slot));
        if let Some(t) = row.trace_id()
            && let Some(v) = self.by_trace.get_mut(t)
        {
            v.retain(|s| *s != slot);
            if v.is_empty() {
                self.by_trace.remove(t);
            }
        }
        Some(row)
    }

    pub fn remove_id(&mut self, id: &str) -> Vec<T> {
        let slots = self.slots_of(id).to_vec();
        slots.into_iter().filter_map(|s| self.remove(s)).collect()
    }

    /// Slots ordered by (time, insertion), newest first, within `[from, to)` and strictly before
    /// `before` when given (the cursor position).
    pub fn desc_range(
        &self,
        from: Option<i64>,
        to: Option<i64>,
        before: Option<(i64, Slot)>,
    ) -> impl Iterator<Item = (i64, Slot)> + '_ {
        use std::ops::Bound;
        let lo = Bound::Included((from.unwrap_or(i64::MIN), 0));
        let mut hi = match to {
            Some(t) => Bound::Excluded((t, 0)),
            None => Bound::Unbounded,
        };
        if let Some(b) = before {
            hi = match hi {
                Bound::Excluded(h) if h <= b => Bound::Excluded(h),
                _ => Bound::Excluded(b),
            };
        }
        let valid = match (lo, hi) {
            (Bound::Included(l), Bound::Excluded(h)) => l < h,
            _ => true,
        };
        let range = if valid {
            Some(self.by_time.range((lo, hi)))
        } else {
            None
        };
        range.into_iter().flatten().rev().copied()
    }

    /// Every live row in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (Slot, &T)> {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (i as Slot, r)))
    }

    /// Removes the rows that will never be visible (a dropped write); returns how many.
    pub fn purge_never(&mut self) -> usize {
        if self.max_visible_at != crate::state::NEVER {
            return 0;
        }
        let slots: Vec<Slot> = self
            .iter()
            .filter(|(_, r)| r.visible_at() == crate::state::NEVER)
            .map(|(s, _)| s)
            .collect();
        for s in &slots {
            self.remove(*s);
        }
        self.max_visible_at = self
            .rows
            .iter()
            .flatten()
            .map(Row::visible_at)
            .max()
            .unwrap_or(0);
        slots.len()
    }

    pub fn make_all_visible(&mut self) {
        for r in self.rows.iter_mut().flatten() {
            r.set_visible_at(0);
        }
        self.max_visible_at = 0;
    }
}
