//! Query strings as FastAPI reads them: repeated keys for arrays, `limit` capped at 100 with a 422.

use crate::error::{ApiError, ApiResult};

pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key (`id=a&id=b`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "True" | "1") => Ok(Some(true)),
            Some("false" | "False" | "0") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid_query(
                key,
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
                v,
            )),
        }
    }

    /// `offset` (≥ 0, default 0) and `limit` (1..=max, default `default`), 422 outside.
    pub fn page(&self, default: usize, max: usize) -> ApiResult<(usize, usize)> {
        let offset = match self.get("offset") {
            None => 0,
            Some(v) => v.parse::<usize>().map_err(|_| {
                ApiError::invalid_query(
                    "offset",
                    "greater_than_equal",
                    "Input should be greater than or equal to 0",
                    v,
                )
            })?,
        };
        let limit = match self.get("limit") {
            None => default,
            Some(v) => {
                let n: i64 = v.parse().map_err(|_| {
                    ApiError::invalid_query(
                        "limit",
                        "int_parsing",
                        "Input should be a valid integer, unable to parse string as an integer",
                        v,
                    )
                })?;
                if n < 1 {
                    return Err(ApiError::invalid_query(
                        "limit",
                        "greater_than_equal",
                        "Input should be greater than or equal to 1",
                        v,
                    ));
                }
                if n as usize > max {
                    return Err(ApiError::invalid_query(
                        "limit",
                        "less_than_equal",
                        format!("Input should be less than or equal to {max}"),
                        v,
                    ));
                }
                n as usize
            }
        };
        Ok((offset, limit))
    }
}

/// One page of an offset list.
pub fn slice<T: Clone>(items: &[T], offset: usize, limit: usize) -> Vec<T> {
    items.iter().skip(offset).take(limit).cloned().collect()
}
