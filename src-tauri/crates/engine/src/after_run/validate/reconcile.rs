//! Reconciliation of one entity: which ids are missing, which are extra, which differ.
//!
//! Inputs are the objects each side holds for the run's window and filters, keyed by the id they
//! share (the source id; for target-assigned ids the caller maps them first through the journal).

use super::diff::{DiffOptions, FieldDiff, diff_objects};
use super::report::{Discrepancy, EntityReconciliation};
use serde_json::Value;
use std::collections::BTreeMap;

/// How many ids a report lists per kind before it only counts them; the counts stay exact.
pub const LISTED_IDS: usize = 1000;

/// Which objects get a content comparison. `None` compares every pair.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample(pub Option<usize>);

impl Sample {
    /// Picks pairs spread evenly over the sorted ids, so a sample covers the whole window and
    /// is the same on every run.
    fn includes(&self, index: usize, total: usize) -> bool {
        match self.0 {
            None => true,
            Some(0) => false,
            Some(n) if n >= total => true,
            Some(n) => (index * n) / total != ((index + 1) * n) / total,
        }
    }
}

pub fn reconcile_entity(
    entity: &str,
    source: &BTreeMap<String, Value>,
    target: &BTreeMap<String, Value>,
    options: &DiffOptions,
    sample: Sample,
) -> EntityReconciliation {
    let mut result = EntityReconciliation {
        entity: entity.to_string(),
        source_count: source.len() as u64,
        target_count: target.len() as u64,
        ..Default::default()
    };
    let shared_total = source.keys().filter(|id| target.contains_key(*id)).count();
    let mut shared_index = 0;
    for (id, source_object) in source {
        let Some(target_object) = target.get(id) else {
            result.missing_count += 1;
            if result.missing.len() < LISTED_IDS {
                result.missing.push(id.clone());
            }
            continue;
        };
        let compare = sample.includes(shared_index, shared_total);
        shared_index += 1;
        if !compare {
            continue;
        }
        result.compared += 1;
        let fields: Vec<FieldDiff> = diff_objects(source_object, target_object, options);
        if !fields.is_empty() {
            result.differing_count += 1;
            if result.differing.len() < LISTED_IDS {
                result.differing.push(Discrepancy {
                    id: id.clone(),
                    fields,
                });
            }
        }
    }
    for id in target.keys().filter(|id| !source.contains_key(*id)) {
        result.extra_count += 1;
        if result.extra.len() < LISTED_IDS {
            result.extra.push(id.clone());
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn side(items: &[(&str, Value)]) -> BTreeMap<String, Value> {
        items
            .iter()
            .map(|(id, v)| (id.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn missing_extra_and_differing_ids_are_each_reported() {
        let source = side(&[
            ("a", json!({"name": "a"})),
            ("b", json!({"name": "b"})),
            ("c", json!({"name": "c"})),
        ]);
        let target = side(&[
            ("a", json!({"name": "a"})),
            ("c", json!({"name": "changed"})),
            ("z", json!({"name": "z"})),
        ]);
        let r = reconcile_entity(
            "traces",
            &source,
            &target,
            &DiffOptions::default(),
            Sample(None),
        );
        assert_eq!((r.source_count, r.target_count), (3, 3));
        assert_eq!(r.missing, vec!["b"]);
        assert_eq!(r.extra, vec!["z"]);
        assert_eq!(r.differing.len(), 1);
        assert_eq!(r.differing[0].id, "c");
        assert_eq!(r.differing[0].fields[0].path, "name");
        assert_eq!(r.compared, 2);
        assert!(!r.is_clean());
    }

    #[test]
    fn a_sample_compares_that_many_pairs_spread_over_the_ids() {
        let items: Vec<(String, Value)> = (0..100)
            .map(|i| (format!("{i:03}"), json!({"v": i})))
            .collect();
        let source: BTreeMap<_, _> = items.iter().cloned().collect();
        let mut target = source.clone();
        target.insert("099".into(), json!({"v": -1}));
        let r = reconcile_entity(
            "scores",
            &source,
            &target,
            &DiffOptions::default(),
            Sample(Some(10)),
        );
        assert_eq!(r.compared, 10);
        assert_eq!(
            r.differing_count, 1,
            "the last id is always in an even spread"
        );
        let all = reconcile_entity(
            "scores",
            &source,
            &target,
            &DiffOptions::default(),
            Sample(None),
        );
        assert_eq!(all.compared, 100);
    }

    #[test]
    fn identical_sides_are_clean() {
        let source = side(&[("a", json!({"x": 1}))]);
        let r = reconcile_entity(
            "t",
            &source,
            &source.clone(),
            &DiffOptions::default(),
            Sample(None),
        );
        assert!(r.is_clean());
    }
}
