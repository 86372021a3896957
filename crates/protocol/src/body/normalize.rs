//! Rewrites fastjson's non-standard JSON into standard JSON:
//! - unquoted map keys (`{0:"a"}`, `{key:1}`) become quoted (`{"0":"a"}`);
//! - object or array map keys (`{{"topic":"t"}:1}`) become strings holding their JSON text
//!   (`{"{\"topic\":\"t\"}":1}`), which [`crate::body::admin`] decodes back into queues.
//!
//! Single pass, no recursion except for object keys (bounded by [`MAX_KEY_DEPTH`]).

use super::BodyError;

/// How deep object keys may nest inside object keys.
pub const MAX_KEY_DEPTH: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Inside an object; `true` while the next token is a key.
    Object(bool),
    Array,
}

/// Returns standard JSON for `src` (see the module docs).
pub fn to_standard_json(src: &[u8]) -> Result<Vec<u8>, BodyError> {
    normalize(src, 0)
}

fn normalize(src: &[u8], depth: usize) -> Result<Vec<u8>, BodyError> {
    if depth > MAX_KEY_DEPTH {
        return Err(BodyError::Fastjson("object keys nested too deep"));
    }
    let mut out = Vec::with_capacity(src.len() + 16);
    let mut stack: Vec<Ctx> = Vec::new();
    let mut i = 0;
    while let Some(&b) = src.get(i) {
        let expecting_key = matches!(stack.last(), Some(Ctx::Object(true)));
        match b {
            b'"' => {
                let end = string_end(src, i)?;
                out.extend_from_slice(src.get(i..end).unwrap_or_default());
                i = end;
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' => out.push(b),
            b'}' | b']' => {
                stack.pop();
                out.push(b);
            }
            b':' => {
                if let Some(Ctx::Object(k)) = stack.last_mut() {
                    *k = false;
                }
                out.push(b);
            }
            b',' => {
                if let Some(Ctx::Object(k)) = stack.last_mut() {
                    *k = true;
                }
                out.push(b);
            }
            b'{' | b'[' if expecting_key => {
                let end = value_end(src, i)?;
                let inner = normalize(src.get(i..end).unwrap_or_default(), depth + 1)?;
                let text = String::from_utf8_lossy(&inner);
                out.extend_from_slice(serde_json::to_string(&*text)?.as_bytes());
                i = end;
                continue;
            }
            b'{' => {
                stack.push(Ctx::Object(true));
                out.push(b);
            }
            b'[' => {
                stack.push(Ctx::Array);
                out.push(b);
            }
            _ if expecting_key => {
                // A bare key: take everything up to whitespace or ':'.
                let end = src
                    .get(i..)
                    .and_then(|rest| {
                        rest.iter()
                            .position(|c| matches!(c, b':' | b' ' | b'\t' | b'\n' | b'\r'))
                    })
                    .map_or(src.len(), |p| i + p);
                out.push(b'"');
                out.extend_from_slice(src.get(i..end).unwrap_or_default());
                out.push(b'"');
                i = end;
                continue;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

/// Index just past the closing quote of the string starting at `start`.
fn string_end(src: &[u8], start: usize) -> Result<usize, BodyError> {
    let mut i = start + 1;
    while let Some(&b) = src.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(BodyError::Fastjson("unterminated string"))
}

/// Index just past the object/array starting at `start` (strings respected).
fn value_end(src: &[u8], start: usize) -> Result<usize, BodyError> {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&b) = src.get(i) {
        match b {
            b'"' => {
                i = string_end(src, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(BodyError::Fastjson("unbalanced brackets"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8(to_standard_json(s.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn quotes_bare_keys_only_in_key_position() {
        assert_eq!(
            norm(r#"{"brokerAddrs":{0:"a:1",1:"b,{2:3}"},"x":[1,2]}"#),
            r#"{"brokerAddrs":{"0":"a:1","1":"b,{2:3}"},"x":[1,2]}"#
        );
        assert_eq!(norm(r#"{ a : 1 }"#), r#"{ "a" : 1 }"#);
    }

    #[test]
    fn stringifies_object_keys() {
        assert_eq!(
            norm(r#"{"offsetTable":{{"brokerName":"b","queueId":0}:{"m":1}}}"#),
            r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0}":{"m":1}}}"#
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(to_standard_json(br#"{"a"#).is_err());
        assert!(to_standard_json(br#"{{"a":1"#).is_err());
        let deep = "{".repeat(20) + &"}".repeat(20);
        assert!(to_standard_json(deep.as_bytes()).is_err());
    }
}
