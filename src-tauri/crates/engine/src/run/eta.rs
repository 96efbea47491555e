//! The pre-flight's time estimate: how long a copy takes at least under the request budgets
//! that apply (a Langfuse Cloud plan or a fixed requests-per-minute figure on either side).
//!
//! Without a budget on either side the time depends on the servers alone, which only the run
//! itself can measure: the estimate is then `None`, and the progress view shows the ETA from
//! measured throughput instead.

use std::collections::BTreeMap;

use crate::run::plan::{EndpointSpec, Plan};
use crate::vocab::{Bucket, Budget, Entity, Generation};

/// Objects per read request and the budget bucket the read counts against.
fn read_cost(entity: Entity, source: Generation) -> (u64, Bucket) {
    match entity {
        // v4 reads observations through the v2 cursor API, 1000 per page.
        Entity::Observations if source == Generation::V4 => (1000, Bucket::PublicApi),
        Entity::Scores if source == Generation::V4 => (100, Bucket::PublicApi),
        Entity::Traces | Entity::Observations | Entity::Scores | Entity::Sessions => {
            (100, Bucket::LegacyRead)
        }
        Entity::Datasets | Entity::DatasetItems | Entity::DatasetRunItems => {
            (100, Bucket::Datasets)
        }
        // Every prompt version is read on its own.
        Entity::Prompts => (1, Bucket::Prompts),
        _ => (100, Bucket::PublicApi),
    }
}

/// Objects per write request and the budget bucket the write counts against.
fn write_cost(entity: Entity, batch_items: usize) -> (u64, Bucket) {
    match entity {
        Entity::Traces | Entity::Observations | Entity::Scores => {
            (batch_items.clamp(1, 1000) as u64, Bucket::Ingestion)
        }
        Entity::Datasets | Entity::DatasetItems | Entity::DatasetRunItems => (1, Bucket::Datasets),
        Entity::Prompts => (1, Bucket::Prompts),
        _ => (1, Bucket::PublicApi),
    }
}

fn budget(side: &EndpointSpec) -> Option<Budget> {
    match side {
        EndpointSpec::Langfuse(l) => Some(Budget {
            plan: l.cloud_plan,
            time_scale: l.budget_time_scale,
            requests_per_minute: l.requests_per_minute,
            share_percent: l.cloud_share_percent,
        }),
        EndpointSpec::Archive { .. } => None,
        // LangSmith's per-key limits are not Langfuse's buckets: its side adds no estimate.
        EndpointSpec::Langsmith(_) => None,
    }
}

/// Seconds `requests` take under `budget`'s limit for `bucket`; 0 when nothing limits them.
fn seconds(requests: u64, budget: Option<Budget>, bucket: Bucket) -> f64 {
    match budget.and_then(|b| b.per_minute(bucket).map(|n| (n, b.time_scale))) {
        Some((per_minute, scale)) if per_minute > 0 => {
            requests as f64 / per_minute as f64 * 60.0 / scale.max(f64::MIN_POSITIVE)
        }
        _ => 0.0,
    }
}

/// The least time the budgets allow for copying `counts` (entities run one after another; in
/// each, reading and writing overlap, so the slower of the two counts). `None` when no budget
/// applies to either side, or nothing is counted.
pub fn budget_eta(
    plan: &Plan,
    source: Generation,
    counts: &BTreeMap<Entity, Option<u64>>,
) -> Option<f64> {
    let (read_budget, write_budget) = (budget(&plan.source), budget(&plan.target));
    let limited = |b: Option<Budget>| {
        b.is_some_and(|b| Bucket::ALL.iter().any(|k| b.per_minute(*k).is_some()))
    };
    if !limited(read_budget) && !limited(write_budget) {
        return None;
    }
    let mut total = 0.0;
    for (entity, count) in counts {
        let Some(n) = count.filter(|n| *n > 0) else {
            continue;
        };
        let (per_read, read_bucket) = read_cost(*entity, source);
        let (per_write, write_bucket) = write_cost(*entity, plan.options.batch_items);
        let reading = seconds(n.div_ceil(per_read), read_budget, read_bucket);
        let writing = seconds(n.div_ceil(per_write), write_budget, write_bucket);
        total += reading.max(writing);
    }
    (total > 0.0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::{LangfuseEndpoint, Options};
    use crate::vocab::{CloudPlan, Scope};

    fn plan(source: CloudPlan, target: CloudPlan) -> Plan {
        let side = |p| {
            let mut l = LangfuseEndpoint::new("https://cloud.langfuse.com", "pk-lf-1", "sk-lf-1");
            l.cloud_plan = p;
            EndpointSpec::Langfuse(l)
        };
        Plan {
            source: side(source),
            target: side(target),
            scope: Scope::default(),
            options: Options::default(),
        }
    }

    #[test]
    fn the_estimate_follows_the_limits_of_the_plans_that_apply() {
        let counts = BTreeMap::from([(Entity::Traces, Some(10_000))]);
        // Hobby allows 30 legacy reads a minute: 10,000 traces are 100 pages of 100, 200 s.
        let eta = budget_eta(
            &plan(CloudPlan::Hobby, CloudPlan::None),
            Generation::V3,
            &counts,
        );
        assert!((eta.unwrap() - 200.0).abs() < 1e-6, "{eta:?}");
        // Pro allows 1,000 a minute: 6 s.
        let eta = budget_eta(
            &plan(CloudPlan::Pro, CloudPlan::None),
            Generation::V3,
            &counts,
        );
        assert!((eta.unwrap() - 6.0).abs() < 1e-6, "{eta:?}");
        // Writing into a hobby project: 10 batches of 1,000 at 1,000 ingestion requests a
        // minute, 0.6 s; reading from an unlimited server costs nothing in the budget.
        let eta = budget_eta(
            &plan(CloudPlan::None, CloudPlan::Hobby),
            Generation::V3,
            &counts,
        );
        assert!((eta.unwrap() - 0.6).abs() < 1e-6, "{eta:?}");
    }

    #[test]
    fn without_a_budget_the_estimate_is_left_to_measured_throughput() {
        let counts = BTreeMap::from([(Entity::Traces, Some(10_000))]);
        assert_eq!(
            budget_eta(
                &plan(CloudPlan::None, CloudPlan::None),
                Generation::V3,
                &counts
            ),
            None
        );
    }

    #[test]
    fn entities_add_up_and_prompts_cost_a_request_per_version() {
        let counts = BTreeMap::from([
            (Entity::Traces, Some(3_000)),
            (Entity::Prompts, Some(50)),
            (Entity::Models, None),
        ]);
        // Traces: 30 pages at 30 a minute = 60 s. Prompts: 50 reads at 1,000 a minute = 3 s.
        let eta = budget_eta(
            &plan(CloudPlan::Hobby, CloudPlan::None),
            Generation::V3,
            &counts,
        );
        assert!((eta.unwrap() - 63.0).abs() < 1e-6, "{eta:?}");
    }
}
