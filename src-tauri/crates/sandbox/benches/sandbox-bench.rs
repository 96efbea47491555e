//! Prints how fast the sandbox serves and takes observations, so it is never the bottleneck of
//! the migrator's benchmarks. Run: `cargo bench -p langfuse-sandbox --bench sandbox-bench`
//! (release). `SANDBOX_BENCH_OBS` sets the number of stored observations (default 1,000,000).

use std::time::Instant;

use langfuse_sandbox::{SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use serde_json::{Value, json};

const PK: &str = "pk-lf-sandbox";
const SK: &str = "sk-lf-sandbox";

fn per_sec(n: usize, secs: f64) -> String {
    format!("{:>10.0}/s", n as f64 / secs)
}

/// Walks `v2/observations` with 1000-row pages from `cursor` until the end or `max` rows.
async fn walk(http: &reqwest::Client, base: &str, extra: &str, max: usize) -> (usize, usize) {
    let (mut rows, mut pages) = (0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/public/v2/observations?limit=1000{extra}");
        if let Some(c) = &cursor {
            url.push_str("&cursor=");
            url.push_str(c);
        }
        let v: Value = http
            .get(&url)
            .basic_auth(PK, Some(SK))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rows += v["data"].as_array().map(Vec::len).unwrap_or(0);
        pages += 1;
        match v["meta"]["cursor"].as_str() {
            Some(c) if rows < max => cursor = Some(c.to_string()),
            _ => return (rows, pages),
        }
    }
}

fn span(trace: usize, i: usize) -> Value {
    let attr = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    json!({
        "traceId": format!("{trace:032x}"),
        "spanId": format!("{:016x}", trace * 1000 + i),
        "parentSpanId": if i == 0 { String::new() } else { format!("{:016x}", trace * 1000) },
        "name": format!("step-{i}"),
        "startTimeUnixNano": format!("{}", 1_762_000_000_000_000_000u64 + (trace * 1000 + i) as u64 * 1_000_000),
        "endTimeUnixNano": format!("{}", 1_762_000_000_500_000_000u64 + (trace * 1000 + i) as u64 * 1_000_000),
        "attributes": [
            attr("langfuse.observation.type", if i % 3 == 1 { "generation" } else { "span" }),
            attr("langfuse.observation.input", "{\"messages\":[{\"role\":\"user\",\"content\":\"How do I reset my password?\"}]}"),
            attr("langfuse.observation.output", "{\"role\":\"assistant\",\"content\":\"Click on 'forgot password' ✓\"}"),
            attr("langfuse.observation.model.name", "gpt-4o"),
            attr("langfuse.observation.usage_details", "{\"input\":120,\"output\":40}"),
            attr("langfuse.user.id", "user-1"),
        ]
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let total: usize = std::env::var("SANDBOX_BENCH_OBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let per_trace = 10;
    println!(
        "langfuse-sandbox benchmark ({} cores available)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    let t = Instant::now();
    let sb = Sandbox::start(SandboxConfig {
        profile: ServerProfile::V4,
        visibility_delay: Some(std::time::Duration::ZERO),
        sample: Some(SampleSpec {
            seed: 1,
            traces: total / per_trace,
            observations_per_trace: per_trace,
        }),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let stored = sb.counts()["observations"];
    let secs = t.elapsed().as_secs_f64();
    println!(
        "generate + load sample:      {stored} observations in {secs:.2} s ({})",
        per_sec(stored, secs)
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(8)
        .build()
        .unwrap();
    let base = sb.url();

    // Serving all stored observations, 1000 per page, one client walking the cursor.
    let t = Instant::now();
    let (rows, pages) = walk(&http, &base, "", usize::MAX).await;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "serve all, core+basic:       {rows} observations, {pages} pages in {secs:.2} s ({}, {:.1} ms/page)",
        per_sec(rows, secs),
        secs * 1000.0 / pages as f64
    );

    // 1000-row pages with every field group (payloads included), 100k rows.
    let all = "&fields=core,basic,time,io,metadata,model,usage,prompt,metrics,trace_context";
    let t = Instant::now();
    let (rows, pages) = walk(&http, &base, all, 100_000).await;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "pages of 1000, all fields:   {rows} observations, {pages} pages in {secs:.2} s ({}, {:.1} ms/page)",
        per_sec(rows, secs),
        secs * 1000.0 / pages as f64
    );

    // Two clients reading disjoint time windows at once.
    let t = Instant::now();
    let mid = "2026-11-06T00:00:00.000Z";
    let (before, after) = (
        format!("&toStartTime={mid}"),
        format!("&fromStartTime={mid}"),
    );
    let a = walk(&http, &base, &before, 200_000);
    let b = walk(&http, &base, &after, 200_000);
    let ((ra, _), (rb, _)) = tokio::join!(a, b);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "2 concurrent readers:        {} observations in {secs:.2} s ({})",
        ra + rb,
        per_sec(ra + rb, secs)
    );

    // OTLP JSON writes: exports of 500 spans, 4 in flight.
    sb.reset();
    let exports = 40;
    let spans_per_export = 500;
    let bodies: Vec<Vec<u8>> = (0..exports)
        .map(|e| {
            let spans: Vec<Value> = (0..spans_per_export).map(|s| span(e * 100 + s / 10, s % 10)).collect();
            serde_json::to_vec(&json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}]})).unwrap()
        })
        .collect();
    let secs = post_all(
        &http,
        &format!("{base}/api/public/otel/v1/traces"),
        bodies,
        "application/json",
    )
    .await;
    let written = sb.counts()["observations"];
    println!(
        "OTLP JSON writes:            {written} observations in {secs:.2} s ({})",
        per_sec(written, secs)
    );

    // The same spans as protobuf.
    sb.reset();
    let proto: Vec<Vec<u8>> = (0..exports)
        .map(|e| proto_export(e, spans_per_export))
        .collect();
    let secs = post_all(
        &http,
        &format!("{base}/api/public/otel/v1/traces"),
        proto,
        "application/x-protobuf",
    )
    .await;
    let written = sb.counts()["observations"];
    println!(
        "OTLP protobuf writes:        {written} observations in {secs:.2} s ({})",
        per_sec(written, secs)
    );
    sb.stop().await;

    // v2/v3 sources are read through the legacy v1 list, 100 per page.
    let v3 = Sandbox::start(SandboxConfig {
        profile: ServerProfile::V3,
        visibility_delay: Some(std::time::Duration::ZERO),
        sample: Some(SampleSpec {
            seed: 2,
            traces: 20_000,
            observations_per_trace: per_trace,
        }),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = v3.url();
    let t = Instant::now();
    let mut rows = 0;
    for page in 1..=200 {
        let v: Value = http
            .get(format!(
                "{base}/api/public/observations?limit=100&page={page}"
            ))
            .basic_auth(PK, Some(SK))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rows += v["data"].as_array().map(Vec::len).unwrap_or(0);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "v1 pages of 100 (v3, 200k):  {rows} observations in {secs:.2} s ({})",
        per_sec(rows, secs)
    );
    v3.stop().await;
}

/// Posts the bodies four at a time; returns the seconds it took.
async fn post_all(
    http: &reqwest::Client,
    url: &str,
    bodies: Vec<Vec<u8>>,
    content_type: &'static str,
) -> f64 {
    let t = Instant::now();
    let mut handles = Vec::new();
    let per_task = bodies.len().div_ceil(4);
    for chunk in bodies.chunks(per_task) {
        let (http, url, chunk) = (http.clone(), url.to_string(), chunk.to_vec());
        handles.push(tokio::spawn(async move {
            for body in chunk {
                let r = http
                    .post(&url)
                    .basic_auth(PK, Some(SK))
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    t.elapsed().as_secs_f64()
}

fn proto_export(e: usize, n: usize) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    };
    let spans = (0..n)
        .map(|s| {
            let (trace, i) = (e * 100 + s / 10, s % 10);
            Span {
                trace_id: (trace as u128).to_be_bytes().to_vec(),
                span_id: ((trace * 1000 + i) as u64).to_be_bytes().to_vec(),
                parent_span_id: if i == 0 { vec![] } else { ((trace * 1000) as u64).to_be_bytes().to_vec() },
                name: format!("step-{i}"),
                start_time_unix_nano: 1_762_000_000_000_000_000 + (trace * 1000 + i) as u64 * 1_000_000,
                end_time_unix_nano: 1_762_000_000_500_000_000 + (trace * 1000 + i) as u64 * 1_000_000,
                attributes: vec![
                    kv("langfuse.observation.type", if i % 3 == 1 { "generation" } else { "span" }),
                    kv("langfuse.observation.input", "{\"messages\":[{\"role\":\"user\",\"content\":\"How do I reset my password?\"}]}"),
                    kv("langfuse.observation.output", "{\"role\":\"assistant\",\"content\":\"Click on 'forgot password'\"}"),
                    kv("langfuse.observation.model.name", "gpt-4o"),
                    kv("langfuse.user.id", "user-1"),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}
