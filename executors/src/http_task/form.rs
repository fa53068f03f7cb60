//! `Transform.RequestBodyEncoding: URL_ENCODED`: a JSON object as an
//! `application/x-www-form-urlencoded` body, with arrays written in the
//! `RequestEncodingOptions.ArrayFormat` the state names (AWS's
//! "Apply URL-encoding on request body").

use serde_json::Value;
use url::form_urlencoded::Serializer;

/// How an array value becomes form fields (`{"a": ["x", "y"]}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArrayFormat {
    /// `a[0]=x&a[1]=y` (AWS's default).
    #[default]
    Indices,
    /// `a=x&a=y`.
    Repeat,
    /// `a=x,y`.
    Commas,
    /// `a[]=x&a[]=y`.
    Brackets,
}

impl ArrayFormat {
    pub fn parse(name: &str) -> Option<ArrayFormat> {
        Some(match name {
            "INDICES" => ArrayFormat::Indices,
            "REPEAT" => ArrayFormat::Repeat,
            "COMMAS" => ArrayFormat::Commas,
            "BRACKETS" => ArrayFormat::Brackets,
            _ => return None,
        })
    }
}

/// The form body of `object`; nested objects are written `key[inner]=…`.
pub fn encode(object: &serde_json::Map<String, Value>, arrays: ArrayFormat) -> String {
    let mut out = Serializer::new(String::new());
    for (key, value) in object {
        field(&mut out, key, value, arrays);
    }
    out.finish()
}

fn field(out: &mut Serializer<'_, String>, key: &str, value: &Value, arrays: ArrayFormat) {
    match value {
        Value::Object(inner) => {
            for (k, v) in inner {
                field(out, &format!("{key}[{k}]"), v, arrays);
            }
        }
        Value::Array(items) => match arrays {
            ArrayFormat::Commas => {
                let joined: Vec<String> = items.iter().map(scalar).collect();
                out.append_pair(key, &joined.join(","));
            }
            ArrayFormat::Repeat => items.iter().for_each(|v| field(out, key, v, arrays)),
            ArrayFormat::Brackets => {
                let name = format!("{key}[]");
                items.iter().for_each(|v| field(out, &name, v, arrays));
            }
            ArrayFormat::Indices => {
                for (i, v) in items.iter().enumerate() {
                    field(out, &format!("{key}[{i}]"), v, arrays);
                }
            }
        },
        other => {
            out.append_pair(key, &scalar(other));
        }
    }
}

/// A value as form text: strings bare, `null` empty, the rest as JSON.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: Value, f: ArrayFormat) -> String {
        encode(v.as_object().unwrap(), f)
    }

    #[test]
    fn arrays_follow_the_array_format() {
        let body = json!({"array": ["a", "b", "c"]});
        assert_eq!(
            enc(body.clone(), ArrayFormat::Indices),
            "array%5B0%5D=a&array%5B1%5D=b&array%5B2%5D=c"
        );
        assert_eq!(
            enc(body.clone(), ArrayFormat::Repeat),
            "array=a&array=b&array=c"
        );
        assert_eq!(enc(body.clone(), ArrayFormat::Commas), "array=a%2Cb%2Cc");
        assert_eq!(
            enc(body, ArrayFormat::Brackets),
            "array%5B%5D=a&array%5B%5D=b&array%5B%5D=c"
        );
    }

    #[test]
    fn scalars_nested_objects_and_reserved_characters() {
        let body =
            json!({"q": "a b&c=d", "n": 5, "ok": true, "none": null, "user": {"name": "Ann"}});
        assert_eq!(
            enc(body, ArrayFormat::default()),
            "q=a+b%26c%3Dd&n=5&ok=true&none=&user%5Bname%5D=Ann"
        );
    }

    #[test]
    fn unknown_array_formats_are_refused() {
        assert_eq!(ArrayFormat::parse("BRACKETS"), Some(ArrayFormat::Brackets));
        assert_eq!(ArrayFormat::parse("brackets"), None);
    }
}
