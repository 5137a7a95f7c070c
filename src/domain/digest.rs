//! SHA-256 digests as lower-case hex: how API keys and request bodies are kept.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn of(bytes: &[u8]) -> Self {
        Self::hex(&Sha256::digest(bytes))
    }

    /// The digest of everything the reader holds, read a block at a time (a file of any size).
    pub fn of_reader(mut reader: impl std::io::Read) -> std::io::Result<Self> {
        let mut hasher = Sha256::new();
        let mut block = vec![0; 1 << 16];
        loop {
            match reader.read(&mut block)? {
                0 => return Ok(Self::hex(&hasher.finalize())),
                read => hasher.update(&block[..read]),
            }
        }
    }

    fn hex(digest: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        Self(hex)
    }

    pub fn parse(text: &str) -> Option<Self> {
        is_lower_hex(text, 64).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Exactly `len` digits of `0-9 a-f`.
pub(super) fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_64_lower_case_hex_digits_and_reads_back() {
        // printf abc | sha256sum
        let abc = Sha256Hex::of(b"abc");
        assert_eq!(
            abc.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Sha256Hex::parse(abc.as_str()), Some(abc));
        for bad in ["", "abc", &"A".repeat(64), &"g".repeat(64), &"a".repeat(63)] {
            assert_eq!(Sha256Hex::parse(bad), None, "{bad}");
        }
    }
}
