//! The share of a Cloud side's rate limits a live sync takes, leaving the rest to the
//! application that writes to (or reads from) the same project or key at the same time.

use crate::run::plan::{EndpointSpec, Plan};
use crate::vocab::CloudPlan;

/// Gives every Cloud side of `plan` without a budget of its own `percent` (1–100) of each of
/// its limits: a Langfuse side on a Cloud plan, each bucket its own share; a LangSmith source
/// with Cloud's per-key limits, each limit. A side that already names a share, or a flat
/// `requests_per_minute`, keeps it; sides off Cloud have no limits to share.
pub fn share_cloud_limits(plan: &mut Plan, percent: u8) {
    let percent = percent.clamp(1, 100);
    if let EndpointSpec::Langsmith(l) = &mut plan.source
        && l.cloud_limits()
        && l.cloud_share_percent.is_none()
    {
        l.cloud_share_percent = Some(percent);
    }
    for side in [&mut plan.source, &mut plan.target] {
        if let EndpointSpec::Langfuse(l) = side
            && l.cloud_plan != CloudPlan::None
            && l.requests_per_minute.is_none()
            && l.cloud_share_percent.is_none()
        {
            l.cloud_share_percent = Some(percent);
        }
    }
}
