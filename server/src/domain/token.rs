//! API tokens: roles and the bearer-secret format `rgy_{id}_{secret}`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::Rng;
use sha2::{Digest, Sha256};

use super::enums::Role;

/// Prefix of every bearer secret.
pub const PREFIX: &str = "rgy_";
const ID_LEN: usize = 12;

/// A freshly generated token: its public id and the full secret (shown once).
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub secret: String,
}

/// Generates a token with a 60-bit public id and a 256-bit secret.
pub fn generate() -> NewToken {
    let mut rng = rand::rng();
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let id: String = (0..ID_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes);
    let secret = format!("{PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(bytes));
    NewToken { id, secret }
}

/// Splits a bearer secret into (id, secret); `None` if it is not of the right shape.
pub fn parse(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(PREFIX)?;
    let (id, tail) = (rest.get(..ID_LEN)?, rest.get(ID_LEN..)?);
    let key = tail.strip_prefix('_')?;
    let ok_id = id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok_key =
        (40..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (ok_id && ok_key).then_some(id)
}

/// The stored hash of a secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time comparison of two hashes.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when `have` is at least `need`.
pub fn allows(have: Role, need: Role) -> bool {
    have >= need
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_hash() {
        let t = generate();
        assert_eq!(parse(&t.secret), Some(t.id.as_str()));
        assert!(t.secret.len() > 50);
        assert!(hashes_equal(&hash(&t.secret), &hash(&t.secret)));
        assert!(!hashes_equal(&hash(&t.secret), &hash(&generate().secret)));
        for bad in [
            "",
            "rgy_",
            "rgy_short_x",
            "Bearer x",
            &t.secret[..t.secret.len() - 20],
            "rgy_ABCDEFGHIJKL_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(allows(Role::Admin, Role::Viewer));
        assert!(allows(Role::Editor, Role::Editor));
        assert!(!allows(Role::Viewer, Role::Editor));
        assert!(!allows(Role::Editor, Role::Admin));
    }
}
