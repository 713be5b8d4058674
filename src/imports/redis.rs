//! The Redis copy of the imports (`GATEWAY_REDIS_URL`): any replica answers for an import, and
//! it outlives the replica that ran it.
//!
//! The replica running an import is its only writer: it writes the import's snapshot after each
//! change through one ordered writer task (so a later snapshot is never overwritten by an
//! earlier one) and appends its errors. Other replicas only read, and cancel by setting a flag
//! the running replica checks before it starts each chunk. Keys expire after [`RETENTION`];
//! callers are named by the hash of their `sub`, keys by the hash of `sub` and key.

use deadpool_redis::{Pool, redis};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::{Import, ImportError, MAX_LISTED_ERRORS, RETENTION};
use crate::cluster::{self, KEY_PREFIX};
use crate::error::Error;

/// What is stored under an import's key.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// The hash of the owner's `sub`.
    owner: String,
    import: Import,
}

enum Op {
    Put { owner: String, import: Import },
    Errors { id: String, errors: Vec<String> },
    Remove { id: String },
    Flush(oneshot::Sender<()>),
}

fn entry_key(id: &str) -> String {
    format!("{KEY_PREFIX}import:{id}")
}

fn errors_key(id: &str) -> String {
    format!("{KEY_PREFIX}import:{id}:errors")
}

fn cancel_key(id: &str) -> String {
    format!("{KEY_PREFIX}import:{id}:cancel")
}

fn idempotency_key(owner: &str, key: &str) -> String {
    format!(
        "{KEY_PREFIX}import-key:{}",
        cluster::hashed(&format!("{owner}\n{key}"))
    )
}

/// The shared copy of the imports.
pub struct RedisImports {
    pool: Pool,
    writes: mpsc::UnboundedSender<Op>,
}

async fn apply(pool: &Pool, op: Op) -> Result<(), String> {
    let ttl = RETENTION.as_secs();
    let mut connection = pool.get().await.map_err(|e| e.to_string())?;
    let mut pipe = redis::pipe();
    match op {
        Op::Put { owner, import } => {
            let id = import.id.clone();
            let stored =
                serde_json::to_string(&Stored { owner, import }).map_err(|e| e.to_string())?;
            pipe.cmd("SET")
                .arg(entry_key(&id))
                .arg(stored)
                .arg("EX")
                .arg(ttl);
        }
        Op::Errors { id, errors } => {
            let key = errors_key(&id);
            pipe.cmd("RPUSH").arg(&key).arg(errors);
            pipe.cmd("LTRIM")
                .arg(&key)
                .arg(0)
                .arg(MAX_LISTED_ERRORS - 1);
            pipe.cmd("EXPIRE").arg(&key).arg(ttl);
        }
        Op::Remove { id } => {
            pipe.cmd("DEL").arg(entry_key(&id)).arg(errors_key(&id));
        }
        Op::Flush(done) => {
            let _ = done.send(());
            return Ok(());
        }
    }
    pipe.query_async::<()>(&mut connection)
        .await
        .map_err(|e| e.to_string())
}

impl RedisImports {
    /// The copy in `pool`, with its writer task.
    pub fn start(pool: Pool) -> Self {
        let (writes, mut ops) = mpsc::unbounded_channel::<Op>();
        let writer_pool = pool.clone();
        tokio::spawn(async move {
            while let Some(op) = ops.recv().await {
                if let Err(error) = apply(&writer_pool, op).await {
                    tracing::warn!(%error, "the shared import store missed a write");
                }
            }
        });
        Self { pool, writes }
    }

    /// Writes the snapshot of an import of `owner` (a `sub`).
    pub fn put(&self, owner: &str, import: &Import) {
        let _ = self.writes.send(Op::Put {
            owner: cluster::hashed(owner),
            import: import.clone(),
        });
    }

    /// Appends errors of import `id`.
    pub fn add_errors(&self, id: &str, errors: &[ImportError]) {
        let errors: Vec<String> = errors
            .iter()
            .filter_map(|error| serde_json::to_string(error).ok())
            .collect();
        if !errors.is_empty() {
            let _ = self.writes.send(Op::Errors {
                id: id.to_owned(),
                errors,
            });
        }
    }

    /// Forgets import `id`.
    pub fn remove(&self, id: &str) {
        let _ = self.writes.send(Op::Remove { id: id.to_owned() });
    }

    /// Returns once every write queued before it is done.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.writes.send(Op::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    async fn connection(&self) -> Result<deadpool_redis::Connection, Error> {
        self.pool
            .get()
            .await
            .map_err(|e| cluster::unavailable("imports", e))
    }

    /// Import `id` if `owner` created it.
    pub async fn get(&self, owner: &str, id: &str) -> Result<Option<Import>, Error> {
        let mut connection = self.connection().await?;
        let stored: Option<String> = redis::cmd("GET")
            .arg(entry_key(id))
            .query_async(&mut connection)
            .await
            .map_err(|e| cluster::unavailable("imports", e))?;
        Ok(stored
            .and_then(|text| serde_json::from_str::<Stored>(&text).ok())
            .filter(|stored| stored.owner == cluster::hashed(owner))
            .map(|stored| stored.import))
    }

    /// The errors of import `id` if `owner` created it.
    pub async fn errors(&self, owner: &str, id: &str) -> Result<Option<Vec<ImportError>>, Error> {
        if self.get(owner, id).await?.is_none() {
            return Ok(None);
        }
        let mut connection = self.connection().await?;
        let listed: Vec<String> = redis::cmd("LRANGE")
            .arg(errors_key(id))
            .arg(0)
            .arg(-1)
            .query_async(&mut connection)
            .await
            .map_err(|e| cluster::unavailable("imports", e))?;
        Ok(Some(
            listed
                .iter()
                .filter_map(|text| serde_json::from_str(text).ok())
                .collect(),
        ))
    }

    /// Asks whichever replica runs import `id` to cancel it.
    pub async fn cancel(&self, id: &str) -> Result<(), Error> {
        let mut connection = self.connection().await?;
        redis::cmd("SET")
            .arg(cancel_key(id))
            .arg(1)
            .arg("EX")
            .arg(RETENTION.as_secs())
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| cluster::unavailable("imports", e))
    }

    /// Whether import `id` was cancelled on any replica (a Redis fault reads as no).
    pub async fn cancelled(&self, id: &str) -> bool {
        let Ok(mut connection) = self.connection().await else {
            return false;
        };
        redis::cmd("EXISTS")
            .arg(cancel_key(id))
            .query_async::<bool>(&mut connection)
            .await
            .unwrap_or(false)
    }

    /// The import `key` of `owner` names, if any.
    pub async fn keyed(&self, owner: &str, key: &str) -> Result<Option<String>, Error> {
        let mut connection = self.connection().await?;
        redis::cmd("GET")
            .arg(idempotency_key(owner, key))
            .query_async(&mut connection)
            .await
            .map_err(|e| cluster::unavailable("imports", e))
    }

    /// Binds `key` of `owner` to import `id` unless it names one already: then that one.
    pub async fn bind_key(
        &self,
        owner: &str,
        key: &str,
        id: &str,
    ) -> Result<Option<String>, Error> {
        let mut connection = self.connection().await?;
        let name = idempotency_key(owner, key);
        let set: bool = redis::cmd("SET")
            .arg(&name)
            .arg(id)
            .arg("NX")
            .arg("EX")
            .arg(RETENTION.as_secs())
            .query_async::<Option<String>>(&mut connection)
            .await
            .map(|answer| answer.is_some())
            .map_err(|e| cluster::unavailable("imports", e))?;
        if set {
            return Ok(None);
        }
        self.keyed(owner, key).await
    }

    /// Drops the binding of `key` of `owner` (its upload was refused).
    pub async fn unbind_key(&self, owner: &str, key: &str) {
        if let Ok(mut connection) = self.connection().await {
            let _: Result<(), _> = redis::cmd("DEL")
                .arg(idempotency_key(owner, key))
                .query_async(&mut connection)
                .await;
        }
    }
}
