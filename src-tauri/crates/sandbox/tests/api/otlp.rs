use std::io::Write;

use langfuse_sandbox::ServerProfile;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

fn attr(k: &str, v: &str) -> Value {
    json!({"key": k, "value": {"stringValue": v}})
}

/// A root span and a child generation in OTLP JSON.
fn export(trace_id: &str, root: &str, child: &str) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", "svc"), attr("langfuse.environment", "Langfuse-Staging")]},
        "scopeSpans": [{"scope": {"name": "my-app", "version": "1.0"}, "spans": [
            {"traceId": trace_id, "spanId": root, "name": "handle-request",
             "startTimeUnixNano": "1762000000000000000", "endTimeUnixNano": "1762000001500000000",
             "attributes": [attr("langfuse.trace.name", "chat"), attr("langfuse.user.id", "u-1"), attr("session.id", "s-1"),
                            attr("langfuse.observation.input", "{\"q\":\"hi\"}"), attr("langfuse.trace.tags", "[\"x\",\"y\"]")]},
            {"traceId": trace_id, "spanId": child, "parentSpanId": root, "name": "llm",
             "startTimeUnixNano": {"high": 410247594, "low": 507314176}, "endTimeUnixNano": "1762000001000000000",
             "status": {"code": 2, "message": "boom"},
             "attributes": [attr("gen_ai.request.model", "gpt-4o"), attr("langfuse.observation.usage_details", "{\"input\":3,\"output\":4}"),
                            {"key": "gen_ai.usage.cost", "value": {"doubleValue": 0.5}}, {"key": "retries", "value": {"intValue": "2"}}]}
        ]}]
    }]})
}

async fn post_json(api: &Api, body: &Value) -> (StatusCode, Value) {
    let r = api
        .op(
            "opentelemetry_exportTraces",
            Method::POST,
            "/api/public/otel/v1/traces",
            Some(body.clone()),
        )
        .await;
    (r.status, r.body)
}

#[tokio::test]
async fn v4_otlp_json_rows_keep_string_ids_and_derive_the_trace() {
    let api = start_profile(ServerProfile::V4).await;
    let tid = "0AF7651916CD43DD8448EB211C80319C";
    let (s, _) = post_json(&api, &export(tid, "b7ad6b7169203331", "00f067aa0ba902b7")).await;
    assert_eq!(s, StatusCode::OK);
    let dump = api.sb.dump();
    let obs = dump["observations"].as_array().unwrap();
    assert_eq!(obs.len(), 2);
    assert!(
        obs.iter().all(|o| o["traceId"] == tid),
        "a JSON string id is kept as sent, case included"
    );
    let child = obs.iter().find(|o| o["id"] == "00f067aa0ba902b7").unwrap();
    assert_eq!(child["type"], "GENERATION");
    assert_eq!(child["level"], "ERROR");
    assert_eq!(child["statusMessage"], "boom");
    assert_eq!(child["usageDetails"], json!({"input": 3, "output": 4}));
    assert_eq!(
        child["startTime"], "2025-11-01T12:26:40.000Z",
        "{{high, low}} nanos"
    );
    assert_eq!(child["environment"], "staging");
    let traces = dump["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0]["name"], "chat");
    assert_eq!(traces[0]["userId"], "u-1");
    assert_eq!(traces[0]["sessionId"], "s-1");
    assert_eq!(traces[0]["tags"], json!(["x", "y"]));
    assert_eq!(traces[0]["input"], json!({"q": "hi"}));
    let v2 = api
        .get(
            "observations_getMany",
            &format!(
                "/api/public/v2/observations?traceId={tid}&fields=core,basic,usage,trace_context"
            ),
        )
        .await;
    assert_eq!(v2["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn v4_resending_a_span_creates_a_second_row() {
    let api = start_profile(ServerProfile::V4).await;
    let body = export(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "1111111111111111",
        "2222222222222222",
    );
    post_json(&api, &body).await;
    post_json(&api, &body).await;
    assert_eq!(api.sb.counts()["observations"], 4);
    assert_eq!(api.sb.counts()["traces"], 1);
    let v2 = api
        .get(
            "observations_getMany",
            "/api/public/v2/observations?limit=100",
        )
        .await;
    let ids: Vec<&str> = v2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.iter().filter(|i| **i == "1111111111111111").count(),
        2,
        "reads return the duplicate"
    );
}

#[tokio::test]
async fn v3_otlp_upserts_and_creates_traces() {
    let api = start_profile(ServerProfile::V3).await;
    let body = export(
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "1111111111111111",
        "2222222222222222",
    );
    post_json(&api, &body).await;
    post_json(&api, &body).await;
    assert_eq!(api.sb.counts()["observations"], 2);
    let t = api
        .get(
            "trace_get",
            "/api/public/traces/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        )
        .await;
    assert_eq!(t["name"], "chat");
    assert_eq!(t["observations"].as_array().unwrap().len(), 2);
    // A child whose trace is unknown creates a shallow trace.
    let orphan = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "cccccccccccccccccccccccccccccccc", "spanId": "3333333333333333", "parentSpanId": "4444444444444444", "name": "x"}]}]}]});
    post_json(&api, &orphan).await;
    let shallow = api
        .get(
            "trace_get",
            "/api/public/traces/cccccccccccccccccccccccccccccccc",
        )
        .await;
    assert!(shallow["name"].is_null());
}

#[tokio::test]
async fn otlp_protobuf_gzip_ids_become_lowercase_hex() {
    let api = start_profile(ServerProfile::V4).await;
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "svc")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![0xAB; 16],
                    span_id: vec![0xCD; 8],
                    name: "root".into(),
                    start_time_unix_nano: 1_762_000_000_000_000_000,
                    end_time_unix_nano: 1_762_000_000_250_000_000,
                    attributes: vec![
                        kv("langfuse.observation.type", "agent"),
                        kv("langfuse.trace.name", "proto"),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&req.encode_to_vec()).unwrap();
    let body = gz.finish().unwrap();
    let r = api
        .http
        .post(api.url("/api/public/otel/v1/traces"))
        .basic_auth(PK, Some(SK))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .header("x-langfuse-ingestion-version", "4")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let dump = api.sb.dump();
    let o = &dump["observations"][0];
    assert_eq!(o["id"], "cdcdcdcdcdcdcdcd");
    assert_eq!(o["traceId"], "abababababababababababababababab");
    assert_eq!(o["type"], "AGENT");
    assert_eq!(o["endTime"], "2025-11-01T12:26:40.250Z");
    assert_eq!(dump["traces"][0]["name"], "proto");
}

#[tokio::test]
async fn malformed_exports_are_rejected_whole() {
    let api = start_profile(ServerProfile::V4).await;
    let mut body = export(
        "dddddddddddddddddddddddddddddddd",
        "1111111111111111",
        "2222222222222222",
    );
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
        .as_object_mut()
        .unwrap()
        .remove("spanId");
    let r = api
        .send(Method::POST, "/api/public/otel/v1/traces", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("Invalid OTLP trace export")
    );
    assert_eq!(api.sb.counts()["observations"], 0, "no partial success");
    let mut attrs_not_array = export(
        "dddddddddddddddddddddddddddddddd",
        "1111111111111111",
        "2222222222222222",
    );
    attrs_not_array["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] =
        json!({"a": 1});
    assert_eq!(
        api.send(
            Method::POST,
            "/api/public/otel/v1/traces",
            Some(attrs_not_array)
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let r = api
        .http
        .post(api.url("/api/public/otel/v1/traces"))
        .basic_auth(PK, Some(SK))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "Invalid content type"
    );
    let r = api
        .http
        .post(api.url("/api/public/otel/v1/traces"))
        .basic_auth(PK, Some(SK))
        .header("content-type", "application/json")
        .header("x-langfuse-ingestion-version", "5")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = api
        .http
        .post(api.url("/api/public/otel/v1/traces"))
        .basic_auth(PK, Some(SK))
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, b) = post_json(&api, &json!({"resourceSpans": []})).await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));
    let buffer = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": {"type": "Buffer", "data": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]}, "spanId": [255, 0, 255, 0, 255, 0, 255, 0], "name": "b"}]}]}]});
    post_json(&api, &buffer).await;
    let o = &api.sb.dump()["observations"][0];
    assert_eq!(o["traceId"], "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(o["id"], "ff00ff00ff00ff00");
}

#[tokio::test]
async fn v4_experiment_attributes_create_experiments() {
    let api = start_profile(ServerProfile::V4).await;
    let mut body = export(
        "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
        "1111111111111111",
        "2222222222222222",
    );
    let attrs = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
        .as_array_mut()
        .unwrap();
    attrs.push(attr("langfuse.experiment.id", "exp-1"));
    attrs.push(attr("langfuse.experiment.name", "nightly"));
    attrs.push(attr("langfuse.experiment.item.id", "item-1"));
    post_json(&api, &body).await;
    let exps = api
        .get(
            "experiments_list",
            "/api/public/experiments?fromStartTime=2020-01-01T00:00:00Z",
        )
        .await;
    assert_eq!(exps["data"][0]["name"], "nightly");
    assert_eq!(exps["data"][0]["itemCount"], 1);
    let items = api
        .get(
            "experiments_listItems",
            "/api/public/experiment-items?fromStartTime=2020-01-01T00:00:00Z&fields=core,io",
        )
        .await;
    assert_eq!(items["data"][0]["experimentItemId"], "item-1");
    assert_eq!(
        items["data"][0]["traceId"],
        "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
    );
}
