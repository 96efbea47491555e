//! The deterministic sample-data generator: the same seed and counts always give the same
//! project. Realistic shapes: nested observation trees of every type, chat payloads with unicode,
//! a few inputs over 1 MB, ids in the three styles real projects have (OTel hex, dashed UUIDs,
//! custom strings), timestamps spread over four weeks, and every other entity the migrator moves.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::config::SampleSpec;
use crate::store::*;

/// Timestamps are spread over the four weeks before this instant (2026-11-20T00:00:00Z), fixed so
/// the data does not depend on when it is generated.
pub const SAMPLE_END_MS: i64 = 1_795_132_800_000;
const FOUR_WEEKS_MS: i64 = 28 * 24 * 3600 * 1000;
/// The earliest timestamp the sample data uses.
pub const SAMPLE_START_MS: i64 = SAMPLE_END_MS - FOUR_WEEKS_MS;

const CHILD_TYPES: [&str; 9] = [
    "GENERATION",
    "TOOL",
    "RETRIEVER",
    "EVENT",
    "CHAIN",
    "EMBEDDING",
    "EVALUATOR",
    "GUARDRAIL",
    "SPAN",
];
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "default"];
const TAGS: [&str; 6] = ["rag", "chat", "beta", "eval", "internal", "vip"];
const QUESTIONS: [&str; 6] = [
    "How do I reset my password?",
    "Wie kündige ich mein Abo? 🤔",
    "Résume ce document en trois phrases.",
    "東京の天気はどうですか？",
    "¿Cuál es la capital de Australia?",
    "Explain transformers like I'm five 🧠",
];

struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn hex(&mut self, bytes: usize) -> String {
        (0..bytes)
            .map(|_| format!("{:02x}", self.rng.random::<u8>()))
            .collect()
    }
    fn uuid(&mut self) -> String {
        let b: [u8; 16] = self.rng.random();
        uuid::Builder::from_random_bytes(b).into_uuid().to_string()
    }
    /// Mostly OTel hex, some dashed UUIDs (older SDKs), a few custom strings.
    fn trace_id(&mut self, i: usize) -> String {
        match self.rng.random_range(0..100) {
            0..70 => self.hex(16),
            70..95 => self.uuid(),
            _ => format!("custom-trace-{i:06}"),
        }
    }
    fn obs_id(&mut self, i: usize, j: usize) -> String {
        match self.rng.random_range(0..100) {
            0..70 => self.hex(8),
            70..95 => self.uuid(),
            _ => format!("custom-obs-{i:06}-{j:03}"),
        }
    }
    fn pick<'a>(&mut self, xs: &'a [&'a str]) -> &'a str {
        xs[self.rng.random_range(0..xs.len())]
    }
}

fn big_input(i: usize) -> Raw {
    let chunk = "Lorem ipsum dolor sit amet, consectetur adipiscing elit — ünïcödé ✓ ";
    let text: String = chunk.repeat(1_100_000 / chunk.len() + 1);
    raw(&json!({"messages": [{"role": "user", "content": text}], "document": i}))
}

pub fn generate(store: &mut Store, spec: &SampleSpec) {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(spec.seed),
    };
    let project_id = store.project_id.clone();
    let derived = store.derived_traces();
    let start_of_range = SAMPLE_END_MS - FOUR_WEEKS_MS;
    let mut trace_ids = Vec::with_capacity(spec.traces);
    let mut sessions_seen: Vec<String> = Vec::new();
    let mut some_obs: Vec<(String, String)> = Vec::new();
    let big_every = (spec.traces / 3).max(1);
    for i in 0..spec.traces {
        let trace_id = g.trace_id(i);
        let ts = start_of_range
            + (FOUR_WEEKS_MS / spec.traces.max(1) as i64) * i as i64
            + g.rng.random_range(0..60_000);
        let env = g.pick(&ENVIRONMENTS).to_string();
        let user = format!("user-{}", g.rng.random_range(0..25));
        let session = (g.rng.random_range(0..10) < 6)
            .then(|| format!("session-{}", g.rng.random_range(0..(spec.traces / 3 + 1))));
        let ntags = g.rng.random_range(0..3);
        let tags: Vec<String> = (0..ntags)
            .map(|_| g.pick(&TAGS).to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let release = format!(
            "v1.{}.{}",
            g.rng.random_range(0..4),
            g.rng.random_range(0..10)
        );
        let question = g.pick(&QUESTIONS).to_string();
        let name = ["chat-turn", "rag-query", "agent-run", "summarize"][i % 4].to_string();
        let trace_input = if i % big_every == 1 && i < 3 * big_every {
            big_input(i)
        } else {
            raw(
                &json!({"messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": question}]}),
            )
        };
        let trace_output =
            raw(&json!({"role": "assistant", "content": format!("Answer #{i}: … ✓")}));
        let trace_meta = raw(
            &json!({"customer": {"tier": (["free", "pro"][i % 2]), "region": "eu"}, "requestId": g.hex(6)}),
        );
        if !derived {
            store.traces.insert(TraceRow {
                id: trace_id.clone(),
                timestamp: ts,
                name: Some(name.clone()),
                input: Some(trace_input.clone()),
                output: Some(trace_output.clone()),
                session_id: session.clone(),
                release: Some(release.clone()),
                version: Some("1".into()),
                user_id: Some(user.clone()),
                metadata: Some(trace_meta.clone()),
                tags: tags.clone(),
                public: i % 17 == 0,
                environment: env.clone(),
                created_at: ts,
                updated_at: ts,
                visible_at: 0,
            });
            if let Some(s) = &session
                && store.sessions.first_of(s).is_none()
            {
                store.sessions.insert(SessionRow {
                    id: s.clone(),
                    created_at: ts,
                    project_id: project_id.clone(),
                    environment: env.clone(),
                    visible_at: 0,
                });
            }
        }
        if let Some(s) = &session
            && !sessions_seen.contains(s)
        {
            sessions_seen.push(s.clone());
        }
        let mut ids: Vec<String> = Vec::new();
        for j in 0..spec.observations_per_trace {
            let id = g.obs_id(i, j);
            let kind = if j == 0 {
                if i % 3 == 2 { "AGENT" } else { "SPAN" }
            } else {
                CHILD_TYPES[(j - 1 + i) % CHILD_TYPES.len()]
            };
            let start = ts + (j as i64) * 150 + g.rng.random_range(0..50);
            let mut o = ObsRow::new(id.clone(), Some(trace_id.clone()), kind, start);
            o.end_time = Some(start + g.rng.random_range(20..4_000));
            o.parent_observation_id = if j == 0 {
                None
            } else {
                Some(ids[g.rng.random_range(0..ids.len())].clone())
            };
            o.name = Some(format!("{}-{}", kind.to_lowercase(), j));
            o.environment = env.clone();
            o.version = Some("1".into());
            o.created_at = start;
            o.updated_at = start;
            match g.rng.random_range(0..20) {
                0 => {
                    o.level = "ERROR".into();
                    o.status_message = Some("upstream timeout after 30s".into());
                }
                1 | 2 => {
                    o.level = "WARNING".into();
                    o.status_message = Some("retried once".into());
                }
                3 => o.level = "DEBUG".into(),
                _ => {}
            }
            if j == 0 {
                o.input = Some(trace_input.clone());
                o.output = Some(trace_output.clone());
                o.metadata = Some(trace_meta.clone());
            } else {
                o.input = Some(raw(&json!({"step": j, "query": question})));
                o.output = Some(raw(
                    &json!({"ok": true, "items": [j, j * 2], "note": "ça marche"}),
                ));
                o.metadata = Some(raw(
                    &json!({"component": kind.to_lowercase(), "attempt": 1}),
                ));
            }
            if kind == "GENERATION" {
                let input_tokens = g.rng.random_range(50..2_000);
                let output_tokens = g.rng.random_range(10..800);
                o.model =
                    Some(["gpt-4o", "claude-3-5-sonnet-20241022", "my-finetune-v2"][j % 3].into());
                o.model_parameters = Some(raw(&json!({"temperature": 0.2, "max_tokens": 1024})));
                o.usage_details = BTreeMap::from([
                    ("input".to_string(), input_tokens),
                    ("output".to_string(), output_tokens),
                    ("total".to_string(), input_tokens + output_tokens),
                ]);
                let (ci, co) = (input_tokens as f64 * 2.5e-6, output_tokens as f64 * 1e-5);
                o.cost_details = BTreeMap::from([
                    ("input".to_string(), ci),
                    ("output".to_string(), co),
                    ("total".to_string(), ci + co),
                ]);
                o.completion_start_time = Some(start + 80);
                o.prompt_name = Some(["support-answer", "summarizer"][i % 2].into());
                // support-answer has versions 1-3, summarizer 1-2.
                o.prompt_version = Some(if i % 2 == 0 {
                    1 + (i % 3) as i64
                } else {
                    1 + ((i / 2) % 2) as i64
                });
                o.input = Some(raw(&json!([{"role": "user", "content": question}])));
                o.output = Some(raw(
                    &json!({"role": "assistant", "content": "Voilà — here you go ✨"}),
                ));
            }
            if let Some(name) = &o.prompt_name {
                let version = o.prompt_version.unwrap_or(1);
                o.prompt_id = Some(format!("prompt-{name}-{version}"));
            }
            if derived {
                o.user_id = Some(user.clone());
                o.session_id = session.clone();
                o.tags = tags.clone();
                o.release = Some(release.clone());
                o.public = i % 17 == 0;
                if j == 0 {
                    o.trace_name = Some(name.clone());
                    o.trace_metadata = Some(trace_meta.clone());
                }
            }
            if some_obs.len() < 200 && j > 0 {
                some_obs.push((trace_id.clone(), id.clone()));
            }
            ids.push(id);
            store.observations.insert(o);
        }
        // Scores of every data type on traces and observations.
        let score_ts = ts + 5_000;
        let mk =
            |g: &mut Gen, name: &str, dt: &str, value: Option<f64>, sv: Option<String>| ScoreRow {
                id: g.uuid(),
                trace_id: Some(trace_id.clone()),
                session_id: None,
                observation_id: None,
                dataset_run_id: None,
                name: name.into(),
                value,
                string_value: sv,
                data_type: dt.into(),
                source: ["API", "EVAL", "ANNOTATION"][i % 3].into(),
                timestamp: score_ts,
                created_at: score_ts,
                updated_at: score_ts,
                author_user_id: (i % 3 == 2).then(|| "annotator-1".into()),
                comment: (i % 4 == 0).then(|| "looks right 👍".into()),
                metadata: Some(raw(&json!({"evaluator": "v2"}))),
                config_id: None,
                queue_id: None,
                environment: env.clone(),
                visible_at: 0,
            };
        let v = (g.rng.random_range(0..1000) as f64) / 1000.0;
        store
            .scores
            .insert(mk(&mut g, "accuracy", "NUMERIC", Some(v), None));
        if i % 2 == 0 {
            let b = g.rng.random_bool(0.5);
            store.scores.insert(mk(
                &mut g,
                "helpful",
                "BOOLEAN",
                Some(b as u8 as f64),
                Some(if b { "True" } else { "False" }.into()),
            ));
        }
        if i % 3 == 0 {
            let c = g.pick(&["good", "ok", "bad"]).to_string();
            store
                .scores
                .insert(mk(&mut g, "quality", "CATEGORICAL", Some(0.0), Some(c)));
        }
        if i % 5 == 0 {
            store.scores.insert(mk(
                &mut g,
                "feedback",
                "TEXT",
                None,
                Some("Ausführlich und korrekt.".into()),
            ));
        }
        if i % 4 == 1 && ids.len() > 1 {
            let mut s = mk(&mut g, "relevance", "NUMERIC", Some(v / 2.0), None);
            s.observation_id = Some(ids[1].clone());
            store.scores.insert(s);
        }
        trace_ids.push(trace_id);
    }
    // Session scores.
    for (k, s) in sessions_seen.iter().take(20).enumerate() {
        store.scores.insert(ScoreRow {
            id: g.uuid(),
            trace_id: None,
            session_id: Some(s.clone()),
            observation_id: None,
            dataset_run_id: None,
            name: "session-satisfaction".into(),
            value: Some((k % 5) as f64),
            string_value: None,
            data_type: "NUMERIC".into(),
            source: "ANNOTATION".into(),
            timestamp: SAMPLE_END_MS - 1_000 * k as i64,
            created_at: SAMPLE_END_MS,
            updated_at: SAMPLE_END_MS,
            author_user_id: Some("annotator-2".into()),
            comment: None,
            metadata: None,
            config_id: None,
            queue_id: None,
            environment: "default".into(),
            visible_at: 0,
        });
    }
    datasets(store, &mut g, &trace_ids, &project_id);
    prompts(store);
    configs_models_comments(
        store,
        &mut g,
        &trace_ids,
        &some_obs,
        &sessions_seen,
        &project_id,
    );
}

fn datasets(store: &mut Store, g: &mut Gen, trace_ids: &[String], project_id: &str) {
    let t0 = SAMPLE_END_MS - FOUR_WEEKS_MS;
    for (d, name) in ["qa-golden", "support/regressions"].iter().enumerate() {
        let ds = DatasetRow {
            id: g.uuid(),
            name: name.to_string(),
            description: Some(format!("Sample dataset {d}")),
            metadata: Some(raw(&json!({"owner": "ml-team"}))),
            input_schema: (d == 0).then(|| {
                raw(&json!({"type": "object", "properties": {"question": {"type": "string"}}}))
            }),
            expected_output_schema: None,
            project_id: project_id.to_string(),
            created_at: t0 + d as i64 * 1000,
            updated_at: t0 + d as i64 * 1000,
            visible_at: 0,
        };
        let mut items = Vec::new();
        for k in 0..trace_ids.len().clamp(3, 15) {
            let it = DatasetItemRow {
                id: if k % 4 == 3 {
                    format!("item-{d}-{k}")
                } else {
                    g.uuid()
                },
                status: if k % 7 == 6 { "ARCHIVED" } else { "ACTIVE" }.into(),
                input: Some(raw(&json!({"question": QUESTIONS[k % QUESTIONS.len()]}))),
                expected_output: Some(raw(&json!({"answer": format!("expected #{k}")}))),
                metadata: Some(raw(&json!({"difficulty": (["easy", "hard"][k % 2])}))),
                source_trace_id: trace_ids.get(k).cloned(),
                source_observation_id: None,
                dataset_id: ds.id.clone(),
                dataset_name: ds.name.clone(),
                created_at: t0 + 10_000 + k as i64 * 1000,
                updated_at: t0 + 10_000 + k as i64 * 1000,
                media_references: vec![],
                visible_at: 0,
            };
            items.push(it.clone());
            store.dataset_items.insert(it);
        }
        for r in 0..2 {
            let run = DatasetRunRow {
                id: g.uuid(),
                name: format!("run-{d}-{r}"),
                description: Some("nightly eval".into()),
                metadata: Some(raw(&json!({"model": "gpt-4o"}))),
                dataset_id: ds.id.clone(),
                dataset_name: ds.name.clone(),
                created_at: t0 + 100_000 + r * 1000,
                updated_at: t0 + 100_000 + r * 1000,
                visible_at: 0,
            };
            for (k, it) in items.iter().enumerate() {
                let Some(trace_id) = trace_ids.get((k + r as usize * 3) % trace_ids.len().max(1))
                else {
                    continue;
                };
                store.dataset_run_items.insert(DatasetRunItemRow {
                    id: g.uuid(),
                    dataset_run_id: run.id.clone(),
                    dataset_run_name: run.name.clone(),
                    dataset_item_id: it.id.clone(),
                    trace_id: trace_id.clone(),
                    observation_id: None,
                    created_at: run.created_at + k as i64 * 100,
                    updated_at: run.created_at + k as i64 * 100,
                    visible_at: 0,
                });
            }
            store.dataset_runs.insert(run);
        }
        store.datasets.insert(ds);
    }
}

fn prompts(store: &mut Store) {
    let t0 = SAMPLE_END_MS - FOUR_WEEKS_MS;
    let text_versions = [
        "Answer the question: {{question}}",
        "Answer briefly: {{question}}",
        "Antworte kurz und höflich: {{question}}",
    ];
    for (v, text) in text_versions.iter().enumerate() {
        let labels = match v {
            0 => vec![],
            1 => vec!["production".to_string()],
            _ => vec!["staging".to_string(), "latest".to_string()],
        };
        store.prompts.insert(PromptRow {
            id: format!("prompt-support-answer-{}", v + 1),
            name: "support-answer".into(),
            version: v as i64 + 1,
            kind: "text".into(),
            prompt: raw_str(text),
            config: raw(&json!({"temperature": 0.2 + v as f64 / 10.0, "model": "gpt-4o"})),
            labels,
            tags: vec!["support".into()],
            commit_message: Some(format!("iteration {}", v + 1)),
            created_at: t0 + v as i64 * 86_400_000,
            updated_at: t0 + v as i64 * 86_400_000,
            visible_at: 0,
        });
    }
    for v in 0..2 {
        let prompt = json!([
            {"role": "system", "content": "You summarize documents. Langue: français."},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "Summarize: {{document}}"}
        ]);
        store.prompts.insert(PromptRow {
            id: format!("prompt-summarizer-{}", v + 1),
            name: "summarizer".into(),
            version: v + 1,
            kind: "chat".into(),
            prompt: raw(&prompt),
            config: raw(&json!({"max_tokens": 512 + v * 256})),
            labels: if v == 1 {
                vec!["production".into(), "latest".into()]
            } else {
                vec![]
            },
            tags: vec![],
            commit_message: None,
            created_at: t0 + v * 3_600_000,
            updated_at: t0 + v * 3_600_000,
            visible_at: 0,
        });
    }
    store.prompts.insert(PromptRow {
        id: "prompt-folder-classifier-1".into(),
        name: "agents/router/classifier".into(),
        version: 1,
        kind: "text".into(),
        prompt: raw_str("Classify the intent of: {{input}}"),
        config: empty_object(),
        labels: vec!["production".into(), "latest".into()],
        tags: vec!["agents".into()],
        commit_message: None,
        created_at: t0,
        updated_at: t0,
        visible_at: 0,
    });
}

fn configs_models_comments(
    store: &mut Store,
    g: &mut Gen,
    trace_ids: &[String],
    obs: &[(String, String)],
    sessions: &[String],
    project_id: &str,
) {
    let t0 = SAMPLE_END_MS - FOUR_WEEKS_MS;
    let configs = [
        ("accuracy", "NUMERIC", Some(0.0), Some(1.0), None),
        (
            "helpful",
            "BOOLEAN",
            None,
            None,
            Some(vec![
                ConfigCategory {
                    value: 1.0,
                    label: "True".into(),
                },
                ConfigCategory {
                    value: 0.0,
                    label: "False".into(),
                },
            ]),
        ),
        (
            "quality",
            "CATEGORICAL",
            None,
            None,
            Some(vec![
                ConfigCategory {
                    value: 0.0,
                    label: "bad".into(),
                },
                ConfigCategory {
                    value: 1.0,
                    label: "ok".into(),
                },
                ConfigCategory {
                    value: 2.0,
                    label: "good".into(),
                },
            ]),
        ),
        ("feedback", "TEXT", None, None, None),
    ];
    for (k, (name, dt, min, max, cats)) in configs.into_iter().enumerate() {
        store.score_configs.insert(ScoreConfigRow {
            id: g.uuid(),
            name: name.into(),
            created_at: t0 + k as i64,
            updated_at: t0 + k as i64,
            project_id: project_id.to_string(),
            data_type: dt.into(),
            is_archived: k == 3,
            min_value: min,
            max_value: max,
            categories: cats,
            description: Some(format!("{name} score")),
            visible_at: 0,
        });
    }
    for (k, (name, pattern)) in [
        ("my-finetune-v2", "(?i)^(my-finetune-v2)$"),
        ("internal-llama-70b", "(?i)^(internal/)?llama-70b$"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut prices = BTreeMap::new();
        prices.insert(
            "input".into(),
            ModelPrice {
                price: 1e-6 * (k + 1) as f64,
            },
        );
        prices.insert(
            "output".into(),
            ModelPrice {
                price: 3e-6 * (k + 1) as f64,
            },
        );
        store.models.insert(ModelRow {
            id: g.uuid(),
            model_name: name.into(),
            match_pattern: pattern.into(),
            start_date: (k == 1).then_some(t0),
            unit: Some("TOKENS".into()),
            input_price: Some(1e-6 * (k + 1) as f64),
            output_price: Some(3e-6 * (k + 1) as f64),
            total_price: None,
            tokenizer_id: (k == 0).then(|| "openai".into()),
            tokenizer_config: (k == 0)
                .then(|| raw(&json!({"tokensPerMessage": 3, "tokenizerModel": "gpt-4o"}))),
            is_langfuse_managed: false,
            created_at: t0 + k as i64,
            prices,
            pricing_tiers: vec![],
            visible_at: 0,
        });
    }
    let mut targets: Vec<(&str, String)> = Vec::new();
    targets.extend(trace_ids.iter().take(5).map(|t| ("TRACE", t.clone())));
    targets.extend(obs.iter().take(3).map(|(_, o)| ("OBSERVATION", o.clone())));
    targets.extend(sessions.iter().take(2).map(|s| ("SESSION", s.clone())));
    targets.push(("PROMPT", "prompt-support-answer-2".into()));
    for (k, (kind, id)) in targets.into_iter().enumerate() {
        store.comments.insert(CommentRow {
            id: g.uuid(),
            project_id: project_id.to_string(),
            created_at: t0 + 200_000 + k as i64 * 1000,
            updated_at: t0 + 200_000 + k as i64 * 1000,
            object_type: kind.into(),
            object_id: id,
            content: ["Checked — fine.", "Needs a follow-up 🔍", "Bitte prüfen."][k % 3].into(),
            author_user_id: Some(format!("user-{}", k % 3)),
            visible_at: 0,
        });
    }
}
