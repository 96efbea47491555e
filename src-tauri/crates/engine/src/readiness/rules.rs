//! API usage that changed between major SDK versions, as listed in Langfuse's upgrade guides.
//! Each rule is a pattern for one line of source code (a few also look at the call's
//! arguments, which may span lines), the SDK major version in which the usage changed, and
//! what to do instead. Lines that are comments are not matched.

use super::resolve::{self, Project};
use super::{AppFinding, FindingKind, FindingSeverity, TargetServer, guides};
use regex::{Regex, RegexSet};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    Python,
    JavaScript,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Python => "python",
            Ecosystem::JavaScript => "javascript",
        }
    }
}

struct RuleDef {
    ecosystem: Ecosystem,
    pattern: &'static str,
    /// When set, the call's arguments (up to its closing parenthesis) must match this too.
    args: Option<&'static str>,
    subject: &'static str,
    /// The SDK major version in which this usage changed or went away.
    changed_in: u64,
    message: &'static str,
    action: &'static str,
    guide: &'static str,
}

use Ecosystem::{JavaScript as Js, Python as Py};

const RULES: &[RuleDef] = &[
    // Python v2 → v3
    RuleDef {
        ecosystem: Py,
        pattern: r"\blangfuse\.decorators\b",
        args: None,
        subject: "langfuse.decorators",
        changed_in: 3,
        message: "`from langfuse.decorators import observe, langfuse_context` was replaced by `from langfuse import observe, get_client` in Python SDK v3.",
        action: "Import `observe` and `get_client` from `langfuse`.",
        guide: guides::PY_V2_TO_V3,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\blangfuse_context\.",
        args: None,
        subject: "langfuse_context",
        changed_in: 3,
        message: "`langfuse_context` does not exist in Python SDK v3; the client from `get_client()` updates the current span and trace.",
        action: "Call the same method on `get_client()`.",
        guide: guides::PY_V2_TO_V3,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\blangfuse\.callback\b",
        args: None,
        subject: "langfuse.callback.CallbackHandler",
        changed_in: 3,
        message: "The LangChain handler moved from `langfuse.callback` to `langfuse.langchain` in Python SDK v3.",
        action: "Import `CallbackHandler` from `langfuse.langchain`.",
        guide: guides::PY_V2_TO_V3,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bCallbackHandler\(",
        args: Some(r"\b(user_id|session_id|trace_name|tags|release|version)\s*="),
        subject: "CallbackHandler(user_id=…, session_id=…)",
        changed_in: 3,
        message: "CallbackHandler no longer takes trace attributes as arguments in Python SDK v3.",
        action: "Pass them in the invocation's metadata: `metadata={\"langfuse_user_id\": …, \"langfuse_session_id\": …}`.",
        guide: guides::PY_V2_TO_V3,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bLlamaIndexCallbackHandler\b",
        args: None,
        subject: "LlamaIndexCallbackHandler",
        changed_in: 3,
        message: "The LlamaIndex callback handler was removed in Python SDK v3.",
        action: "Use the OpenInference LlamaIndex instrumentation with Langfuse.",
        guide: guides::PY_V2_TO_V3,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\blangfuse\.(trace|span|generation)\(",
        args: None,
        subject: "langfuse.trace() / .span() / .generation()",
        changed_in: 3,
        message: "The low-level `trace()`, `span()` and `generation()` calls were replaced by `start_as_current_observation(as_type=…)` in Python SDK v3; observations must be ended.",
        action: "Use `start_as_current_observation(as_type=\"span\" | \"generation\")` as a context manager.",
        guide: guides::PY_V2_TO_V3,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bLangfuse\(",
        args: Some(r"\b(enabled|threads)\s*="),
        subject: "Langfuse(enabled=…, threads=…)",
        changed_in: 3,
        message: "Constructor arguments were renamed in Python SDK v3: `enabled` → `tracing_enabled`, `threads` → `media_upload_thread_count`.",
        action: "Rename the arguments.",
        guide: guides::PY_V2_TO_V3,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bget_trace_id\(",
        args: None,
        subject: "get_trace_id()",
        changed_in: 3,
        message: "`get_trace_id` became `get_current_trace_id` in Python SDK v3.",
        action: "Call `get_client().get_current_trace_id()`.",
        guide: guides::PY_V2_TO_V3,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bitem\.link\(",
        args: None,
        subject: "dataset item.link()",
        changed_in: 3,
        message: "Dataset `item.link()` became `item.run()` in Python SDK v3.",
        action: "Use `with item.run(run_name=…) as span:`.",
        guide: guides::PY_V2_TO_V3,
    },
    // Python v3 → v4
    RuleDef {
        ecosystem: Py,
        pattern: r"\bupdate_current_trace\(",
        args: None,
        subject: "update_current_trace()",
        changed_in: 4,
        message: "`update_current_trace()` was replaced in Python SDK v4 by `propagate_attributes(trace_name=, user_id=, session_id=, tags=, version=, metadata=)` plus `set_current_trace_io()`; `release` and `environment` moved to environment variables.",
        action: "Wrap the work in `with propagate_attributes(...)`; set input/output with `set_current_trace_io()`.",
        guide: guides::PY_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\.update_trace\(",
        args: None,
        subject: "span.update_trace()",
        changed_in: 4,
        message: "`span.update_trace()` was replaced by `propagate_attributes(...)` and `set_trace_io()` in Python SDK v4.",
        action: "Use `propagate_attributes(...)` for trace attributes.",
        guide: guides::PY_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\.start_(span|generation)\(",
        args: None,
        subject: "start_span() / start_generation()",
        changed_in: 4,
        message: "`start_span` and `start_generation` became `start_observation(as_type=…)` in Python SDK v4.",
        action: "Call `start_observation(as_type=\"span\" | \"generation\", …)`.",
        guide: guides::PY_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bapi\.observations_v_2\b",
        args: None,
        subject: "api.observations_v_2",
        changed_in: 4,
        message: "`api.observations_v_2` became `api.observations` in Python SDK v4; older resources moved under `api.legacy.*_v1`.",
        action: "Use `api.observations`.",
        guide: guides::PY_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bCallbackHandler\(",
        args: Some(r"\bupdate_trace\s*="),
        subject: "CallbackHandler(update_trace=…)",
        changed_in: 4,
        message: "CallbackHandler raises `TypeError` for `update_trace=` in Python SDK v4.",
        action: "Remove `update_trace=`; set trace attributes with `propagate_attributes(...)`.",
        guide: guides::PY_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\b(TraceMetadata|ObservationParams)\b",
        args: None,
        subject: "TraceMetadata / ObservationParams",
        changed_in: 4,
        message: "The types `TraceMetadata` and `ObservationParams` were removed in Python SDK v4.",
        action: "Remove the imports and use plain keyword arguments.",
        guide: guides::PY_V3_TO_V4,
    },
    // Python v4 → v5
    RuleDef {
        ecosystem: Py,
        pattern: r"\bblocked_instrumentation_scopes\b",
        args: None,
        subject: "blocked_instrumentation_scopes",
        changed_in: 5,
        message: "`blocked_instrumentation_scopes` raises `TypeError` in Python SDK v5.",
        action: "Filter spans with `should_export_span`.",
        guide: guides::PY_V4_TO_V5,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bset_(current_)?trace_io\(",
        args: None,
        subject: "set_current_trace_io() / set_trace_io()",
        changed_in: 5,
        message: "`set_current_trace_io` and `set_trace_io` were removed in Python SDK v5.",
        action: "Let trace input and output come from the root observation.",
        guide: guides::PY_V4_TO_V5,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\b(get_dataset_runs?|delete_dataset_run)\(",
        args: None,
        subject: "get_dataset_run(s) / delete_dataset_run",
        changed_in: 5,
        message: "Dataset-run methods were removed in Python SDK v5 (runs are experiments: `dataset_run_id` → `experiment_id`).",
        action: "Use the experiments API.",
        guide: guides::PY_V4_TO_V5,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bapi\.(trace\.(get|list)\b|sessions\.|legacy\.|dataset_run_items\b)",
        args: None,
        subject: "api.trace / api.sessions / api.legacy / api.dataset_run_items",
        changed_in: 5,
        message: "These API resources were removed in Python SDK v5.",
        action: "Read observations through `api.observations` and scores with `api.scores.get_many`.",
        guide: guides::PY_V4_TO_V5,
    },
    RuleDef {
        ecosystem: Py,
        pattern: r"\bapi\.scores_v_?3\b|\bget_many_v3\(",
        args: None,
        subject: "api.scores_v3.get_many_v3",
        changed_in: 5,
        message: "Scores are read with `api.scores.get_many` in Python SDK v5.",
        action: "Use `api.scores.get_many`; create scores in batches with `api.scores.create`.",
        guide: guides::PY_V4_TO_V5,
    },
    // JS v3 → v4
    RuleDef {
        ecosystem: Js,
        pattern: r#"(from\s+|require\(\s*)['"](langfuse|langfuse-node|langfuse-langchain|langfuse-vercel)['"]"#,
        args: None,
        subject: "import from the `langfuse` package",
        changed_in: 4,
        message: "The JS SDK v4 replaced `langfuse`, `langfuse-langchain` and `langfuse-vercel` with `@langfuse/client`, `@langfuse/tracing`, `@langfuse/otel`, `@langfuse/openai` and `@langfuse/langchain`.",
        action: "Install the `@langfuse/*` packages and import from them; tracing needs an OpenTelemetry NodeSDK with `LangfuseSpanProcessor`.",
        guide: guides::JS_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\bnew\s+Langfuse\(",
        args: None,
        subject: "new Langfuse()",
        changed_in: 4,
        message: "`new Langfuse()` became `new LangfuseClient()` (from `@langfuse/client`) in JS SDK v4, for prompts, scores and datasets only.",
        action: "Use `new LangfuseClient()`; trace through `@langfuse/tracing`.",
        guide: guides::JS_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\blangfuse\.(trace|span|generation)\(",
        args: None,
        subject: "langfuse.trace() / .span() / .generation()",
        changed_in: 4,
        message: "`langfuse.trace()`, `.span()` and `.generation()` were replaced by `startObservation` / `startActiveObservation` from `@langfuse/tracing` in JS SDK v4.",
        action: "Use `startActiveObservation(name, fn)` or `startObservation(name, attrs, { asType })`.",
        guide: guides::JS_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\bLangfuseExporter\b",
        args: None,
        subject: "LangfuseExporter",
        changed_in: 4,
        message: "`LangfuseExporter` was replaced by `LangfuseSpanProcessor` in JS SDK v4.",
        action: "Register `new LangfuseSpanProcessor()` with the OpenTelemetry NodeSDK.",
        guide: guides::JS_V3_TO_V4,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\bLANGFUSE_BASEURL\b",
        args: None,
        subject: "LANGFUSE_BASEURL",
        changed_in: 5,
        message: "The variable is `LANGFUSE_BASE_URL` since JS SDK v4; `LANGFUSE_BASEURL` still works in v4 but not in later versions.",
        action: "Rename it to `LANGFUSE_BASE_URL`.",
        guide: guides::JS_V3_TO_V4,
    },
    // JS v4 → v5
    RuleDef {
        ecosystem: Js,
        pattern: r"\bupdateActiveTrace\(",
        args: None,
        subject: "updateActiveTrace()",
        changed_in: 5,
        message: "`updateActiveTrace()` was replaced by `propagateAttributes()` plus `setActiveTraceIO()` / `setActiveTraceAsPublic()` in JS SDK v5.",
        action: "Wrap the work in `propagateAttributes({ userId, sessionId, … }, fn)`.",
        guide: guides::JS_V4_TO_V5,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\.updateTrace\(",
        args: None,
        subject: ".updateTrace()",
        changed_in: 5,
        message: "`.updateTrace()` was replaced by `.setTraceIO()` / `.setTraceAsPublic()` and `propagateAttributes()` in JS SDK v5.",
        action: "Use `propagateAttributes()` for trace attributes.",
        guide: guides::JS_V4_TO_V5,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\bapi\.(observationsV2|scoreV2|metricsV2)\b",
        args: None,
        subject: "api.observationsV2 / scoreV2 / metricsV2",
        changed_in: 5,
        message: "These became `api.observations`, `api.scores` and `api.metrics` in JS SDK v5.",
        action: "Rename the API calls.",
        guide: guides::JS_V4_TO_V5,
    },
    // JS v5 → v6
    RuleDef {
        ecosystem: Js,
        pattern: r"\b(setActiveTraceIO|setTraceIO|createTraceAttributes)\(",
        args: None,
        subject: "setActiveTraceIO / setTraceIO / createTraceAttributes",
        changed_in: 6,
        message: "`setActiveTraceIO`, `setTraceIO` and `createTraceAttributes` were removed in JS SDK v6.",
        action: "Let trace input and output come from the root observation; use `propagateAttributes()`.",
        guide: guides::JS_V5_TO_V6,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\.(getPrompt|createPrompt|fetchTraces?|fetchObservations?|fetchSessions|getDataset|getDatasetRuns?)\(",
        args: None,
        subject: "LangfuseClient aliases (getPrompt, fetchTrace, …)",
        changed_in: 6,
        message: "The `LangfuseClient` aliases `getPrompt`, `createPrompt`, `fetchTrace(s)`, `fetchObservation(s)`, `fetchSessions`, `getDataset` and `getDatasetRun(s)` were removed in JS SDK v6.",
        action: "Use the namespaced methods, e.g. `langfuse.prompt.get(name, { version })`.",
        guide: guides::JS_V5_TO_V6,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\bapi\.scoresV3\.getManyV3\b",
        args: None,
        subject: "api.scoresV3.getManyV3",
        changed_in: 6,
        message: "`api.scoresV3.getManyV3` became `api.scores.getMany` in JS SDK v6; `api.scores.create` takes a batch.",
        action: "Use `api.scores.getMany`.",
        guide: guides::JS_V5_TO_V6,
    },
    RuleDef {
        ecosystem: Js,
        pattern: r"\bitem\.link\(",
        args: None,
        subject: "dataset item.link()",
        changed_in: 6,
        message: "Dataset `item.link()` was removed in JS SDK v6.",
        action: "Run experiments through the experiments API.",
        guide: guides::JS_V5_TO_V6,
    },
];

struct Compiled {
    set: [RegexSet; 2],
    /// Rule indices per ecosystem, in the order of the set's patterns.
    index: [Vec<usize>; 2],
    patterns: Vec<Regex>,
    args: Vec<Option<Regex>>,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| {
        let slot = |e: Ecosystem| (e == Js) as usize;
        let mut index: [Vec<usize>; 2] = [vec![], vec![]];
        for (i, r) in RULES.iter().enumerate() {
            index[slot(r.ecosystem)].push(i);
        }
        let set = |k: usize| {
            RegexSet::new(index[k].iter().map(|&i| RULES[i].pattern)).expect("rule patterns")
        };
        Compiled {
            set: [set(0), set(1)],
            patterns: RULES
                .iter()
                .map(|r| Regex::new(r.pattern).expect("rule"))
                .collect(),
            args: RULES
                .iter()
                .map(|r| r.args.map(|a| Regex::new(a).expect("rule args")))
                .collect(),
            index,
        }
    })
}

/// A line that matched a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub file: String,
    pub line: u32,
    rule: usize,
}

fn is_comment(line: &str, ecosystem: Ecosystem) -> bool {
    let t = line.trim_start();
    match ecosystem {
        Py => t.starts_with('#'),
        Js => t.starts_with("//") || t.starts_with("/*") || t.starts_with('*'),
    }
}

/// The text from `start` to the matching closing parenthesis (at most 2000 bytes).
fn call_arguments(text: &str, start: usize) -> &str {
    let mut depth = 0i32;
    for (i, c) in text[start..].char_indices() {
        if i > 2000 {
            return &text[start..start + i];
        }
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth <= 0 {
                    return &text[start..start + i];
                }
            }
            _ => {}
        }
    }
    &text[start..]
}

/// The rules a source file's lines match. Files that never mention Langfuse are not read line
/// by line.
pub fn scan(rel: &str, ecosystem: Ecosystem, text: &str) -> Vec<Hit> {
    if !(text.contains("angfuse") || text.contains("ANGFUSE")) {
        return vec![];
    }
    let c = compiled();
    let k = (ecosystem == Js) as usize;
    let mut hits = vec![];
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += line.len();
        if is_comment(line, ecosystem) {
            continue;
        }
        for m in c.set[k].matches(line).iter() {
            let rule = c.index[k][m];
            if let Some(args) = &c.args[rule] {
                let Some(at) = c.patterns[rule].find(line) else {
                    continue;
                };
                if !args.is_match(call_arguments(text, line_start + at.start())) {
                    continue;
                }
            }
            hits.push(Hit {
                file: rel.to_string(),
                line: n as u32 + 1,
                rule,
            });
        }
    }
    hits
}

/// Severity of a usage that changed in SDK major `changed_in`: a blocker if the target needs an
/// SDK at least that new, a warning if the target's recommended SDK is that new, otherwise
/// information for a later upgrade.
pub fn severity(ecosystem: Ecosystem, changed_in: u64, target: &TargetServer) -> FindingSeverity {
    let (required, recommended) = super::compat::sdk_majors(ecosystem, target);
    if changed_in <= required {
        FindingSeverity::Blocker
    } else if changed_in <= recommended {
        FindingSeverity::Warning
    } else {
        FindingSeverity::Info
    }
}

pub fn api_findings(hits: &[Hit], projects: &[Project], target: &TargetServer) -> Vec<AppFinding> {
    hits.iter()
        .filter_map(|h| {
            let r = &RULES[h.rule];
            let major = resolve::langfuse_major_for(projects, &h.file, r.ecosystem);
            // Code written for an SDK that already has the change is not flagged again.
            if major.is_some_and(|m| m >= r.changed_in) {
                return None;
            }
            Some(AppFinding {
                severity: severity(r.ecosystem, r.changed_in, target),
                kind: FindingKind::Api,
                file: h.file.clone(),
                line: Some(h.line),
                subject: r.subject.to_string(),
                message: r.message.to_string(),
                action: r.action.to_string(),
                guide: Some(r.guide.to_string()),
            })
        })
        .collect()
}

/// The rule for `LANGFUSE_BASEURL`, for `.env` files.
pub fn baseurl_rule() -> (u64, &'static str, &'static str, &'static str) {
    let r = RULES
        .iter()
        .find(|r| r.subject == "LANGFUSE_BASEURL")
        .expect("rule exists");
    (r.changed_in, r.message, r.action, r.guide)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(eco: Ecosystem, text: &str) -> Vec<(u32, &'static str)> {
        scan("f", eco, text)
            .into_iter()
            .map(|h| (h.line, RULES[h.rule].subject))
            .collect()
    }

    #[test]
    fn arguments_spanning_lines_are_read_and_comments_skipped() {
        let text = "from langfuse.callback import CallbackHandler\n# langfuse_context.flush()\nh = CallbackHandler(\n    public_key=pk,\n    session_id=sid,\n)\nplain = CallbackHandler()\n";
        assert_eq!(
            subjects(Py, text),
            vec![
                (1, "langfuse.callback.CallbackHandler"),
                (3, "CallbackHandler(user_id=…, session_id=…)")
            ]
        );
    }

    #[test]
    fn files_without_langfuse_are_not_matched() {
        assert!(subjects(Js, "span.updateTrace({})\n").is_empty());
    }
}
