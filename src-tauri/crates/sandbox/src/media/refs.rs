//! Media reference strings (`@@@langfuseMedia:type=…|id=…|source=…@@@`) inside JSON, and the
//! `mediaReferences` Langfuse attaches to dataset items when it serves them.

use serde_json::{Value, json};

use super::MediaStore;

const OPEN: &str = "@@@langfuseMedia:";
const CLOSE: &str = "@@@";

/// One reference string found in a text: the whole string and its media id.
pub fn references_in(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let body_start = start + OPEN.len();
        let Some(len) = rest[body_start..].find(CLOSE) else {
            break;
        };
        let body = &rest[body_start..body_start + len];
        let id = body
            .split('|')
            .find_map(|kv| kv.strip_prefix("id="))
            .map(str::to_string);
        if let Some(id) = id {
            out.push((rest[start..body_start + len + CLOSE.len()].to_string(), id));
        }
        rest = &rest[body_start + len + CLOSE.len()..];
    }
    out
}

/// Every (jsonPath, reference string, media id) in `v`, paths in jsonpath-plus' normalized
/// bracket form (`$['a'][0]`), as Langfuse's `findMediaReferences` reports them.
pub fn find(v: &Value) -> Vec<(String, String, String)> {
    fn walk(v: &Value, path: &mut String, out: &mut Vec<(String, String, String)>) {
        match v {
            Value::String(s) => {
                for (reference, id) in references_in(s) {
                    out.push((path.clone(), reference, id));
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(x, path, out);
                    path.truncate(len);
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    let len = path.len();
                    path.push_str(&format!("['{k}']"));
                    walk(x, path, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut "$".to_string(), &mut out);
    out
}

/// Fills a served dataset item's `mediaReferences` from its input, expectedOutput and
/// metadata: one entry per reference whose media is uploaded, with a fresh download URL.
pub fn attach_to_item(item: &mut Value, media: &mut MediaStore, base: &str, now_ms: i64) {
    let mut refs = Vec::new();
    for field in ["input", "expectedOutput", "metadata"] {
        for (path, reference, id) in find(&item[field]) {
            let Some(r) = media.get(&id) else { continue };
            if r.upload_http_status != Some(200) {
                continue;
            }
            let (content_type, length) = (r.content_type.clone(), r.content_length);
            let expires = media.next_download_expiry(now_ms);
            refs.push(json!({
                "field": field,
                "referenceString": reference,
                "jsonPath": path,
                "media": {
                    "mediaId": id,
                    "contentType": content_type,
                    "contentLength": length,
                    "url": media.sign(base, super::UrlKind::Download, &id, expires),
                    "urlExpiry": crate::timefmt::fmt(expires),
                },
            }));
        }
    }
    if let Value::Object(m) = item {
        m.insert("mediaReferences".into(), Value::Array(refs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references_with_normalized_paths() {
        let v = json!({"a": [1, {"img": "see @@@langfuseMedia:type=image/png|id=abc|source=bytes@@@ here"}], "b": "plain"});
        assert_eq!(
            find(&v),
            vec![(
                "$['a'][1]['img']".to_string(),
                "@@@langfuseMedia:type=image/png|id=abc|source=bytes@@@".to_string(),
                "abc".to_string()
            )]
        );
    }
}
