//! Encoding and hashing: Base64Encode, Base64Decode and Hash.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};
use md5::Md5;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::functions::{string, Args};
use super::At;

/// AWS: Base64Encode and Base64Decode take "a data string of up to 10,000
/// characters"; Hash data must be "10,000 characters or less".
pub(super) const MAX_TEXT_CHARS: usize = 10_000;

/// Standard (MIME) alphabet, padded output; input padding is optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The algorithms AWS lists for States.Hash, spelled as it spells them.
const ALGORITHMS: [&str; 5] = ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"];

/// A string argument within the 10,000-character limit.
pub(super) fn text<'v>(at: At, v: &'v Value) -> Result<&'v str, String> {
    let s = string(at, v)?;
    let chars = s.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(format!(
            "{at} is {chars} characters long, but {} accepts at most {MAX_TEXT_CHARS}: pass a shorter string",
            at.func.name()
        ));
    }
    Ok(s)
}

pub(super) fn algorithm<'v>(at: At, v: &'v Value) -> Result<&'v str, String> {
    let s = string(at, v)?;
    if ALGORITHMS.contains(&s) {
        Ok(s)
    } else {
        Err(format!(
            "{at} is {}, which is not a supported algorithm: use one of {}",
            v,
            ALGORITHMS.join(", ")
        ))
    }
}

pub(super) fn base64_encode(args: &Args) -> Result<Value, String> {
    let s = text(args.at(0), args.get(0))?;
    Ok(Value::String(BASE64.encode(s.as_bytes())))
}

/// Line breaks are ignored, as MIME decoders do; the decoded bytes must be
/// UTF-8 text because the result is a JSON string.
pub(super) fn base64_decode(args: &Args) -> Result<Value, String> {
    let at = args.at(0);
    let s = text(at, args.get(0))?;
    let compact: String = s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let bytes = BASE64.decode(compact.as_bytes()).map_err(|e| {
        format!("{at} is not valid Base64 ({e}): use the standard alphabet A-Z a-z 0-9 + /")
    })?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| format!("{at} decodes to bytes that are not UTF-8 text, so they cannot be returned as a JSON string"))
}

/// Lowercase hexadecimal digest of the UTF-8 bytes of the data.
pub(super) fn hash(args: &Args) -> Result<Value, String> {
    let data = text(args.at(0), args.get(0))?.as_bytes();
    let digest: Vec<u8> = match algorithm(args.at(1), args.get(1))? {
        "MD5" => Md5::digest(data).to_vec(),
        "SHA-1" => Sha1::digest(data).to_vec(),
        "SHA-256" => Sha256::digest(data).to_vec(),
        "SHA-384" => Sha384::digest(data).to_vec(),
        _ => Sha512::digest(data).to_vec(),
    };
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    Ok(Value::String(hex))
}
