//! API tokens and what each role may do.
//!
//! Three roles: `admin` (everything), `read-only` (query) and `ingest` (post events and scan
//! reports, read nothing — for sensors and webhooks). Tokens are 32 random bytes shown once as 64
//! hex digits; only their SHA-256 is stored. Each token has a unique name; the built-in tokens are
//! named after their role (`admin`, `read-only`, `ingest`) and are generated at first start, and
//! more can be created (one per node or webhook, so that each has its own rate limit).

use sha2::{Digest, Sha256};

use crate::store::{EventStore, StoreError};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Query only.
    ReadOnly,
    /// Post events and scan reports only; cannot read anything back.
    Ingest,
    /// Everything: ingest, query, change settings and tokens.
    Admin,
}

/// What a request wants to do, checked against the token's [`Role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read events, aggregates, reports, findings, alarms and metrics.
    Read,
    /// Post events and scan reports.
    Ingest,
    /// Change alarms and tokens.
    Manage,
}

impl Permission {
    /// How the permission is named in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Ingest => "ingest",
            Permission::Manage => "manage",
        }
    }
}

impl Role {
    /// Every role, in the order they are shown.
    pub const ALL: [Role; 3] = [Role::Admin, Role::ReadOnly, Role::Ingest];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Ingest => "ingest",
            Role::Admin => "admin",
        }
    }

    /// The role of a stored or requested name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether a token of this role may do `p`.
    pub fn allows(self, p: Permission) -> bool {
        match self {
            Role::Admin => true,
            Role::ReadOnly => p == Permission::Read,
            Role::Ingest => p == Permission::Ingest,
        }
    }

    /// The roles that may do `p`, for error messages.
    pub fn allowed_for(p: Permission) -> Vec<&'static str> {
        Role::ALL
            .into_iter()
            .filter(|r| r.allows(p))
            .map(Role::as_str)
            .collect()
    }
}

/// Tokens created at start-up, to be printed once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NewTokens {
    /// The admin token, if it was generated now.
    pub admin: Option<String>,
    /// The read-only token, if it was generated now.
    pub read_only: Option<String>,
    /// The ingest token, if it was generated now.
    pub ingest: Option<String>,
}

/// Tokens chosen by the operator (`MAMORI_ADMIN_TOKEN`, `MAMORI_INGEST_TOKEN`, e.g. from a
/// Kubernetes Secret); each replaces the stored built-in token of its role.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OperatorTokens {
    /// The admin token.
    pub admin: Option<String>,
    /// The ingest token.
    pub ingest: Option<String>,
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenInfo {
    /// Unique name (`admin`, `read-only`, `ingest` for the built-in ones).
    pub name: String,
    /// Its role.
    pub role: String,
    /// When it was created, in ns since the epoch.
    pub created_ns: i64,
}

/// Shortest token the operator may choose.
pub const MIN_TOKEN_LEN: usize = 16;

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

/// Checks a token name: 1–64 characters of `[A-Za-z0-9._-]`, so it is safe in URLs and logs.
pub fn check_token_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "token name {name:?} must be 1-64 characters of letters, digits, '.', '_' or '-'"
        )))
    }
}

/// Creates (or replaces) the token `name` with `role` and returns its secret, to be shown once.
pub fn create_token(store: &dyn EventStore, name: &str, role: Role) -> Result<String, StoreError> {
    check_token_name(name)?;
    let t = generate_token()?;
    store.put_token(name, role.as_str(), &hash_token(&t))?;
    Ok(t)
}

/// Makes sure the three built-in tokens exist. Tokens given by the operator replace the stored
/// ones; missing tokens are generated and returned so they can be shown once.
pub fn ensure_tokens(
    store: &dyn EventStore,
    operator: &OperatorTokens,
) -> Result<NewTokens, StoreError> {
    let mut new = NewTokens::default();
    for (role, given, slot) in [
        (Role::Admin, operator.admin.as_deref(), &mut new.admin),
        (Role::ReadOnly, None, &mut new.read_only),
        (Role::Ingest, operator.ingest.as_deref(), &mut new.ingest),
    ] {
        let name = role.as_str();
        match given {
            Some(t) if t.len() < MIN_TOKEN_LEN => {
                return Err(StoreError::Invalid(format!(
                    "the operator's {name} token must be at least {MIN_TOKEN_LEN} characters"
                )))
            }
            Some(t) => store.put_token(name, name, &hash_token(t))?,
            None if !store.has_token(name)? => *slot = Some(create_token(store, name, role)?),
            None => {}
        }
    }
    Ok(new)
}

/// The role of a presented token, if any.
pub fn role_of(store: &dyn EventStore, token: &str) -> Result<Option<Role>, StoreError> {
    Ok(store
        .token_role(&hash_token(token))?
        .as_deref()
        .and_then(Role::parse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_exactly_its_permissions() {
        use Permission::*;
        assert!([Read, Ingest, Manage]
            .iter()
            .all(|p| Role::Admin.allows(*p)));
        assert!(Role::ReadOnly.allows(Read));
        assert!(!Role::ReadOnly.allows(Ingest) && !Role::ReadOnly.allows(Manage));
        assert!(Role::Ingest.allows(Ingest));
        assert!(!Role::Ingest.allows(Read) && !Role::Ingest.allows(Manage));
        assert_eq!(Role::allowed_for(Ingest), ["admin", "ingest"]);
    }

    #[test]
    fn role_names_round_trip_and_unknown_names_are_none() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn token_names_are_checked() {
        assert!(check_token_name("node-1.eu_west").is_ok());
        for bad in ["", "a b", "x/y", &"n".repeat(65)] {
            assert!(check_token_name(bad).is_err(), "{bad:?}");
        }
    }
}
