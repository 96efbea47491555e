//! The deterministic sample workspace: two tracing projects of RAG chains and tool-calling
//! agents (an erroring tool, runs still pending, LangChain-serialised messages, usage and cost
//! details, `first_token_time`, `new_token` events, tags, thread/session/user metadata, a child
//! that starts before its parent), a dataset with split examples and an experiment over it,
//! feedback of every kind and source, feedback configs, and prompt repos with several commits
//! and tags (chat and text, f-string and mustache, one with a model).
//!
//! Everything starts on [`SAMPLE_DAY`], long before "one day ago", so a v2 query without
//! `min_start_time` finds none of it — as on LangSmith.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::config::SampleSpec;
use crate::routes::{datasets, feedback, ingest, prompts};
use crate::store::Store;
use crate::timefmt::{dotted_segment, format_us};

/// 2026-03-02T09:00:00Z in µs since the epoch.
pub const SAMPLE_DAY: i64 = 1_772_442_000_000_000;

pub const PROJECTS: [&str; 2] = ["support-bot", "research-agent"];
pub const DATASET: &str = "support-qa";
pub const EXPERIMENT: &str = "support-qa-gpt-4o-mini-3f2a";

struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn uuid(&mut self) -> String {
        let mut b = [0u8; 16];
        self.rng.fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid().to_string()
    }
}

fn lc_message(kind: &str, role: &str, content: &str) -> Value {
    json!({"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", kind],
           "kwargs": {"content": content, "type": role}})
}

/// One run under construction; `parent` is (dotted order, trace id).
struct Node<'a> {
    id: String,
    name: &'a str,
    run_type: &'a str,
    start: i64,
    end: Option<i64>,
    parent: Option<(&'a str, &'a str)>,
    session: &'a str,
    extra: Value,
    inputs: Value,
    outputs: Value,
}

fn push(store: &mut Store, n: Node, more: Map<String, Value>) -> (String, String) {
    let seg = dotted_segment(n.start, &n.id);
    let (dotted, trace, parent_id) = match n.parent {
        Some((pd, t)) => {
            let pid = pd
                .rsplit('.')
                .next()
                .and_then(|s| s.split_once('Z'))
                .map(|(_, id)| id.to_string());
            (format!("{pd}.{seg}"), t.to_string(), pid)
        }
        None => (seg, n.id.clone(), None),
    };
    let mut extra = n.extra;
    if let Value::Object(e) = &mut extra {
        e.insert("runtime".into(), sdk_runtime());
    }
    let mut v = json!({
        "id": n.id, "name": n.name, "run_type": n.run_type,
        "start_time": format_us(n.start), "end_time": n.end.map(format_us),
        "extra": extra, "error": null, "inputs": n.inputs,
        "outputs": if n.end.is_some() { n.outputs } else { Value::Null },
        "parent_run_id": parent_id, "events": [], "tags": [],
        "trace_id": trace, "dotted_order": dotted, "session_id": n.session,
        "reference_example_id": null,
    });
    if let Value::Object(m) = &mut v {
        m.extend(more);
    }
    let Value::Object(m) = v else { unreachable!() };
    let _ = ingest::post_run(store, m);
    (dotted, trace)
}

/// What the LangSmith Python SDK puts in every run's `extra.runtime` (`get_runtime_environment`).
fn sdk_runtime() -> Value {
    json!({"sdk": "langsmith-py", "sdk_version": "0.4.37", "library": "langsmith",
           "platform": "Linux-6.8.0-x86_64-with-glibc2.39", "runtime": "python",
           "py_implementation": "CPython", "runtime_version": "3.12.3"})
}

fn conversation_meta(i: usize, project: &str) -> Value {
    let key = ["thread_id", "session_id", "conversation_id"][i % 3];
    json!({
        key: format!("conv-{:04}", i / 2),
        "user_id": format!("user-{}", i % 7),
        "revision_id": if i.is_multiple_of(2) { "v1.4.0" } else { "v1.5.0-rc1" },
        "ls_project": project,
    })
}

fn with(meta: &Value, extra: Value) -> Value {
    let mut m = meta.as_object().cloned().unwrap_or_default();
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    Value::Object(m)
}

/// An llm run's fields: LangChain messages in, a generation out, usage and cost details,
/// `first_token_time` and `new_token` events; `tool_call` makes the model call a tool.
fn llm_fields(
    start: i64,
    end: Option<i64>,
    i: usize,
    tool_call: Option<&str>,
) -> Map<String, Value> {
    let prompt = 220 + (i as i64 % 17) * 9;
    let completion = 40 + (i as i64 % 11) * 5;
    let cached = 64;
    let reasoning = if i.is_multiple_of(2) { 12 } else { 0 };
    let pc = prompt as f64 * 0.00000015;
    let cc = completion as f64 * 0.0000006;
    let first = start + 180_000;
    let mut events = vec![json!({"name": "start", "time": format_us(start)})];
    if end.is_some() {
        for (k, tok) in ["The", " answer", " is"].iter().enumerate() {
            events.push(json!({"name": "new_token", "time": format_us(first + k as i64 * 20_000), "kwargs": {"token": tok}}));
        }
        events.push(json!({"name": "end", "time": format_us(end.unwrap_or(start))}));
    }
    let mut message =
        json!({"content": "The answer is in the refund policy, section 2.", "type": "ai"});
    if let Some(tool) = tool_call {
        message["content"] = json!("");
        message["tool_calls"] = json!([{"name": tool, "args": {"query": format!("order {i}")}, "id": format!("call_{i:04}"), "type": "tool_call"}]);
    }
    let mut m = Map::new();
    m.insert("events".into(), json!(events));
    if end.is_none() {
        return m;
    }
    m.insert("outputs".into(), json!({
        "generations": [[{"text": message["content"], "type": "ChatGeneration",
            "message": {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "AIMessage"], "kwargs": message}}]],
        "llm_output": {"model_name": "gpt-4o-mini", "token_usage": {"prompt_tokens": prompt, "completion_tokens": completion}},
    }));
    m.insert("first_token_time".into(), json!(format_us(first)));
    m.insert("prompt_tokens".into(), json!(prompt));
    m.insert("completion_tokens".into(), json!(completion));
    m.insert("total_tokens".into(), json!(prompt + completion));
    m.insert(
        "prompt_token_details".into(),
        json!({"cache_read": cached, "audio": 0}),
    );
    m.insert(
        "completion_token_details".into(),
        json!({"reasoning": reasoning}),
    );
    m.insert("prompt_cost".into(), json!(format!("{pc:.8}")));
    m.insert("completion_cost".into(), json!(format!("{cc:.8}")));
    m.insert("total_cost".into(), json!(format!("{:.8}", pc + cc)));
    m.insert(
        "prompt_cost_details".into(),
        json!({"cache_read": format!("{:.8}", cached as f64 * 0.000000075)}),
    );
    m.insert(
        "completion_cost_details".into(),
        json!({"reasoning": format!("{:.8}", reasoning as f64 * 0.0000006)}),
    );
    m
}

fn llm_extra(meta: &Value, model: &str) -> Value {
    json!({
        "invocation_params": {"model": model, "model_name": model, "temperature": 0.2, "max_tokens": 512, "stream": true, "_type": "openai-chat"},
        "options": {"stop": null},
        "batch_size": 1,
        "metadata": with(meta, json!({"ls_provider": "openai", "ls_model_name": model, "ls_model_type": "chat", "ls_temperature": 0.2})),
    })
}

fn chat_inputs(question: &str) -> Value {
    json!({"messages": [[
        lc_message("SystemMessage", "system", "You are a helpful support assistant."),
        lc_message("HumanMessage", "human", question),
    ]]})
}

/// The shape of a RAG chain.
#[derive(Clone, Copy, PartialEq)]
enum Rag {
    Plain,
    /// The root and the llm have not ended.
    Pending,
    /// The retriever starts 2 ms before its parent.
    Skewed,
}

/// A RAG chain: retriever → embedding, prompt, llm, parser.
fn rag(
    store: &mut Store,
    g: &mut Gen,
    i: usize,
    session: &str,
    project: &str,
    t0: i64,
    shape: Rag,
) -> (String, String) {
    let (pending, skew) = (shape == Rag::Pending, shape == Rag::Skewed);
    let meta = conversation_meta(i, project);
    let question = format!("How do I get a refund for order {i}?");
    let root_id = g.uuid();
    let end = if pending { None } else { Some(t0 + 2_400_000) };
    let mut root_more = Map::new();
    root_more.insert(
        "tags".into(),
        json!(["rag", "production", format!("tier-{}", i % 3)]),
    );
    let (rd, trace) = push(
        store,
        Node {
            id: root_id.clone(),
            name: "rag-pipeline",
            run_type: "chain",
            start: t0,
            end,
            parent: None,
            session,
            extra: json!({"metadata": meta}),
            inputs: json!({"question": question}),
            outputs: json!({"answer": "The answer is in the refund policy, section 2."}),
        },
        root_more,
    );
    let rs = if skew { t0 - 2_000 } else { t0 + 5_000 };
    let ret_id = g.uuid();
    let (retd, _) = push(
        store,
        Node {
            id: ret_id,
            name: "vector-search",
            run_type: "retriever",
            start: rs,
            end: Some(t0 + 300_000),
            parent: Some((&rd, &trace)),
            session,
            extra: json!({"metadata": meta}),
            inputs: json!({"query": question}),
            outputs: json!({"documents": [{"page_content": "Refunds are issued within 14 days.", "metadata": {"source": "policy.md"}, "type": "Document"}]}),
        },
        Map::new(),
    );
    let mut emb = Map::new();
    emb.insert("prompt_tokens".into(), json!(12));
    emb.insert("total_tokens".into(), json!(12));
    emb.insert("prompt_cost".into(), json!("0.00000024"));
    emb.insert("total_cost".into(), json!("0.00000024"));
    push(
        store,
        Node {
            id: g.uuid(),
            name: "OpenAIEmbeddings",
            run_type: "embedding",
            start: rs + 10_000,
            end: Some(rs + 120_000),
            parent: Some((&retd, &trace)),
            session,
            extra: json!({"invocation_params": {"model": "text-embedding-3-small"}, "metadata": with(&meta, json!({"ls_model_name": "text-embedding-3-small", "ls_provider": "openai"}))}),
            inputs: json!({"input": [question]}),
            outputs: json!({"embeddings_count": 1}),
        },
        emb,
    );
    push(
        store,
        Node {
            id: g.uuid(),
            name: "ChatPromptTemplate",
            run_type: "prompt",
            start: t0 + 310_000,
            end: Some(t0 + 312_000),
            parent: Some((&rd, &trace)),
            session,
            extra: json!({"metadata": meta}),
            inputs: json!({"question": question, "context": "Refunds are issued within 14 days."}),
            outputs: json!({"output": {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "ChatPromptValue"], "kwargs": {"messages": [lc_message("HumanMessage", "human", &question)]}}}),
        },
        Map::new(),
    );
    let ls = t0 + 320_000;
    let lend = if pending { None } else { Some(t0 + 2_200_000) };
    let mut llm_more = llm_fields(ls, lend, i, None);
    llm_more.insert("tags".into(), json!(["seq:step:3"]));
    push(
        store,
        Node {
            id: g.uuid(),
            name: "ChatOpenAI",
            run_type: "llm",
            start: ls,
            end: lend,
            parent: Some((&rd, &trace)),
            session,
            extra: llm_extra(&meta, "gpt-4o-mini"),
            inputs: chat_inputs(&question),
            outputs: Value::Null,
        },
        llm_more,
    );
    if !pending {
        push(
            store,
            Node {
                id: g.uuid(),
                name: "StrOutputParser",
                run_type: "parser",
                start: t0 + 2_210_000,
                end: Some(t0 + 2_211_000),
                parent: Some((&rd, &trace)),
                session,
                extra: json!({"metadata": meta}),
                inputs: json!({"input": "The answer is in the refund policy, section 2."}),
                outputs: json!({"output": "The answer is in the refund policy, section 2."}),
            },
            Map::new(),
        );
    }
    (root_id, trace)
}

/// A tool-calling agent: model → tool → model → an erroring tool → model.
fn agent(
    store: &mut Store,
    g: &mut Gen,
    i: usize,
    session: &str,
    project: &str,
    t0: i64,
) -> (String, String) {
    let meta = conversation_meta(i, project);
    let root_id = g.uuid();
    let mut more = Map::new();
    more.insert("tags".into(), json!(["agent", format!("tier-{}", i % 3)]));
    let (rd, trace) = push(
        store,
        Node {
            id: root_id.clone(),
            name: "support-agent",
            run_type: "chain",
            start: t0,
            end: Some(t0 + 5_000_000),
            parent: None,
            session,
            extra: json!({"metadata": with(&meta, json!({"agent_type": "tool-calling"}))}),
            inputs: json!({"input": format!("Where is my order {i}?")}),
            outputs: json!({"output": "Your order ships tomorrow."}),
        },
        more,
    );
    let steps: [(&str, &str, Option<&str>); 5] = [
        ("ChatOpenAI", "llm", Some("search_orders")),
        ("search_orders", "tool", None),
        ("ChatOpenAI", "llm", Some("refund_lookup")),
        ("refund_lookup", "tool", None),
        ("ChatOpenAI", "llm", None),
    ];
    for (k, (name, ty, call)) in steps.iter().enumerate() {
        let s = t0 + 10_000 + k as i64 * 900_000;
        let e = s + 800_000;
        let (extra, inputs, mut more) = if *ty == "llm" {
            (
                llm_extra(&meta, "gpt-4o-mini"),
                chat_inputs(&format!("Where is my order {i}?")),
                llm_fields(s, Some(e), i + k, *call),
            )
        } else {
            (
                json!({"metadata": meta}),
                json!({"input": format!("order {i}")}),
                Map::new(),
            )
        };
        let mut outputs = json!({"output": format!("order {i}: shipped")});
        if *name == "refund_lookup" {
            more.insert("error".into(), json!(format!("ToolException: no refund found for order {i}\nTraceback (most recent call last): ...")));
            outputs = Value::Null;
        }
        push(
            store,
            Node {
                id: g.uuid(),
                name,
                run_type: ty,
                start: s,
                end: Some(e),
                parent: Some((&rd, &trace)),
                session,
                extra,
                inputs,
                outputs,
            },
            more,
        );
    }
    (root_id, trace)
}

fn put_feedback(store: &mut Store, g: &mut Gen, run: &str, body: Value, created: i64) {
    let mut b = body;
    b["id"] = json!(g.uuid());
    b["run_id"] = json!(run);
    b["created_at"] = json!(format_us(created));
    let _ = feedback::insert(store, b);
}

fn project(
    store: &mut Store,
    g: &mut Gen,
    name: &str,
    start: i64,
    dataset: Option<&str>,
) -> String {
    let id = g.uuid();
    store.projects.insert(
        id.clone(),
        json!({
            "id": id, "name": name, "tenant_id": store.tenant_id, "start_time": format_us(start),
            "end_time": null, "extra": {"metadata": {}}, "description": null,
            "default_dataset_id": null, "reference_dataset_id": dataset, "trace_tier": "longlived",
        }),
    );
    id
}

pub fn generate(store: &mut Store, spec: &SampleSpec) {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(spec.seed),
    };
    let sessions: Vec<String> = PROJECTS
        .iter()
        .map(|p| project(store, &mut g, p, SAMPLE_DAY - 3_600_000_000, None))
        .collect();
    let mut roots = Vec::new();
    for i in 0..spec.traces {
        let which = usize::from(i % 5 == 4);
        let (session, pname) = (sessions[which].clone(), PROJECTS[which]);
        let t0 = SAMPLE_DAY + i as i64 * 37_000_000 + g.rng.random_range(0..1_000_000);
        let (root, trace) = match i % 4 {
            1 => agent(store, &mut g, i, &session, pname, t0),
            2 => rag(
                store,
                &mut g,
                i,
                &session,
                pname,
                t0,
                if i % 8 == 2 { Rag::Pending } else { Rag::Plain },
            ),
            3 => rag(store, &mut g, i, &session, pname, t0, Rag::Skewed),
            _ => rag(store, &mut g, i, &session, pname, t0, Rag::Plain),
        };
        roots.push((root.clone(), trace.clone()));
        let created = t0 + 60_000_000;
        match i % 3 {
            0 => put_feedback(
                store,
                &mut g,
                &root,
                json!({"key": "user_score", "score": 0.8, "comment": "Clear answer",
                "feedback_source": {"type": "app", "metadata": {"via": "thumbs"}}}),
                created,
            ),
            1 => put_feedback(
                store,
                &mut g,
                &root,
                json!({"key": "helpful", "score": true,
                "feedback_source": {"type": "api"}}),
                created,
            ),
            _ => {
                // On the llm child: feedback not on the root.
                let llm = store
                    .trace_runs(&trace)
                    .find(|r| r.str("run_type") == Some("llm"))
                    .map(|r| r.id().to_string());
                if let Some(llm) = llm {
                    put_feedback(
                        store,
                        &mut g,
                        &llm,
                        json!({"key": "tone", "value": "friendly",
                        "feedback_source": {"type": "model", "metadata": {"evaluator": "tone-judge"}}}),
                        created,
                    );
                }
            }
        }
        if i % 7 == 0 {
            put_feedback(
                store,
                &mut g,
                &root,
                json!({"key": "correction", "score": 0, "comment": "Policy says 30 days",
                "correction": {"answer": "Refunds are issued within 30 days."},
                "feedback_source": {"type": "app"}}),
                created + 1_000_000,
            );
        }
    }
    for (key, cfg) in [
        (
            "user_score",
            json!({"type": "continuous", "min": 0.0, "max": 1.0}),
        ),
        (
            "helpful",
            json!({"type": "categorical", "categories": [{"value": 0, "label": "no"}, {"value": 1, "label": "yes"}]}),
        ),
        ("tone", json!({"type": "freeform"})),
    ] {
        store.feedback_configs.insert(key.into(), json!({
            "feedback_key": key, "feedback_config": cfg, "tenant_id": store.tenant_id,
            "modified_at": format_us(SAMPLE_DAY - 86_400_000_000), "is_lower_score_better": false,
        }));
    }
    experiment(store, &mut g, &roots);
    prompts_sample(store);
}

/// A dataset of six examples (train/test splits, some from production runs) and an experiment
/// project over it whose root runs point at their examples.
fn experiment(store: &mut Store, g: &mut Gen, roots: &[(String, String)]) {
    let ds_id = g.uuid();
    let created = format_us(SAMPLE_DAY - 7_200_000_000);
    store.datasets.insert(ds_id.clone(), json!({
        "id": ds_id, "name": DATASET, "tenant_id": store.tenant_id,
        "description": "Refund questions with reference answers", "created_at": created, "modified_at": created,
        "data_type": "kv", "inputs_schema_definition": null, "outputs_schema_definition": null,
        "externally_managed": false, "transformations": null, "metadata": {"owner": "support-team"},
        "last_session_start_time": null, "baseline_experiment_id": null,
    }));
    let mut examples = Vec::new();
    for k in 0..6 {
        let id = g.uuid();
        let split = match k % 3 {
            0 => json!(["train"]),
            1 => json!(["test"]),
            _ => json!(["train", "hard"]),
        };
        let _ = datasets::insert_example(
            store,
            &json!({
                "id": id, "dataset_id": ds_id,
                "inputs": {"question": format!("How do I get a refund for order {k}?")},
                "outputs": {"answer": "Refunds are issued within 14 days."},
                "metadata": {"difficulty": k % 3}, "split": split,
                "source_run_id": roots.get(k * 4).map(|r| r.0.clone()),
                "created_at": format_us(SAMPLE_DAY - 7_000_000_000 + k as i64 * 1_000_000),
            }),
        );
        examples.push(id);
    }
    let t0 = SAMPLE_DAY + 7_200_000_000;
    let session = project(store, g, EXPERIMENT, t0, Some(&ds_id));
    for (k, ex) in examples.iter().enumerate() {
        let s = t0 + k as i64 * 3_000_000;
        let root = g.uuid();
        let mut more = Map::new();
        more.insert("reference_example_id".into(), json!(ex));
        let (rd, trace) = push(
            store,
            Node {
                id: root.clone(),
                name: "target",
                run_type: "chain",
                start: s,
                end: Some(s + 1_500_000),
                parent: None,
                session: &session,
                extra: json!({"metadata": {"example_version": created, "num_repetitions": 1}}),
                inputs: json!({"question": format!("How do I get a refund for order {k}?")}),
                outputs: json!({"answer": "Refunds are issued within 14 days."}),
            },
            more,
        );
        let meta = json!({});
        push(
            store,
            Node {
                id: g.uuid(),
                name: "ChatOpenAI",
                run_type: "llm",
                start: s + 10_000,
                end: Some(s + 1_400_000),
                parent: Some((&rd, &trace)),
                session: &session,
                extra: llm_extra(&meta, "gpt-4o-mini"),
                inputs: chat_inputs("refund?"),
                outputs: Value::Null,
            },
            llm_fields(s + 10_000, Some(s + 1_400_000), k, None),
        );
        put_feedback(
            store,
            g,
            &root,
            json!({"key": "correctness", "score": if k % 2 == 0 { 1.0 } else { 0.5 },
            "comment": "graded by LLM judge", "feedback_source": {"type": "model", "metadata": {"model": "gpt-4o"}}}),
            s + 2_000_000,
        );
    }
}

fn template(format: &str, text: &str, vars: &[&str]) -> Value {
    json!({"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
           "kwargs": {"input_variables": vars, "template": text, "template_format": format}})
}

fn chat(system: &str, human: &str, vars: &[&str]) -> Value {
    let msg = |kind: &str, text: &str| {
        json!({"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", kind],
        "kwargs": {"prompt": template("f-string", text, vars)}})
    };
    json!({"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "ChatPromptTemplate"],
           "kwargs": {"input_variables": vars, "messages": [msg("SystemMessagePromptTemplate", system), msg("HumanMessagePromptTemplate", human)]}})
}

fn prompts_sample(store: &mut Store) {
    let day = |d: i64| {
        Some(format_us(
            SAMPLE_DAY - 30 * 86_400_000_000 + d * 86_400_000_000,
        ))
    };
    let commit = |store: &mut Store, repo: &str, manifest: Value, d: i64| -> String {
        prompts::insert_commit(store, repo, &json!({"manifest": manifest}), day(d))
            .map(|c| c["id"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    let _ = prompts::insert_repo(
        store,
        &json!({"repo_handle": "support-agent-prompt", "description": "System prompt of the support bot", "tags": ["support"]}),
        Some("5d1c0e6a-0000-4000-8000-0000000000a1".into()),
    );
    let vars = ["context", "question"];
    let c1 = commit(
        store,
        "support-agent-prompt",
        chat(
            "You are a support bot. Context: {context}",
            "{question}",
            &vars,
        ),
        1,
    );
    let c2 = commit(
        store,
        "support-agent-prompt",
        chat(
            "You are a friendly support bot. Use only this context: {context}",
            "Customer asks: {question}",
            &vars,
        ),
        5,
    );
    let model = json!({"lc": 1, "type": "constructor", "id": ["langchain", "schema", "runnable", "RunnableSequence"],
        "kwargs": {"first": chat("You are a friendly support bot. Answer in JSON like {{\"answer\": ...}}. Context: {context}", "Customer asks: {question}", &vars),
                   "last": {"lc": 1, "type": "constructor", "id": ["langchain", "chat_models", "openai", "ChatOpenAI"],
                            "kwargs": {"model_name": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 512}}}});
    let c3 = commit(store, "support-agent-prompt", model, 9);
    let _ = prompts::put_tag(store, "support-agent-prompt", "production", &c2);
    let _ = prompts::put_tag(store, "support-agent-prompt", "staging", &c3);
    let _ = c1;
    let _ = prompts::insert_repo(
        store,
        &json!({"repo_handle": "summarize", "description": "Summaries of tickets"}),
        Some("5d1c0e6a-0000-4000-8000-0000000000a2".into()),
    );
    let s1 = commit(
        store,
        "summarize",
        template("mustache", "Summarize this ticket: {{ticket}}", &["ticket"]),
        2,
    );
    commit(
        store,
        "summarize",
        template(
            "mustache",
            "Summarize this ticket in {{words}} words: {{ticket}}",
            &["ticket", "words"],
        ),
        6,
    );
    let _ = prompts::put_tag(store, "summarize", "production", &s1);
    let _ = prompts::insert_repo(
        store,
        &json!({"repo_handle": "json-extractor"}),
        Some("5d1c0e6a-0000-4000-8000-0000000000a3".into()),
    );
    commit(
        store,
        "json-extractor",
        template(
            "f-string",
            "Extract {field} from {text} as {{\"{field}\": ...}}",
            &["field", "text"],
        ),
        3,
    );
}
