//! A LangSmith connection in the app, against the sample LangSmith server "Try with sample data"
//! starts (a real HTTP server on loopback): the connection check names the projects with their
//! run counts and v2 queries, a wrong key, a wrong server and a dead address each get a plain
//! sentence without the key, and a plan request becomes a LangSmith → Langfuse plan the engine
//! can count and run.

use langfuse_migrator::migration::check_langsmith;
use langfuse_migrator::migration::request::{
    ExistingPolicy, PlanRequest, langsmith_endpoint, secret_of,
};
use langfuse_migrator::migration::views::ConnectionCheck;
use langfuse_migrator::sample::{self, SampleSet};
use migrator_engine::profile::{Credentials, ProfileId};
use migrator_engine::{EndpointSpec, Entity};
use secrecy::SecretString;

fn creds(set: &SampleSet, id: &str) -> Credentials {
    let (profile, secret) = set.lookup(&ProfileId::from(id)).expect("a sample profile");
    Credentials::for_profile(&profile, Some(secret)).unwrap()
}

async fn check(c: &Credentials) -> ConnectionCheck {
    match check_langsmith(&langsmith_endpoint(c).unwrap()).await {
        Ok(info) => ConnectionCheck::from_langsmith(&info),
        Err(e) => ConnectionCheck::Failed {
            message: e.to_string(),
        },
    }
}

fn failed(c: ConnectionCheck) -> String {
    match c {
        ConnectionCheck::Failed { message } => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_langsmith_connection_is_checked_planned_and_counted() {
    let data = tempfile::tempdir().unwrap();
    let set = SampleSet::start(data.path()).await.unwrap();
    let info = set.info();
    assert_eq!(info.langsmith_source.id.as_str(), sample::LANGSMITH_ID);
    let ls = creds(&set, sample::LANGSMITH_ID);

    let ConnectionCheck::Langsmith {
        v2_queries,
        projects,
        server_version,
        ..
    } = check(&ls).await
    else {
        panic!("the sample LangSmith answers as LangSmith")
    };
    assert!(v2_queries, "the sandbox has v2 run queries");
    assert!(!server_version.is_empty());
    let names: Vec<&str> = projects.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.contains(&"support-bot") && names.contains(&"research-agent"),
        "{names:?}"
    );
    assert!(
        projects.iter().any(|p| p.experiment),
        "the experiment project is marked"
    );
    let support = projects.iter().find(|p| p.name == "support-bot").unwrap();
    assert!(support.run_count.unwrap_or(0) > 0, "{support:?}");

    // The plan moves the chosen project from the sample LangSmith into the sample Langfuse.
    let request = PlanRequest {
        source_id: ProfileId::from(sample::LANGSMITH_ID),
        target_id: ProfileId::from(sample::TARGET_ID),
        entities: vec!["traces".into(), "observations".into(), "scores".into()],
        from_day: None,
        to_day: None,
        window_end: None,
        environments: vec![],
        trace_names: vec![],
        tags: vec![],
        on_existing: ExistingPolicy::Skip,
        run_tag: true,
        source_cloud_plan: None,
        target_cloud_plan: None,
        projects: Some(vec!["support-bot".into()]),
    };
    let plan = request
        .to_plan(&ls, &creds(&set, sample::TARGET_ID))
        .unwrap();
    assert!(matches!(&plan.source, EndpointSpec::Langsmith(l) if l.projects == ["support-bot"]));
    let report = migrator_engine::preflight(&plan).await.expect("pre-flight");
    let traces = report.counts.get(&Entity::Traces).copied().flatten();
    // Tolerant of an engine that cannot count up front; when it does, the project has traces.
    if let Some(n) = traces {
        assert!(n > 0, "support-bot has root runs");
    }

    // The plan's mapping preview reads one trace of the chosen project; it needs no target.
    let no_target = PlanRequest {
        target_id: ProfileId::from(""),
        entities: vec![],
        ..request.clone()
    };
    let (endpoint, scope) = no_target
        .preview_source(&ls)
        .unwrap()
        .expect("a LangSmith source");
    assert_eq!(endpoint.projects, ["support-bot"]);
    let preview = migrator_engine::langsmith::preview::mapping_preview(&endpoint, &scope)
        .await
        .expect("a preview of the sample");
    assert_eq!(preview.project.as_deref(), Some("support-bot"));
    assert!(preview.runs.len() > 1 && preview.runs.len() == preview.observations.len());
    // A Langfuse source has no mapping preview.
    let langfuse = creds(&set, sample::SOURCE_ID);
    assert!(no_target.preview_source(&langfuse).unwrap().is_none());
    set.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_a_server_that_is_not_langsmith_and_a_dead_address_get_plain_sentences() {
    let data = tempfile::tempdir().unwrap();
    let set = SampleSet::start(data.path()).await.unwrap();
    let (profile, _) = set.lookup(&ProfileId::from(sample::LANGSMITH_ID)).unwrap();
    let url = sample::sample_url(&profile).to_owned();
    let wrong = Credentials::LangSmith {
        endpoint: url.clone(),
        api_key: SecretString::from("lsv2_pt_not_the_key_123"),
    };
    // LangSmith answers an unknown key with 403, as it does a key of the other region.
    let message = failed(check(&wrong).await);
    assert!(message.contains("API key"), "{message}");
    assert!(message.contains("region"), "{message}");
    assert!(!message.contains("lsv2_pt_not_the_key_123"), "{message}");

    // The sample Langfuse is a real server, but not LangSmith.
    let (langfuse, _) = set.lookup(&ProfileId::from(sample::TARGET_ID)).unwrap();
    let not_ls = Credentials::LangSmith {
        endpoint: sample::sample_url(&langfuse).to_owned(),
        api_key: SecretString::from("lsv2_pt_x"),
    };
    let message = failed(check(&not_ls).await);
    assert!(message.contains("not a LangSmith server"), "{message}");

    let dead = Credentials::LangSmith {
        endpoint: "http://127.0.0.1:9".into(),
        api_key: SecretString::from("lsv2_pt_x"),
    };
    let message = failed(check(&dead).await);
    assert!(message.contains("could not be reached"), "{message}");
    // The key travels on for resumes, validation and rollback.
    assert!(secret_of(&wrong).is_some());
    set.stop().await;
}
