//! The generated OpenTelemetry Collector configuration, checked against the collector's
//! configuration structure. No collector binary (`otelcol`, `otelcol-contrib`) is packaged for
//! the registries this project can use, so the structure is checked here explicitly: the
//! component kinds and the keys each accepts are those of the collector's documentation for
//! the `otlp` receiver, `batch` processor, `otlphttp` exporter (confighttp client settings plus
//! exporterhelper's `sending_queue` and `retry_on_failure`) and the `file_storage` extension.

use migrator_engine::Plan;
use migrator_engine::readiness::dual_export::{
    DualExportError, DualExportRequest, ExportBackend, generate,
};
use serde_yaml_ng::Value;
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping()
        .expect("a mapping")
        .keys()
        .map(|k| k.as_str().expect("string keys").to_string())
        .collect()
}

fn subset(v: &Value, allowed: &[&str], what: &str) {
    for k in keys(v) {
        assert!(allowed.contains(&k.as_str()), "{what}: unknown key {k}");
    }
}

fn component_type(id: &str) -> &str {
    id.split('/').next().unwrap()
}

/// Checks the collector's structure; returns the `${env:…}` names the config uses.
fn check_collector(yaml: &str) -> BTreeSet<String> {
    let doc: Value = serde_yaml_ng::from_str(yaml).expect("valid YAML");
    subset(
        &doc,
        &[
            "receivers",
            "processors",
            "exporters",
            "extensions",
            "connectors",
            "service",
        ],
        "top level",
    );
    let defined = |section: &str| keys(&doc[section]);

    for (id, r) in doc["receivers"].as_mapping().unwrap() {
        assert_eq!(component_type(id.as_str().unwrap()), "otlp");
        subset(r, &["protocols"], "otlp receiver");
        subset(&r["protocols"], &["grpc", "http"], "otlp protocols");
        for (_, p) in r["protocols"].as_mapping().unwrap() {
            let endpoint = p["endpoint"].as_str().unwrap();
            assert!(
                endpoint.rsplit_once(':').unwrap().1.parse::<u16>().is_ok(),
                "{endpoint}"
            );
        }
    }
    for (id, _) in doc["processors"].as_mapping().unwrap() {
        assert_eq!(component_type(id.as_str().unwrap()), "batch");
    }
    for (id, e) in doc["extensions"].as_mapping().unwrap() {
        assert_eq!(component_type(id.as_str().unwrap()), "file_storage");
        subset(
            e,
            &[
                "directory",
                "timeout",
                "create_directory",
                "compaction",
                "fsync",
            ],
            "file_storage",
        );
        assert!(e["directory"].as_str().is_some());
    }
    let service_extensions: BTreeSet<String> = doc["service"]["extensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut env = BTreeSet::new();
    let mut collect_env = |s: &str| {
        let mut rest = s;
        while let Some(i) = rest.find("${env:") {
            let end = rest[i..].find('}').unwrap();
            env.insert(rest[i + 6..i + end].to_string());
            rest = &rest[i + end..];
        }
    };
    for (id, e) in doc["exporters"].as_mapping().unwrap() {
        let id = id.as_str().unwrap();
        assert_eq!(
            component_type(id),
            "otlphttp",
            "Langfuse takes OTLP over HTTP only"
        );
        subset(
            e,
            &[
                "endpoint",
                "traces_endpoint",
                "headers",
                "compression",
                "timeout",
                "tls",
                "encoding",
                "sending_queue",
                "retry_on_failure",
            ],
            id,
        );
        let endpoint = e["endpoint"].as_str().unwrap();
        assert!(endpoint.starts_with("https://") || endpoint.starts_with("http://"));
        assert!(
            ["gzip", "zstd", "snappy", "deflate", "none"]
                .contains(&e["compression"].as_str().unwrap())
        );
        subset(
            &e["sending_queue"],
            &["enabled", "num_consumers", "queue_size", "storage"],
            "sending_queue",
        );
        assert_eq!(e["sending_queue"]["enabled"], Value::Bool(true));
        let storage = e["sending_queue"]["storage"]
            .as_str()
            .expect("a persistent queue");
        assert!(defined("extensions").contains(storage) && service_extensions.contains(storage));
        subset(
            &e["retry_on_failure"],
            &[
                "enabled",
                "initial_interval",
                "max_interval",
                "max_elapsed_time",
                "multiplier",
                "randomization_factor",
            ],
            "retry_on_failure",
        );
        for (name, value) in e["headers"].as_mapping().unwrap() {
            let (name, value) = (
                name.as_str().unwrap(),
                value.as_str().expect("header values are strings"),
            );
            if matches!(name, "Authorization" | "x-api-key") {
                assert!(
                    value.contains("${env:"),
                    "{name} holds a secret literally: {value}"
                );
            }
            collect_env(value);
        }
    }
    collect_env(
        doc["extensions"]["file_storage/queue"]["directory"]
            .as_str()
            .unwrap(),
    );
    let pipelines = doc["service"]["pipelines"].as_mapping().unwrap();
    let mut used = BTreeSet::new();
    for (name, p) in pipelines {
        assert!(["traces", "metrics", "logs"].contains(&component_type(name.as_str().unwrap())));
        subset(p, &["receivers", "processors", "exporters"], "pipeline");
        for (section, list) in [
            ("receivers", "receivers"),
            ("processors", "processors"),
            ("exporters", "exporters"),
        ] {
            for c in p[list].as_sequence().unwrap() {
                let c = c.as_str().unwrap();
                assert!(defined(section).contains(c), "{c} is used but not defined");
                used.insert(c.to_string());
            }
        }
    }
    for e in defined("exporters") {
        assert!(used.contains(&e), "exporter {e} is in no pipeline");
    }
    env
}

fn langfuse(url: &str, v4: bool) -> ExportBackend {
    ExportBackend::Langfuse {
        url: url.into(),
        v4,
    }
}

#[test]
fn old_and_new_langfuse_fan_out_with_basic_auth_v4_header_and_queues() {
    let c = generate(&DualExportRequest {
        old: langfuse("https://langfuse.internal.example.com/", false),
        new: langfuse("https://cloud.langfuse.com", true),
    })
    .unwrap();
    let env = check_collector(&c.collector_yaml);
    let doc: Value = serde_yaml_ng::from_str(&c.collector_yaml).unwrap();
    let old = &doc["exporters"]["otlphttp/old_langfuse"];
    let new = &doc["exporters"]["otlphttp/new_langfuse"];
    assert_eq!(
        old["endpoint"],
        "https://langfuse.internal.example.com/api/public/otel"
    );
    assert_eq!(
        new["endpoint"],
        "https://cloud.langfuse.com/api/public/otel"
    );
    assert_eq!(
        new["headers"]["Authorization"],
        "Basic ${env:NEW_LANGFUSE_BASIC_AUTH}"
    );
    assert_eq!(new["headers"]["x-langfuse-ingestion-version"], "4");
    assert!(
        old["headers"].get("x-langfuse-ingestion-version").is_none(),
        "the old side is not v4"
    );
    assert_eq!(
        doc["service"]["pipelines"]["traces"]["exporters"]
            .as_sequence()
            .unwrap()
            .len(),
        2
    );
    // Every variable the collector needs is in the snippet, without a value.
    for var in env {
        assert!(
            c.env_snippet
                .lines()
                .any(|l| l.starts_with(&format!("{var}="))),
            "{var} missing"
        );
    }
    assert!(c.collector_yaml.contains("fan_out_started_at"));
}

#[test]
fn langsmith_to_langfuse_has_hybrid_mode_then_otel_only_at_cutover() {
    let c = generate(&DualExportRequest {
        old: ExportBackend::Langsmith {
            url: None,
            project: Some("support-bot".into()),
        },
        new: langfuse("https://cloud.langfuse.com", true),
    })
    .unwrap();
    check_collector(&c.collector_yaml);
    let doc: Value = serde_yaml_ng::from_str(&c.collector_yaml).unwrap();
    let ls = &doc["exporters"]["otlphttp/old_langsmith"];
    assert_eq!(ls["endpoint"], "https://api.smith.langchain.com/otel");
    assert_eq!(ls["headers"]["x-api-key"], "${env:LANGSMITH_API_KEY}");
    assert_eq!(ls["headers"]["Langsmith-Project"], "support-bot");
    let env = &c.env_snippet;
    let hybrid = env
        .find("LANGSMITH_OTEL_ENABLED=true")
        .expect("hybrid mode");
    let only = env
        .find("LANGSMITH_OTEL_ONLY=true")
        .expect("OTel-only mode at cutover");
    assert!(hybrid < only);
    assert!(env.contains("OTEL_EXPORTER_OTLP_ENDPOINT=https://cloud.langfuse.com/api/public/otel"));
    assert!(env.contains("x-langfuse-ingestion-version=4"));
    assert!(env.contains("LANGSMITH_TRACING_MODE=otel"));
}

#[test]
fn bad_requests_are_refused_with_a_sentence() {
    let same = generate(&DualExportRequest {
        old: langfuse("https://cloud.langfuse.com/", false),
        new: langfuse("https://cloud.langfuse.com", true),
    });
    assert!(matches!(same, Err(DualExportError::SameServer(_))));
    let bad = generate(&DualExportRequest {
        old: langfuse("cloud.langfuse.com", false),
        new: langfuse("https://x.example.com", true),
    })
    .unwrap_err();
    assert!(bad.to_string().contains("not a server address"));
    let to_langsmith = generate(&DualExportRequest {
        old: langfuse("https://x.example.com", false),
        new: ExportBackend::Langsmith {
            url: None,
            project: None,
        },
    });
    assert_eq!(to_langsmith, Err(DualExportError::NoLangfuse));
}

#[test]
fn the_plan_stops_the_copy_where_the_fan_out_started() {
    let plan = Plan::from_toml(
        r#"[source]
kind = "langfuse"
url = "https://old.example.com"
public_key = "pk"
secret_key_env = "S"

[target]
kind = "langfuse"
url = "https://cloud.langfuse.com"
public_key = "pk2"
secret_key_env = "T"

[scope]
from = "2026-01-01T00:00:00Z"
fan_out_started_at = "2026-11-20T08:30:00Z"
"#,
    )
    .unwrap();
    assert_eq!(plan.scope.to.to_rfc3339(), "2026-11-20T08:30:00+00:00");
    let early = Plan::from_toml(
        "[source]\nkind = \"archive\"\npath = \"/a\"\n[target]\nkind = \"langfuse\"\nurl = \"https://x.example.com\"\npublic_key = \"p\"\n[scope]\nfrom = \"2026-01-01T00:00:00Z\"\nto = \"2026-02-01T00:00:00Z\"\nfan_out_started_at = \"2026-06-01T00:00:00Z\"\n",
    )
    .unwrap();
    assert_eq!(
        early.scope.to.to_rfc3339(),
        "2026-02-01T00:00:00+00:00",
        "an earlier `to` stays"
    );
}
