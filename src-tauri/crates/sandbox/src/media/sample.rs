//! Multimodal sample data: traces whose input, output and metadata carry media references, as
//! the Langfuse SDKs write them (the bytes uploaded, the JSON holding reference strings), and a
//! dataset with an item that has media.

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::content::{pdf, png, wav};
use super::{MediaLink, MediaStore};
use crate::sample::{SAMPLE_END_MS, SAMPLE_START_MS};
use crate::store::{DatasetItemRow, DatasetRow, ObsRow, Store, TraceRow, raw};

/// What [`generate`] adds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MediaSampleSpec {
    pub seed: u64,
    pub traces: usize,
    /// Every n-th trace carries media (1 = all of them).
    pub media_every: usize,
    /// Side of the noise PNGs in pixels (about 3·side² bytes; 256 ≈ 200 KB).
    pub image_side: u32,
    /// Whether audio, a PDF and the dataset item with media are added too (the bench only
    /// wants images).
    pub all_kinds: bool,
}

impl Default for MediaSampleSpec {
    fn default() -> Self {
        MediaSampleSpec {
            seed: 7,
            traces: 6,
            media_every: 1,
            image_side: 24,
            all_kinds: true,
        }
    }
}

/// What was added: trace ids and every media id referenced.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaSample {
    pub trace_ids: Vec<String>,
    pub media_ids: Vec<String>,
    pub dataset_item_ids: Vec<String>,
}

/// The reference string the Python SDK writes for bytes it uploaded.
pub fn reference(content_type: &str, id: &str) -> String {
    format!("@@@langfuseMedia:type={content_type}|id={id}|source=bytes@@@")
}

fn hex(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

pub fn generate(store: &mut Store, media: &mut MediaStore, spec: &MediaSampleSpec) -> MediaSample {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x006d_6564_6961);
    let mut out = MediaSample::default();
    let derived = store.derived_traces();
    let step = (SAMPLE_END_MS - SAMPLE_START_MS) / (spec.traces.max(1) as i64 + 1);
    let every = spec.media_every.max(1);
    for i in 0..spec.traces {
        let trace_id = hex(&mut rng, 16);
        let root_id = hex(&mut rng, 8);
        let gen_id = hex(&mut rng, 8);
        let ts = SAMPLE_START_MS + step * (i as i64 + 1);
        let seed = spec.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let mut add = |bytes: Vec<u8>, ct: &str, obs: Option<&str>, field: &str| -> String {
            let link = MediaLink {
                trace_id: Some(trace_id.clone()),
                observation_id: obs.map(str::to_string),
                dataset_id: None,
                dataset_item_id: None,
                field: field.into(),
            };
            let id = media.insert_uploaded(ct, Bytes::from(bytes), link);
            out.media_ids.push(id.clone());
            reference(ct, &id)
        };
        let with_media = i % every == 0;
        let (input, output, metadata, gen_input) = if with_media {
            let image = add(png(seed, spec.image_side), "image/png", None, "input");
            let input = json!({"messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": image}},
            ]}]});
            let output = if spec.all_kinds && i % 2 == 0 {
                let audio = add(wav(seed, 250), "audio/wav", None, "output");
                json!({"role": "assistant", "content": "Here it is read aloud.", "audio": {"data": audio, "format": "wav"}})
            } else {
                json!({"role": "assistant", "content": format!("A noisy square #{i}.")})
            };
            let metadata = if spec.all_kinds && i % 3 == 0 {
                let doc = add(
                    pdf(&format!("Sample report {i}")),
                    "application/pdf",
                    None,
                    "metadata",
                );
                json!({"attachment": doc, "pages": 1})
            } else {
                json!({"pages": 0})
            };
            let second = add(
                png(seed ^ 0xffff, spec.image_side.min(16)),
                "image/png",
                Some(&gen_id),
                "input",
            );
            let gen_input = json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": second}}]}]);
            (input, output, metadata, gen_input)
        } else {
            (
                json!({"messages": [{"role": "user", "content": "No attachment here."}]}),
                json!({"role": "assistant", "content": "Fine."}),
                json!({"pages": 0}),
                json!([{"role": "user", "content": "No attachment here."}]),
            )
        };
        insert_trace(
            store,
            derived,
            &trace_id,
            &root_id,
            &gen_id,
            ts,
            [input, output, metadata, gen_input],
        );
        out.trace_ids.push(trace_id);
    }
    if spec.all_kinds {
        out.dataset_item_ids = dataset_with_media(store, media, spec.seed, &mut out.media_ids);
    }
    out
}

fn insert_trace(
    store: &mut Store,
    derived: bool,
    trace_id: &str,
    root_id: &str,
    gen_id: &str,
    ts: i64,
    [input, output, metadata, gen_input]: [Value; 4],
) {
    let mut root = ObsRow::new(root_id.into(), Some(trace_id.into()), "SPAN", ts);
    root.name = Some("multimodal-chat".into());
    root.end_time = Some(ts + 900);
    root.input = Some(raw(&input));
    root.output = Some(raw(&output));
    root.metadata = Some(raw(&metadata));
    root.created_at = ts;
    root.updated_at = ts;
    if derived {
        root.trace_name = Some("multimodal-chat".into());
        root.trace_metadata = Some(raw(&metadata));
    } else {
        store.traces.insert(TraceRow {
            id: trace_id.into(),
            timestamp: ts,
            name: Some("multimodal-chat".into()),
            input: Some(raw(&input)),
            output: Some(raw(&output)),
            session_id: None,
            release: None,
            version: None,
            user_id: Some("user-media".into()),
            metadata: Some(raw(&metadata)),
            tags: vec!["multimodal".into()],
            public: false,
            environment: "default".into(),
            created_at: ts,
            updated_at: ts,
            visible_at: 0,
        });
    }
    let mut generation = ObsRow::new(gen_id.into(), Some(trace_id.into()), "GENERATION", ts + 100);
    generation.parent_observation_id = Some(root_id.into());
    generation.name = Some("vision-call".into());
    generation.end_time = Some(ts + 800);
    generation.model = Some("gpt-4o".into());
    generation.input = Some(raw(&gen_input));
    generation.output = Some(raw(&json!({"role": "assistant", "content": "A square."})));
    generation.created_at = ts + 100;
    generation.updated_at = ts + 100;
    store.observations.insert(root);
    store.observations.insert(generation);
}

/// A dataset `multimodal-eval` with one item whose input holds an image and whose expected
/// output holds a PDF (uploaded with the dataset item as context).
fn dataset_with_media(
    store: &mut Store,
    media: &mut MediaStore,
    seed: u64,
    media_ids: &mut Vec<String>,
) -> Vec<String> {
    let t0 = SAMPLE_START_MS + 5_000;
    let dataset_id = format!("ds-multimodal-{seed}");
    if store.datasets.first_of(&dataset_id).is_none() {
        store.datasets.insert(DatasetRow {
            id: dataset_id.clone(),
            name: "multimodal-eval".into(),
            description: Some("Items with images and documents".into()),
            metadata: None,
            input_schema: None,
            expected_output_schema: None,
            project_id: store.project_id.clone(),
            created_at: t0,
            updated_at: t0,
            visible_at: 0,
        });
    }
    let item_id = format!("item-multimodal-{seed}");
    let mut add = |bytes: Vec<u8>, ct: &str, field: &str| -> String {
        let link = MediaLink {
            trace_id: None,
            observation_id: None,
            dataset_id: Some(dataset_id.clone()),
            dataset_item_id: Some(item_id.clone()),
            field: field.into(),
        };
        let id = media.insert_uploaded(ct, Bytes::from(bytes), link);
        media_ids.push(id.clone());
        reference(ct, &id)
    };
    let image = add(png(seed ^ 0xdada, 20), "image/png", "input");
    let doc = add(
        pdf("Expected: a red square"),
        "application/pdf",
        "expectedOutput",
    );
    store.dataset_items.insert(DatasetItemRow {
        id: item_id.clone(),
        status: "ACTIVE".into(),
        input: Some(raw(
            &json!({"question": "Describe the image", "image": image}),
        )),
        expected_output: Some(raw(&json!({"answer": "a square", "document": doc}))),
        metadata: None,
        source_trace_id: None,
        source_observation_id: None,
        dataset_id: dataset_id.clone(),
        dataset_name: "multimodal-eval".into(),
        created_at: t0 + 1_000,
        updated_at: t0 + 1_000,
        media_references: vec![],
        visible_at: 0,
    });
    vec![item_id]
}
