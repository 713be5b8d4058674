//! The token book of the emulated account: every token `token.php` issued, whether it is still
//! valid, and the answers about tokens.

use std::collections::HashMap;

use rand::RngCore;

use super::wire::{Envelope, Format};

/// The most tokens remembered before expired and revoked ones are forgotten.
const MAX_REMEMBERED_TOKENS: usize = 1024;
/// Random bytes in a token (written as twice as many hex characters).
const TOKEN_BYTES: usize = 20;
/// The `expire` of an answer about an expired token.
const EXPIRED: i64 = -1;
/// Milliseconds in a second, for token expiries in unix seconds.
const MS_PER_SECOND: i64 = 1000;
/// The digits of a token.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Every token issued, and the account's current one.
#[derive(Default)]
pub(super) struct TokenBook {
    issued: HashMap<String, IssuedToken>,
    current: Option<String>,
}

#[derive(Clone, Copy)]
struct IssuedToken {
    expire_ms: i64,
    revoked: bool,
}

pub(super) enum TokenState {
    Valid { expire: i64 },
    Expired,
    Unknown,
}

impl TokenBook {
    pub(super) fn state(&self, token: &str, now_ms: i64) -> TokenState {
        match self.issued.get(token) {
            None => TokenState::Unknown,
            Some(t) if t.revoked || now_ms >= t.expire_ms => TokenState::Expired,
            Some(t) => TokenState::Valid {
                expire: t.expire_ms.div_euclid(MS_PER_SECOND),
            },
        }
    }

    pub(super) fn current(&self, now_ms: i64) -> Option<(&str, i64)> {
        let token = self.current.as_deref()?;
        match self.state(token, now_ms) {
            TokenState::Valid { expire } => Some((token, expire)),
            _ => None,
        }
    }

    /// The current token while it is valid, else a new one lasting `lifetime_ms`; with its
    /// expiry in unix seconds.
    pub(super) fn current_or_mint(&mut self, now_ms: i64, lifetime_ms: u64) -> (String, i64) {
        if let Some((token, expire)) = self.current(now_ms) {
            return (token.to_owned(), expire);
        }
        if self.issued.len() >= MAX_REMEMBERED_TOKENS {
            self.issued
                .retain(|_, t| !t.revoked && t.expire_ms > now_ms);
        }
        let expire_ms = now_ms.saturating_add(i64::try_from(lifetime_ms).unwrap_or(i64::MAX));
        let token = mint_token();
        self.issued.insert(
            token.clone(),
            IssuedToken {
                expire_ms,
                revoked: false,
            },
        );
        self.current = Some(token.clone());
        (token, expire_ms.div_euclid(MS_PER_SECOND))
    }

    /// Makes every token issued so far expired; the next `get` mints a new one.
    pub(super) fn revoke_all(&mut self) {
        for token in self.issued.values_mut() {
            token.revoked = true;
        }
        self.current = None;
    }
}

pub(super) fn token_answer(token: &str, expire: i64, format: Format) -> String {
    Envelope {
        success: true,
        token: Some(token),
        expire: Some(expire),
        ..Envelope::default()
    }
    .write(format)
}

pub(super) fn expired_token() -> Envelope<'static> {
    Envelope {
        expire: Some(EXPIRED),
        ..Envelope::failure("Expired token")
    }
}

fn mint_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let mut token = String::with_capacity(2 * TOKEN_BYTES);
    for b in bytes {
        token.push(char::from(HEX[usize::from(b >> 4)]));
        token.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    token
}
