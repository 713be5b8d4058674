//! The fingerprint of a write: what makes a retry "the same request" as the first one.

use sha2::{Digest, Sha256};

use crate::cluster;

/// A fingerprint of a write: method, path and the body's canonical JSON.
pub fn fingerprint(method: &str, path: &str, body: &serde_json::Value) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b"\n");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    serde_json::to_writer(HashWriter(&mut hash), body).expect("JSON values serialise");
    cluster::lower_hex(&hash.finalize())
}

/// Feeds serialised JSON straight into the hash instead of building the whole text first.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a = fingerprint(
            "POST",
            "/datasets/100/records",
            &serde_json::json!({"a": 1, "b": 2}),
        );
        let b = fingerprint(
            "POST",
            "/datasets/100/records",
            &serde_json::json!({"b": 2, "a": 1}),
        );
        let c = fingerprint(
            "POST",
            "/datasets/100/records",
            &serde_json::json!({"b": 2, "a": 3}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
