//! LangChain prompt manifests → Langfuse prompts.
//!
//! - f-string `{var}` becomes Langfuse's `{{var}}`; the escapes `{{` and `}}` become literal
//!   braces. A format spec or conversion (`{x:>10}`, `{x!r}`) keeps only the name and is reported
//!   as approximate.
//! - mustache is Langfuse's own syntax and is kept as it is; jinja2 is kept as text and reported.
//! - `ChatPromptTemplate` → a chat prompt (role + content per message, `MessagesPlaceholder` →
//!   a Langfuse placeholder); `PromptTemplate` → a text prompt; a `RunnableSequence` of a prompt
//!   and a model → the prompt, with the model's settings in `config`.

use serde_json::{Map, Value, json};

/// A converted template and whether anything in it was mapped approximately.
pub struct Converted {
    pub text: String,
    pub approximate: Option<String>,
}

pub fn fstring_to_mustache(s: &str) -> Converted {
    let mut out = String::with_capacity(s.len() + 8);
    let mut approx = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut inner = String::new();
                let mut closed = false;
                for n in chars.by_ref() {
                    if n == '}' {
                        closed = true;
                        break;
                    }
                    inner.push(n);
                }
                if !closed {
                    out.push('{');
                    out.push_str(&inner);
                    approx = Some("an unclosed `{` was kept as text".to_string());
                    continue;
                }
                let name_end = inner.find(['!', ':']).unwrap_or(inner.len());
                if name_end < inner.len() {
                    approx = Some(format!("the format spec of `{{{inner}}}` was dropped"));
                }
                out.push_str("{{");
                out.push_str(inner[..name_end].trim());
                out.push_str("}}");
            }
            other => out.push(other),
        }
    }
    Converted {
        text: out,
        approximate: approx,
    }
}

/// A template in `format` as Langfuse text.
pub fn convert(template: &str, format: &str) -> Converted {
    match format {
        "mustache" => Converted {
            text: template.to_string(),
            approximate: None,
        },
        "jinja2" => Converted {
            text: template.to_string(),
            approximate: Some("a jinja2 template was kept as it is".into()),
        },
        _ => fstring_to_mustache(template),
    }
}

/// A Langfuse prompt's `type`, `prompt` and `config` from a LangSmith commit manifest.
pub struct PromptBody {
    pub kind: &'static str,
    pub prompt: Value,
    pub config: Map<String, Value>,
    pub approximate: Vec<String>,
}

fn class(v: &Value) -> &str {
    v["id"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn template_of(v: &Value, notes: &mut Vec<String>) -> String {
    let k = &v["kwargs"];
    let text = match &k["template"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let c = convert(&text, k["template_format"].as_str().unwrap_or("f-string"));
    if let Some(a) = c.approximate {
        notes.push(a);
    }
    c.text
}

fn role_of(class: &str, kwargs: &Value) -> String {
    match class {
        "SystemMessagePromptTemplate" | "SystemMessage" => "system".into(),
        "HumanMessagePromptTemplate" | "HumanMessage" => "user".into(),
        "AIMessagePromptTemplate" | "AIMessage" => "assistant".into(),
        _ => kwargs["role"].as_str().unwrap_or("user").to_string(),
    }
}

fn chat_messages(v: &Value, notes: &mut Vec<String>) -> Vec<Value> {
    let mut out = Vec::new();
    for m in v["kwargs"]["messages"].as_array().into_iter().flatten() {
        let cls = class(m);
        let k = &m["kwargs"];
        if cls == "MessagesPlaceholder" {
            out.push(json!({"type": "placeholder", "name": k["variable_name"].as_str().unwrap_or("messages")}));
            continue;
        }
        let content = if k["prompt"].is_object() {
            template_of(&k["prompt"], notes)
        } else if let Some(parts) = k["prompt"].as_array() {
            notes.push("a multi-part message kept only its text parts".into());
            parts
                .iter()
                .map(|p| template_of(p, notes))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            // A literal message (`SystemMessage(content=...)`): its text has no variables.
            match &k["content"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        };
        out.push(json!({"role": role_of(cls, k), "content": content}));
    }
    out
}

/// `None` when the manifest holds no prompt the migrator knows.
pub fn prompt_from_manifest(manifest: &Value) -> Option<PromptBody> {
    let mut notes = Vec::new();
    let mut config = Map::new();
    let (prompt_part, model) = match class(manifest) {
        "RunnableSequence" => (
            &manifest["kwargs"]["first"],
            Some(&manifest["kwargs"]["last"]),
        ),
        _ => (manifest, None),
    };
    if let Some(m) = model.filter(|m| m.is_object()) {
        for (k, v) in m["kwargs"].as_object().into_iter().flatten() {
            if !v.is_object() {
                config.insert(k.clone(), v.clone());
            }
        }
        config.insert("model_class".into(), json!(class(m)));
    }
    let (kind, prompt) = match class(prompt_part) {
        "ChatPromptTemplate" | "StructuredPrompt" => {
            if let Some(schema) = prompt_part["kwargs"].get("schema_") {
                config.insert("structured_output_schema".into(), schema.clone());
            }
            ("chat", json!(chat_messages(prompt_part, &mut notes)))
        }
        "PromptTemplate" => ("text", json!(template_of(prompt_part, &mut notes))),
        _ => return None,
    };
    Some(PromptBody {
        kind,
        prompt,
        config,
        approximate: notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstring_variables_become_mustache_and_escapes_become_braces() {
        let c = fstring_to_mustache("Answer {question} as {{\"answer\": ...}} for {user}");
        assert_eq!(
            c.text,
            "Answer {{question}} as {\"answer\": ...} for {{user}}"
        );
        assert!(c.approximate.is_none());
    }

    #[test]
    fn format_specs_are_dropped_and_reported() {
        let c = fstring_to_mustache("{price:.2f} and {name!r}");
        assert_eq!(c.text, "{{price}} and {{name}}");
        assert!(c.approximate.is_some());
    }

    #[test]
    fn mustache_is_kept() {
        assert_eq!(convert("Hi {{name}}", "mustache").text, "Hi {{name}}");
    }

    #[test]
    fn a_chat_manifest_with_a_model_becomes_a_chat_prompt_with_config() {
        let tpl = |t: &str| {
            json!({"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
            "kwargs": {"template": t, "template_format": "f-string", "input_variables": []}})
        };
        let manifest = json!({"lc": 1, "type": "constructor", "id": ["langchain", "schema", "runnable", "RunnableSequence"],
        "kwargs": {
            "first": {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "ChatPromptTemplate"],
                "kwargs": {"messages": [
                    {"id": ["langchain", "prompts", "chat", "SystemMessagePromptTemplate"], "kwargs": {"prompt": tpl("Be {tone}.")}},
                    {"id": ["langchain", "prompts", "chat", "MessagesPlaceholder"], "kwargs": {"variable_name": "history"}},
                    {"id": ["langchain", "prompts", "chat", "HumanMessagePromptTemplate"], "kwargs": {"prompt": tpl("{q}")}},
                ]}},
            "last": {"id": ["langchain", "chat_models", "openai", "ChatOpenAI"], "kwargs": {"model_name": "gpt-4o-mini", "temperature": 0.2}},
        }});
        let p = prompt_from_manifest(&manifest).unwrap();
        assert_eq!(p.kind, "chat");
        assert_eq!(
            p.prompt,
            json!([
                {"role": "system", "content": "Be {{tone}}."},
                {"type": "placeholder", "name": "history"},
                {"role": "user", "content": "{{q}}"},
            ])
        );
        assert_eq!(p.config["model_name"], "gpt-4o-mini");
        assert_eq!(p.config["temperature"], 0.2);
    }
}
