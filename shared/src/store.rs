//! State that survives restarts, behind a small trait (DESIGN §10: sled is a cache
//! that can be rebuilt). `SledStore` opens the database; one that will not open (sled
//! has open reports of databases that won't after a kill) is moved aside with a loud
//! log line and a fresh one is made, so start-up never blocks on it.

use std::path::{Path, PathBuf};

/// Where a part keeps the state it needs across restarts.
pub trait Store: Send {
    /// The value under `key`, if any.
    fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `value` under `key` and makes it durable before returning.
    fn save(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
}

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("state store {path}: {reason}")]
pub struct StoreError {
    /// The database.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// sled on disk.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
}

impl SledStore {
    /// Opens `path`, moving a database that will not open aside as
    /// `<path>.broken-<n>` and starting empty.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |reason: String| StoreError {
            path: path.display().to_string(),
            reason,
        };
        let db = match sled::open(path) {
            Ok(db) => db,
            Err(e) => {
                let aside = (0..)
                    .map(|n| PathBuf::from(format!("{}.broken-{n}", path.display())))
                    .find(|p| !p.exists())
                    .expect("an unused name exists");
                tracing::error!(path = %path.display(), moved_to = %aside.display(), error = %e,
                    "State database does not open; moved it aside and starting from empty state.");
                std::fs::rename(path, &aside).map_err(|e| err(format!("moving it aside: {e}")))?;
                sled::open(path).map_err(|e| err(e.to_string()))?
            }
        };
        Ok(Self {
            path: path.to_owned(),
            db,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

impl Store for SledStore {
    fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
    }

    fn save(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.db.insert(key, value).map_err(|e| self.err(e))?;
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }
}
