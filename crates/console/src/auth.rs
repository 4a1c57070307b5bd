//! API tokens: an admin token (ingest, query, change) and a read-only token (query).
//!
//! Tokens are 32 random bytes, shown once as 64 hex digits; only their SHA-256 is stored.

use sha2::{Digest, Sha256};

use crate::store::{EventStore, StoreError};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Query only.
    ReadOnly,
    /// Everything: ingest, query, change settings.
    Admin,
}

impl Role {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Admin => "admin",
        }
    }

    fn from_stored(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "read-only" => Some(Role::ReadOnly),
            _ => None,
        }
    }
}

/// Tokens created at start-up, to be printed once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NewTokens {
    /// The admin token, if it was generated now.
    pub admin: Option<String>,
    /// The read-only token, if it was generated now.
    pub read_only: Option<String>,
}

/// The hex SHA-256 of a token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token.
pub fn generate_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Other(format!("cannot read random bytes for a token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Makes sure both tokens exist. An admin token given by the operator (`MAMORI_ADMIN_TOKEN`)
/// replaces the stored one; missing tokens are generated and returned so they can be shown once.
pub fn ensure_tokens(
    store: &dyn EventStore,
    admin_from_env: Option<&str>,
) -> Result<NewTokens, StoreError> {
    let mut new = NewTokens::default();
    match admin_from_env {
        Some(t) if t.len() < 16 => {
            return Err(StoreError::Invalid(
                "MAMORI_ADMIN_TOKEN must be at least 16 characters".into(),
            ))
        }
        Some(t) => store.put_token(Role::Admin.as_str(), &hash_token(t))?,
        None if !store.has_token(Role::Admin.as_str())? => {
            let t = generate_token()?;
            store.put_token(Role::Admin.as_str(), &hash_token(&t))?;
            new.admin = Some(t);
        }
        None => {}
    }
    if !store.has_token(Role::ReadOnly.as_str())? {
        let t = generate_token()?;
        store.put_token(Role::ReadOnly.as_str(), &hash_token(&t))?;
        new.read_only = Some(t);
    }
    Ok(new)
}

/// The role of a presented token, if any.
pub fn role_of(store: &dyn EventStore, token: &str) -> Result<Option<Role>, StoreError> {
    Ok(store
        .token_role(&hash_token(token))?
        .as_deref()
        .and_then(Role::from_stored))
}
