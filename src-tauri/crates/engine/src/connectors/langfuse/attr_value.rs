//! One OTLP attribute value, before it is written as OTLP/JSON or protobuf.

#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Strings(Vec<String>),
}
