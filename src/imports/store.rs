//! The imports of this replica, in memory: each with its owner, its errors and its expiry, and
//! the `Idempotency-Key`s that named them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::redis::RedisImports;
use super::{Import, ImportError, MAX_LISTED_ERRORS, RETENTION, lock};
use crate::metrics::Metrics;

struct Entry {
    import: Import,
    owner: String,
    errors: Vec<ImportError>,
    /// Errors past [`MAX_LISTED_ERRORS`]: how many, and the first and last row they concern.
    unlisted: Option<(u64, u64, u64)>,
    expires: Instant,
}

/// Imports by id, each visible to its owner only.
pub struct ImportStore {
    entries: Mutex<HashMap<String, Entry>>,
    /// `(owner, Idempotency-Key)` → import id.
    keys: Mutex<HashMap<(String, String), String>>,
    metrics: Arc<Metrics>,
    /// The Redis copy every change is written through to, when configured.
    shared: Option<Arc<RedisImports>>,
}

fn first_row(error: &ImportError) -> u64 {
    match error {
        ImportError::Row { row, .. } => *row,
        ImportError::Rows { rows, .. } => rows
            .split('-')
            .next()
            .and_then(|first| first.parse().ok())
            .unwrap_or(0),
    }
}

impl ImportStore {
    /// An empty store, written through to `shared` when given.
    pub fn new(metrics: Arc<Metrics>, shared: Option<Arc<RedisImports>>) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            metrics,
            shared,
        }
    }

    /// Keeps a new import of `owner`; drops the imports past their retention.
    pub fn insert(&self, owner: &str, import: Import) {
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        let expired: Vec<String> = entries
            .iter()
            .filter(|(_, entry)| entry.expires <= now && entry.import.state.is_final())
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            if let Some(entry) = entries.remove(id) {
                self.metrics
                    .import_state(Some(entry.import.state.label()), None);
            }
        }
        if !expired.is_empty() {
            lock(&self.keys).retain(|_, id| !expired.contains(id));
        }
        self.metrics.import_state(None, Some(import.state.label()));
        if let Some(shared) = &self.shared {
            shared.put(owner, &import);
        }
        entries.insert(
            import.id.clone(),
            Entry {
                import,
                owner: owner.to_owned(),
                errors: Vec::new(),
                unlisted: None,
                expires: now + RETENTION,
            },
        );
    }

    /// Forgets an import (an upload refused before anything was sent) and its key.
    pub fn remove(&self, id: &str) {
        if let Some(entry) = lock(&self.entries).remove(id) {
            self.metrics
                .import_state(Some(entry.import.state.label()), None);
        }
        lock(&self.keys).retain(|_, named| named != id);
        if let Some(shared) = &self.shared {
            shared.remove(id);
        }
    }

    /// The import `id` if `owner` created it (another caller sees nothing).
    pub fn get(&self, owner: &str, id: &str) -> Option<Import> {
        lock(&self.entries)
            .get(id)
            .filter(|entry| entry.owner == owner)
            .map(|entry| entry.import.clone())
    }

    /// The errors of import `id` if `owner` created it.
    pub fn errors(&self, owner: &str, id: &str) -> Option<Vec<ImportError>> {
        let entries = lock(&self.entries);
        let entry = entries.get(id).filter(|entry| entry.owner == owner)?;
        let mut errors = entry.errors.clone();
        if let Some((count, first, last)) = entry.unlisted {
            errors.push(ImportError::Rows {
                rows: format!("{first}-{last}"),
                message: format!("{count} more errors in these rows are not listed"),
            });
        }
        Some(errors)
    }

    /// Changes import `id`; a change of state is counted in the metrics.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Import)) -> Option<Import> {
        let mut entries = lock(&self.entries);
        let entry = entries.get_mut(id)?;
        let before = entry.import.state;
        change(&mut entry.import);
        if entry.import.state != before {
            self.metrics
                .import_state(Some(before.label()), Some(entry.import.state.label()));
        }
        if let Some(shared) = &self.shared {
            shared.put(&entry.owner, &entry.import);
        }
        Some(entry.import.clone())
    }

    /// Adds errors to import `id`, listing at most [`MAX_LISTED_ERRORS`].
    pub fn add_errors(&self, id: &str, errors: impl IntoIterator<Item = ImportError>) {
        let errors: Vec<ImportError> = errors.into_iter().collect();
        if let Some(shared) = &self.shared {
            shared.add_errors(id, &errors);
        }
        let mut entries = lock(&self.entries);
        let Some(entry) = entries.get_mut(id) else {
            return;
        };
        for error in errors {
            if entry.errors.len() < MAX_LISTED_ERRORS {
                entry.errors.push(error);
                continue;
            }
            let row = first_row(&error);
            entry.unlisted = Some(match entry.unlisted {
                None => (1, row, row),
                Some((count, first, last)) => (count + 1, first.min(row), last.max(row)),
            });
        }
    }

    /// The import an `Idempotency-Key` of `owner` names, if any.
    pub fn keyed(&self, owner: &str, key: &str) -> Option<String> {
        lock(&self.keys)
            .get(&(owner.to_owned(), key.to_owned()))
            .cloned()
    }

    /// Binds `key` of `owner` to import `id`, unless it already names one: then that one.
    pub fn bind_key(&self, owner: &str, key: &str, id: &str) -> Option<String> {
        let mut keys = lock(&self.keys);
        let slot = (owner.to_owned(), key.to_owned());
        if let Some(existing) = keys.get(&slot) {
            return Some(existing.clone());
        }
        keys.insert(slot, id.to_owned());
        None
    }
}
