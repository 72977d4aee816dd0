//! Reading the replies of Redis and of the Lua scripts: RESP values into Rust values.
//! Anything of an unexpected shape reads as absent rather than failing the caller.

use redis::Value;

/// A bulk or simple string.
pub fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// An integer, or a string holding one.
pub fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => as_string(v).and_then(|s| s.parse().ok()),
    }
}

/// A Lua array of strings.
pub fn as_strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(as_string).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_integers_read_from_either_encoding() {
        let bulk = Value::BulkString(b"42".to_vec());
        assert_eq!(as_string(&bulk).as_deref(), Some("42"));
        assert_eq!(as_int(&bulk), Some(42));
        assert_eq!(as_int(&Value::Int(-1)), Some(-1));
        assert_eq!(as_string(&Value::Nil), None);
        assert_eq!(as_int(&Value::BulkString(b"x".to_vec())), None);
        let array = Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::Int(1),
            Value::SimpleString("b".into()),
        ]);
        assert_eq!(as_strings(&array), ["a", "b"]);
        assert!(as_strings(&Value::Nil).is_empty());
    }
}
