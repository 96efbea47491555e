//! Query parameters and page/limit pagination as Langfuse validates them.

use base64::Engine;
use serde_json::{Value, json};

use crate::store::Slot;

use crate::error::{ApiError, ApiResult};
use crate::timefmt;

/// The query string as ordered pairs (repeated keys kept, for array parameters).
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`; an empty value counts as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Whether the key is present at all, even with an empty value.
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Every value of a repeated key (`environment=a&environment=b`), `key[]` included.
    pub fn all(&self, key: &str) -> Vec<&str> {
        let alt = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, v)| (k == key || *k == alt) && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Comma-separated list values (`id=a,b`).
    pub fn csv(&self, key: &str) -> Vec<&str> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("{key}: Expected number, received \"{v}\""))),
        }
    }

    pub fn num(&self, key: &str) -> ApiResult<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("{key}: Expected number, received \"{v}\""))),
        }
    }

    pub fn time(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => timefmt::parse(v)
                .map(Some)
                .ok_or_else(|| ApiError::bad(format!("{key}: Invalid datetime \"{v}\""))),
        }
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::bad(format!(
                "{key}: Expected boolean, received \"{v}\""
            ))),
        }
    }
}

/// Langfuse's legacy page/limit pagination: page starts at 1, default limit 50.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub page: usize,
    pub limit: usize,
}

/// Page sizes the spec does not cap are capped at 100, as Langfuse's shared pagination
/// validator does; being stricter than the server keeps clients honest.
pub const DEFAULT_PAGE_CAP: usize = 100;

impl Page {
    pub fn parse(p: &Params, cap: usize) -> ApiResult<Self> {
        let page = p.int("page")?.unwrap_or(1);
        let limit = p.int("limit")?.unwrap_or(50);
        if page < 1 {
            return Err(ApiError::bad(
                "page: Number must be greater than or equal to 1",
            ));
        }
        if limit < 1 {
            return Err(ApiError::bad(
                "limit: Number must be greater than or equal to 1",
            ));
        }
        if limit as usize > cap {
            return Err(ApiError::bad(format!(
                "limit: Number must be less than or equal to {cap}"
            )));
        }
        Ok(Page {
            page: page as usize,
            limit: limit as usize,
        })
    }

    pub fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.limit)
    }

    pub fn meta(&self, total: usize) -> Value {
        json!({
            "page": self.page,
            "limit": self.limit,
            "totalItems": total,
            "totalPages": total.div_ceil(self.limit),
        })
    }

    /// Takes this page out of `items` and counts them all.
    pub fn take<T>(&self, items: impl Iterator<Item = T>) -> (Vec<T>, usize) {
        let mut total = 0;
        let mut out = Vec::with_capacity(self.limit.min(1000));
        let (start, end) = (self.offset(), self.offset().saturating_add(self.limit));
        for it in items {
            if total >= start && total < end {
                out.push(it);
            }
            total += 1;
        }
        (out, total)
    }
}

/// `{data, meta}` for a page.
pub fn paged(data: Vec<Value>, page: &Page, total: usize) -> Value {
    json!({"data": data, "meta": page.meta(total)})
}

/// Cursor of the cursor-paginated reads: the (time, row) position of the last item returned,
/// as URL-safe base64 of a small versioned JSON object. Clients treat it as opaque.
pub fn encode_cursor(key: (i64, Slot)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"v": 1, "t": key.0, "s": key.1}).to_string())
}

pub fn decode_cursor(s: &str) -> ApiResult<(i64, Slot)> {
    let bad = || ApiError::bad("Invalid cursor");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match (v["t"].as_i64(), v["s"].as_u64()) {
        (Some(t), Some(s)) => Ok((t, s as Slot)),
        _ => Err(bad()),
    }
}
