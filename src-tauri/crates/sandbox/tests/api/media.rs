//! The media API: upload URLs, the bucket's checks, upload status, signed download URLs that
//! expire, and the multimodal sample data. Bodies are validated against the spec; the bucket's
//! answers are S3's, outside the spec.

use langfuse_sandbox::{MediaSampleSpec, MediaSettings, ServerProfile};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;

fn sha256_b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// POST /api/public/media. Langfuse answers 201; the spec documents the body under 200.
async fn upload_url(api: &Api, body: Value) -> (StatusCode, Value) {
    let r = api
        .http
        .post(api.url("/api/public/media"))
        .basic_auth(PK, Some(SK))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    if status.is_success() {
        spec().check("media_getUploadUrl", 200, &v);
    }
    (status, v)
}

fn request_for(bytes: &[u8], content_type: &str) -> Value {
    json!({
        "traceId": "trace-media-1",
        "contentType": content_type,
        "contentLength": bytes.len(),
        "sha256Hash": sha256_b64(bytes),
        "field": "input",
    })
}

/// PUT as the Python SDK does: Content-Type, x-ms-blob-type and x-amz-checksum-sha256.
async fn put(
    api: &Api,
    url: &str,
    bytes: &[u8],
    content_type: &str,
    checksum: &str,
) -> (StatusCode, String) {
    let r = api
        .http
        .put(url)
        .header("Content-Type", content_type)
        .header("x-ms-blob-type", "BlockBlob")
        .header("x-amz-checksum-sha256", checksum)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn patch_uploaded(api: &Api, id: &str) -> StatusCode {
    api.send(
        Method::PATCH,
        &format!("/api/public/media/{id}"),
        Some(json!({"uploadedAt": "2026-11-30T10:00:00.000Z", "uploadHttpStatus": 200, "uploadHttpError": null, "uploadTimeMs": 3})),
    )
    .await
    .status
}

async fn download(api: &Api, url: &str) -> (StatusCode, Vec<u8>) {
    let r = api.http.get(url).send().await.unwrap();
    (r.status(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn an_upload_round_trips_and_a_second_one_is_not_needed() {
    let api = start_profile(ServerProfile::V4).await;
    let bytes = b"\x89PNG\r\n\x1a\n not really a picture".to_vec();
    let sha = sha256_b64(&bytes);
    let (status, v) = upload_url(&api, request_for(&bytes, "image/png")).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = v["mediaId"].as_str().unwrap().to_string();
    // The SDK refuses an id other than the first 22 base64url characters of the hash.
    assert_eq!(id, sha.replace('+', "-").replace('/', "_")[..22]);
    let url = v["uploadUrl"].as_str().expect("an upload url").to_string();

    // Before the upload is reported, the record does not resolve.
    let r = api
        .send(Method::GET, &format!("/api/public/media/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["message"], "Media not yet uploaded");

    assert_eq!(
        put(&api, &url, &bytes, "image/png", &sha).await.0,
        StatusCode::OK
    );
    assert_eq!(patch_uploaded(&api, &id).await, StatusCode::NO_CONTENT);

    let got = api
        .get("media_get", &format!("/api/public/media/{id}"))
        .await;
    assert_eq!(got["contentType"], "image/png");
    assert_eq!(got["contentLength"], bytes.len());
    let (status, body) = download(&api, got["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha256_b64(&body), sha);

    // Same content again: same id, no upload URL.
    let (status, again) = upload_url(&api, request_for(&bytes, "image/png")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["mediaId"], id.as_str());
    assert!(again["uploadUrl"].is_null());
    let info = api.sb.media().into_iter().find(|m| m.id == id).unwrap();
    assert_eq!(info.puts, 1);
    assert_eq!(info.links.len(), 1, "the same trace and field link once");
}

#[tokio::test]
async fn the_bucket_checks_what_the_upload_url_was_signed_for() {
    let api = start_profile(ServerProfile::V4).await;
    let bytes = vec![7u8; 1000];
    let sha = sha256_b64(&bytes);
    let (_, v) = upload_url(&api, request_for(&bytes, "application/pdf")).await;
    let url = v["uploadUrl"].as_str().unwrap().to_string();
    let other = sha256_b64(b"other");

    let (s, body) = put(&api, &url, &bytes, "application/pdf", &other).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a checksum other than the signed one: {body}"
    );
    let (s, _) = put(&api, &url, &bytes, "image/png", &sha).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another content type");
    let mut changed = bytes.clone();
    changed[0] = 8;
    let (s, body) = put(&api, &url, &changed, "application/pdf", &sha).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("BadDigest"), "{body}");
    let tampered = url.replace("signature=", "signature=0");
    assert_eq!(
        put(&api, &tampered, &bytes, "application/pdf", &sha)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let r = api
        .http
        .put(&url)
        .header("Content-Type", "application/pdf")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no checksum header");
    assert_eq!(api.sb.media()[0].stored_bytes, None, "nothing was stored");
    assert_eq!(
        put(&api, &url, &bytes, "application/pdf", &sha).await.0,
        StatusCode::OK
    );
    assert_eq!(api.sb.media()[0].stored_bytes, Some(1000));
}

#[tokio::test]
async fn bad_upload_requests_get_plain_400s() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.set_media_settings(MediaSettings {
        max_content_length: 100,
        ..MediaSettings::default()
    });
    let big = vec![1u8; 101];
    let (s, v) = upload_url(&api, request_for(&big, "image/png")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"].as_str().unwrap().contains("less than 100 bytes"),
        "{v}"
    );
    let small = vec![1u8; 10];
    let (s, _) = upload_url(&api, request_for(&small, "image/x-unknown")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let mut no_context = request_for(&small, "image/png");
    no_context["traceId"] = Value::Null;
    assert_eq!(
        upload_url(&api, no_context).await.0,
        StatusCode::BAD_REQUEST
    );
    let mut wrong_field = request_for(&small, "image/png");
    wrong_field["field"] = json!("expectedOutput");
    assert_eq!(
        upload_url(&api, wrong_field).await.0,
        StatusCode::BAD_REQUEST
    );
    let mut bad_hash = request_for(&small, "image/png");
    bad_hash["sha256Hash"] = json!("abc");
    assert_eq!(upload_url(&api, bad_hash).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.status(Method::GET, "/api/public/media/nope").await,
        StatusCode::NOT_FOUND
    );
    // Without credentials, nothing.
    let r = api
        .http
        .get(api.url("/api/public/media/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn download_urls_expire_and_a_new_get_gives_a_fresh_one() {
    let api = start_profile(ServerProfile::V3).await;
    let sample = api.sb.load_media_sample(&MediaSampleSpec::default());
    let id = &sample.media_ids[0];
    api.sb.set_media_settings(MediaSettings {
        expire_next_download_urls: 1,
        ..MediaSettings::default()
    });
    let first = api
        .get("media_get", &format!("/api/public/media/{id}"))
        .await;
    let (s, body) = download(&api, first["url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("Request has expired"));
    let second = api
        .get("media_get", &format!("/api/public/media/{id}"))
        .await;
    let (s, body) = download(&api, second["url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, api.sb.media_bytes(id).unwrap().to_vec());
}

/// Every reference string in a JSON value: its media id.
fn reference_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            for part in s.split("@@@langfuseMedia:").skip(1) {
                let body = part.split("@@@").next().unwrap();
                let id = body
                    .split('|')
                    .find_map(|kv| kv.strip_prefix("id="))
                    .unwrap();
                out.push(id.to_string());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| reference_ids(x, out)),
        Value::Object(m) => m.values().for_each(|x| reference_ids(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_multimodal_sample_references_media_that_resolves_to_its_bytes() {
    for profile in [ServerProfile::V3, ServerProfile::V4] {
        let api = start_profile(profile).await;
        let sample = api.sb.load_media_sample(&MediaSampleSpec::default());
        let obs = api
            .get(
                "observations_getMany",
                "/api/public/v2/observations?limit=100&fields=core,basic,io,metadata",
            )
            .await;
        let mut ids = Vec::new();
        reference_ids(&obs["data"], &mut ids);
        let items = api
            .get(
                "datasetItems_list",
                "/api/public/dataset-items?datasetName=multimodal-eval",
            )
            .await;
        reference_ids(&items["data"], &mut ids);
        ids.sort();
        ids.dedup();
        let mut expected = sample.media_ids.clone();
        expected.sort();
        expected.dedup();
        assert_eq!(ids, expected, "{profile:?}");
        let mut types = std::collections::BTreeSet::new();
        for id in &ids {
            let m = api
                .get("media_get", &format!("/api/public/media/{id}"))
                .await;
            types.insert(m["contentType"].as_str().unwrap().to_string());
            let (s, body) = download(&api, m["url"].as_str().unwrap()).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(body.len() as u64, m["contentLength"].as_u64().unwrap());
            // The id is derived from the bytes' hash.
            assert_eq!(
                &sha256_b64(&body).replace('+', "-").replace('/', "_")[..22],
                id
            );
        }
        assert!(
            types.contains("image/png")
                && types.contains("audio/wav")
                && types.contains("application/pdf"),
            "{types:?}"
        );
        // The dataset item carries its resolved references, as Langfuse serves them.
        let item = &items["data"][0];
        let refs = item["mediaReferences"].as_array().unwrap();
        assert_eq!(refs.len(), 2, "{item}");
        for r in refs {
            let field = r["field"].as_str().unwrap();
            let path = r["jsonPath"].as_str().unwrap();
            let key = path.trim_start_matches("$['").trim_end_matches("']");
            assert_eq!(item[field][key], r["referenceString"], "{path}");
        }
        api.sb.stop().await;
    }
}
