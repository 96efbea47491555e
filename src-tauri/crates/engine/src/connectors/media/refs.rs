//! Media reference strings in copied objects: `@@@langfuseMedia:type=…|id=…|source=…@@@`.
//!
//! Langfuse SDKs replace an attachment in input, output or metadata by such a string and upload
//! the bytes separately. They are found in the raw JSON text of a field (payloads are never
//! parsed: a reference contains no character JSON escapes, so it appears verbatim).

use crate::vocab::{Entity, Record};
use serde_json::value::RawValue;

const OPEN: &str = "@@@langfuseMedia:";
const CLOSE: &str = "@@@";

/// One reference as written in the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRef {
    pub id: String,
    pub content_type: String,
}

/// Where a reference sits, as the media API's upload request names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MediaLink {
    pub trace_id: Option<String>,
    pub observation_id: Option<String>,
    pub dataset_id: Option<String>,
    pub dataset_item_id: Option<String>,
    /// `input` / `output` / `metadata`, or `expectedOutput` on dataset items.
    pub field: String,
}

impl MediaLink {
    /// "trace abc (input)" — how a report names the place of a broken reference.
    pub fn describe(&self) -> String {
        match (&self.trace_id, &self.observation_id, &self.dataset_item_id) {
            (Some(t), Some(o), _) => format!("observation {o} of trace {t} ({})", self.field),
            (Some(t), None, _) => format!("trace {t} ({})", self.field),
            (_, _, Some(i)) => format!("dataset item {i} ({})", self.field),
            _ => format!("({})", self.field),
        }
    }
}

/// Every reference in a text, in order.
pub fn references_in(text: &str) -> Vec<MediaRef> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let body_start = start + OPEN.len();
        let Some(len) = rest[body_start..].find(CLOSE) else {
            break;
        };
        let body = &rest[body_start..body_start + len];
        let value = |key: &str| {
            body.split('|')
                .find_map(|kv| kv.strip_prefix(key))
                .map(str::to_string)
        };
        if let (Some(id), Some(content_type)) = (value("id="), value("type=")) {
            out.push(MediaRef { id, content_type });
        }
        rest = &rest[body_start + len + CLOSE.len()..];
    }
    out
}

/// The fields of an entity that may hold references (the media API's `field` names).
pub fn media_fields(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Traces | Entity::Observations => &["input", "output", "metadata"],
        Entity::DatasetItems => &["input", "expectedOutput", "metadata"],
        _ => &[],
    }
}

/// Every (link, reference) of a record; none for entities without media.
pub fn record_references(record: &Record) -> Vec<(MediaLink, MediaRef)> {
    let mut out = Vec::new();
    for field in media_fields(record.entity) {
        let Some(raw) = record.body.get_present(field) else {
            continue;
        };
        if !raw.get().contains(OPEN) {
            continue;
        }
        let link = link_of(record, field);
        for r in references_in(raw.get()) {
            out.push((link.clone(), r));
        }
    }
    out
}

fn link_of(record: &Record, field: &str) -> MediaLink {
    let mut link = MediaLink {
        trace_id: None,
        observation_id: None,
        dataset_id: None,
        dataset_item_id: None,
        field: field.to_string(),
    };
    match record.entity {
        Entity::Traces => link.trace_id = Some(record.id.clone()),
        Entity::Observations => {
            link.trace_id = record.body.str("traceId");
            link.observation_id = Some(record.id.clone());
        }
        Entity::DatasetItems => {
            link.dataset_id = record.body.str("datasetId");
            link.dataset_item_id = Some(record.id.clone());
        }
        _ => {}
    }
    link
}

/// Rewrites `id=<from>` to `id=<to>` inside the references of a record's media fields.
pub fn rewrite_id(record: &mut Record, from: &str, to: &str) {
    if from == to {
        return;
    }
    let needle = format!("|id={from}|");
    let replacement = format!("|id={to}|");
    for field in media_fields(record.entity) {
        let Some(raw) = record.body.get_present(field) else {
            continue;
        };
        if !raw.get().contains(&needle) {
            continue;
        }
        let text = raw.get().replace(&needle, &replacement);
        if let Ok(v) = RawValue::from_string(text) {
            record.body.set_raw(field, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::RawObject;

    fn obs(input: &str) -> Record {
        let body = RawObject::from_json(&format!(
            r#"{{"id":"o1","traceId":"t1","input":{input},"output":null}}"#
        ))
        .unwrap();
        Record::new(Entity::Observations, "o1".into(), body)
    }

    #[test]
    fn finds_references_with_their_place() {
        let r = obs(
            r#"{"a":"@@@langfuseMedia:type=image/png|id=AAA|source=bytes@@@","b":["x @@@langfuseMedia:type=application/pdf|id=BBB|source=base64_data_uri@@@ y"]}"#,
        );
        let refs = record_references(&r);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].1.id, "AAA");
        assert_eq!(refs[1].1.content_type, "application/pdf");
        assert_eq!(refs[0].0.trace_id.as_deref(), Some("t1"));
        assert_eq!(refs[0].0.observation_id.as_deref(), Some("o1"));
        assert_eq!(refs[0].0.field, "input");
    }

    #[test]
    fn rewrites_only_the_named_id() {
        let mut r = obs(
            r#"["@@@langfuseMedia:type=image/png|id=AAA|source=bytes@@@","@@@langfuseMedia:type=image/png|id=AAAB|source=bytes@@@"]"#,
        );
        rewrite_id(&mut r, "AAA", "ZZZ");
        let text = r.body.get("input").unwrap().get().to_string();
        assert!(
            text.contains("|id=ZZZ|") && text.contains("|id=AAAB|"),
            "{text}"
        );
    }

    #[test]
    fn unterminated_or_incomplete_references_are_ignored() {
        assert!(references_in("@@@langfuseMedia:type=image/png|id=AAA").is_empty());
        assert!(references_in("@@@langfuseMedia:source=bytes@@@").is_empty());
    }
}
