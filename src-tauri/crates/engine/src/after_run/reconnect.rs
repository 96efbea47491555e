//! Reconnecting to a finished run's endpoints (validation, rollback, cutover): the journaled plan
//! holds no secrets, so the caller supplies them (app: keychain) or the plan's environment
//! variables are read again.

use crate::connectors::SourceConnector;
use crate::connectors::archive::ArchiveReader;
use crate::connectors::langfuse::Langfuse;
use crate::run::plan::{EndpointSpec, LangfuseEndpoint, Plan};
use crate::run::runner::Secrets;
use crate::vocab::{Counters, EngineError, SecretString};
use std::sync::Arc;
use std::time::Duration;

/// The endpoint with the caller's secret filled in, when one was given.
pub(crate) fn with_secret(spec: &EndpointSpec, secret: Option<&SecretString>) -> EndpointSpec {
    let mut spec = spec.clone();
    match (&mut spec, secret) {
        (EndpointSpec::Langfuse(l), Some(s)) => l.secret_key = Some(s.clone()),
        (EndpointSpec::Langsmith(l), Some(s)) => l.api_key = Some(s.clone()),
        _ => {}
    }
    spec
}

/// Connects to a Langfuse endpoint of `plan` without a run tag (nothing is written with it).
pub(crate) async fn langfuse(l: &LangfuseEndpoint, plan: &Plan) -> Result<Langfuse, EngineError> {
    Langfuse::connect(
        l,
        Duration::from_secs(plan.options.request_timeout_secs),
        plan.options.concurrency,
        None,
        Arc::new(Counters::default()),
    )
    .await
}

/// Either side of a run, opened for reading.
pub(crate) enum Side {
    Langfuse(Arc<Langfuse>),
    Archive(Arc<ArchiveReader>),
    Langsmith(Arc<crate::langsmith::LangSmith>),
}

impl Side {
    pub(crate) async fn open(spec: &EndpointSpec, plan: &Plan) -> Result<Side, EngineError> {
        Ok(match spec {
            EndpointSpec::Langfuse(l) => Side::Langfuse(Arc::new(langfuse(l, plan).await?)),
            EndpointSpec::Archive { path } => {
                Side::Archive(Arc::new(tokio::task::block_in_place(|| {
                    ArchiveReader::open(path)
                })?))
            }
            EndpointSpec::Langsmith(l) => Side::Langsmith(Arc::new(
                crate::langsmith::LangSmith::connect(
                    l,
                    Duration::from_secs(plan.options.request_timeout_secs),
                    plan.options.concurrency,
                    Arc::new(Counters::default()),
                )
                .await?,
            )),
        })
    }

    pub(crate) fn reader(&self) -> Arc<dyn SourceConnector> {
        match self {
            Side::Langfuse(l) => l.clone(),
            Side::Archive(a) => a.clone(),
            Side::Langsmith(l) => l.clone(),
        }
    }
}

/// The plan of a run with the caller's secrets applied to both sides.
pub(crate) fn plan_with_secrets(mut plan: Plan, secrets: &Secrets) -> Plan {
    plan.source = with_secret(&plan.source, secrets.source.as_ref());
    plan.target = with_secret(&plan.target, secrets.target.as_ref());
    plan
}

/// Every key (see `TargetConnector::existing_keys_page`) the target shows for `entity` in `scope`.
pub(crate) async fn all_keys<T: crate::connectors::TargetConnector + ?Sized>(
    target: &T,
    entity: crate::vocab::Entity,
    scope: &crate::vocab::Scope,
) -> Result<std::collections::HashSet<String>, EngineError> {
    let mut keys = std::collections::HashSet::new();
    crate::connectors::for_each_existing_key_page(target, entity, scope, |page| {
        keys.extend(page.into_iter().map(|k| k.key))
    })
    .await?;
    Ok(keys)
}
