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

/// Characters of the secret part of a generated token (256 bits in base64url).
pub const GENERATED_KEY_LEN: usize = 43;

/// Days a new token lives when its creator names no expiry and does not opt out of one.
pub const DEFAULT_LIFETIME_DAYS: i64 = 90;

/// Refuses a secret chosen by an operator (the bootstrap token) that is weaker than a
/// generated one: its secret part must be at least as long as a generated one (43
/// base64url characters) and not visibly patterned (the empirical Shannon entropy of its
/// characters, times its length, at least 128 bits; a random 43-character key has ~200).
pub fn check_strength(secret: &str) -> Result<(), String> {
    let Some(id) = parse(secret) else {
        return Err(
            "is not a registry token (rgy_{12 lowercase letters or digits}_{40-64 base64url characters})".into(),
        );
    };
    let key = &secret[PREFIX.len() + id.len() + 1..];
    if key.len() < GENERATED_KEY_LEN {
        return Err(format!(
            "its secret part has {} characters; at least {GENERATED_KEY_LEN} (256 random bits) are required",
            key.len()
        ));
    }
    let mut counts = [0usize; 256];
    for b in key.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = key.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2() * n
        })
        .sum();
    if bits < 128.0 {
        return Err(format!(
            "its secret part looks patterned (about {bits:.0} bits of entropy); use random bytes, e.g. `registryd token create` or `openssl rand -base64 36`"
        ));
    }
    Ok(())
}

/// The stored hash of a secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time comparison of two hashes.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when `have` is at least `need`, by [`Role::rank`] (never by the enum's order).
pub fn allows(have: Role, need: Role) -> bool {
    have.rank() >= need.rank()
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
    fn generated_secrets_are_strong_and_patterned_ones_are_not() {
        for _ in 0..500 {
            let t = generate();
            assert_eq!(check_strength(&t.secret), Ok(()), "{}", t.secret);
        }
        let id = "abcdefghijkl";
        for weak in [
            format!("rgy_{id}_{}", "a".repeat(43)),
            format!("rgy_{id}_{}", "abcd".repeat(11)),
            format!("rgy_{id}_{}", "Ab3_".repeat(11)),
            // Random-looking but shorter than a generated secret.
            format!("rgy_{id}_{}", &generate().secret[17..57]),
        ] {
            assert!(check_strength(&weak).is_err(), "{weak}");
        }
    }

    #[test]
    fn roles_are_ranked_explicitly() {
        assert_eq!(Role::Viewer.rank(), 1);
        assert_eq!(Role::Editor.rank(), 2);
        assert_eq!(Role::Admin.rank(), 3);
        assert!(allows(Role::Admin, Role::Viewer));
        assert!(allows(Role::Editor, Role::Editor));
        assert!(!allows(Role::Viewer, Role::Editor));
        assert!(!allows(Role::Editor, Role::Admin));
    }
}
