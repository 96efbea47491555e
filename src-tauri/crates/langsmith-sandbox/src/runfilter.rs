//! Which runs a query selects: the structured fields v1 and v2 share, and a subset of LangSmith's
//! filter language (`and`, `or`, `eq`, `neq`, `gt`, `gte`, `lt`, `lte`, `has`) over the fields a
//! migration filters by. Anything else is a 400, as LangSmith answers an invalid filter.

use serde_json::Value;

use crate::store::Run;
use crate::timefmt;

#[derive(Default, Debug)]
pub struct RunQuery {
    pub sessions: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    pub trace: Option<String>,
    pub parent_run: Option<String>,
    pub run_type: Option<String>,
    pub is_root: Option<bool>,
    pub min_start_us: Option<i64>,
    pub max_start_us: Option<i64>,
    pub error: Option<bool>,
    pub reference_examples: Option<Vec<String>>,
    pub filter: Option<Expr>,
    /// Evaluated on the root run of each run's trace.
    pub trace_filter: Option<Expr>,
}

impl RunQuery {
    pub fn matches(&self, r: &Run) -> bool {
        let s = |k: &str| r.str(k).unwrap_or_default();
        if let Some(ss) = &self.sessions
            && !ss.iter().any(|x| x == s("session_id"))
        {
            return false;
        }
        if let Some(ids) = &self.ids
            && !ids.iter().any(|x| x == r.id())
        {
            return false;
        }
        if self.trace.as_deref().is_some_and(|t| t != s("trace_id")) {
            return false;
        }
        if let Some(p) = &self.parent_run
            && r.ancestors().last() != Some(p)
        {
            return false;
        }
        if self
            .run_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case(s("run_type")))
        {
            return false;
        }
        if self.is_root.is_some_and(|b| b != r.is_root()) {
            return false;
        }
        if self.min_start_us.is_some_and(|m| r.start_us < m) {
            return false;
        }
        if self.max_start_us.is_some_and(|m| r.start_us > m) {
            return false;
        }
        if self.error.is_some_and(|e| e != (s("status") == "error")) {
            return false;
        }
        if let Some(ex) = &self.reference_examples
            && !ex.iter().any(|x| x == s("reference_example_id"))
        {
            return false;
        }
        self.filter.as_ref().is_none_or(|f| f.eval(r))
    }

    /// `matches`, and the trace's root run passes `trace_filter` (a trace whose root is gone
    /// passes no trace filter).
    pub fn matches_in(&self, store: &crate::store::Store, r: &Run) -> bool {
        self.matches(r)
            && self.trace_filter.as_ref().is_none_or(|f| {
                store
                    .run(r.str("trace_id").unwrap_or_default())
                    .is_some_and(|root| f.eval(root))
            })
    }
}

#[derive(Debug, Clone)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp(String, String, String),
}

impl Expr {
    pub fn parse(s: &str) -> Result<Expr, String> {
        let mut p = Parser {
            s: s.as_bytes(),
            i: 0,
        };
        let e = p.expr()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("unexpected text at position {}", p.i));
        }
        Ok(e)
    }

    pub fn eval(&self, r: &Run) -> bool {
        match self {
            Expr::And(v) => v.iter().all(|e| e.eval(r)),
            Expr::Or(v) => v.iter().any(|e| e.eval(r)),
            Expr::Cmp(op, field, val) => cmp(r, op, field, val),
        }
    }
}

fn cmp(r: &Run, op: &str, field: &str, val: &str) -> bool {
    if field == "start_time" || field == "end_time" {
        let left = if field == "start_time" {
            Some(r.start_us)
        } else {
            r.str("end_time").and_then(timefmt::parse_us)
        };
        let (Some(l), Some(v)) = (left, timefmt::parse_us(val)) else {
            return false;
        };
        return match op {
            "gt" => l > v,
            "gte" => l >= v,
            "lt" => l < v,
            "lte" => l <= v,
            "eq" => l == v,
            "neq" => l != v,
            _ => false,
        };
    }
    if op == "has" {
        return r
            .v
            .get(field)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(val)));
    }
    let actual = match field {
        "is_root" => r.is_root().to_string(),
        "id" | "name" | "run_type" | "status" | "trace_id" | "session_id" | "parent_run_id" => {
            if field == "parent_run_id" {
                r.ancestors().last().cloned().unwrap_or_default()
            } else {
                r.str(field).unwrap_or_default().to_string()
            }
        }
        _ => return false,
    };
    match op {
        "eq" => actual == val,
        "neq" => actual != val,
        _ => false,
    }
}

pub const FIELDS: [&str; 11] = [
    "start_time",
    "end_time",
    "tags",
    "is_root",
    "id",
    "name",
    "run_type",
    "status",
    "trace_id",
    "session_id",
    "parent_run_id",
];

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn ident(&mut self) -> String {
        self.ws();
        let st = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[st..self.i]).into_owned()
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at position {}", c as char, self.i))
        }
    }
    fn value(&mut self) -> Result<String, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(q @ (b'"' | b'\'')) => {
                let q = *q;
                self.i += 1;
                let st = self.i;
                while self.i < self.s.len() && self.s[self.i] != q {
                    self.i += 1;
                }
                let v = String::from_utf8_lossy(&self.s[st..self.i]).into_owned();
                self.eat(q)?;
                Ok(v)
            }
            _ => {
                let v = self.ident();
                if v.is_empty() {
                    Err(format!("expected a value at position {}", self.i))
                } else {
                    Ok(v)
                }
            }
        }
    }
    fn expr(&mut self) -> Result<Expr, String> {
        let op = self.ident();
        self.eat(b'(')?;
        match op.as_str() {
            "and" | "or" => {
                let mut items = vec![self.expr()?];
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&b',') {
                        self.i += 1;
                        items.push(self.expr()?);
                    } else {
                        break;
                    }
                }
                self.eat(b')')?;
                Ok(if op == "and" {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                })
            }
            "eq" | "neq" | "gt" | "gte" | "lt" | "lte" | "has" => {
                let field = self.ident();
                if !FIELDS.contains(&field.as_str()) {
                    return Err(format!("unknown field `{field}`"));
                }
                self.eat(b',')?;
                let val = self.value()?;
                self.eat(b')')?;
                Ok(Expr::Cmp(op, field, val))
            }
            other => Err(format!("unknown operator `{other}`")),
        }
    }
}
