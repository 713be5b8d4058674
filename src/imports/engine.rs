//! Sending an import's spooled rows: chunks in row order, at most `concurrency` in flight, each
//! dispatched exactly once.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::task::JoinSet;

use super::parse::read_spooled;
use super::{ImportError, ImportState, Imports, Reservation, StopReason, now_text};
use crate::domain::{DatasetId, NewRecord};
use crate::error::Error;
use crate::upstream::{ContactNowClient, CreateOutcome};

/// A run of spooled rows sent in one `create`.
struct Chunk {
    first_row: u64,
    last_row: u64,
    records: Vec<NewRecord>,
}

impl Chunk {
    fn rows(&self) -> String {
        format!("{}-{}", self.first_row, self.last_row)
    }
}

/// What one chunk's exchange means for its rows.
enum ChunkResult {
    /// ContactNow answered: these counts are certain.
    Answered {
        created: u64,
        rejected: u64,
        error: Option<String>,
    },
    /// The request may have reached ContactNow but its answer was lost: never sent again.
    Lost(Error),
    /// Nothing reached ContactNow (no slot, circuit open, unreachable, no token).
    NotSent(Error),
}

fn classify(records: u64, result: Result<CreateOutcome, Error>) -> ChunkResult {
    match result {
        Ok(outcome) => ChunkResult::Answered {
            created: outcome.created,
            rejected: outcome.rejected,
            error: outcome.error,
        },
        Err(Error::UpstreamRejected(message) | Error::NotFound(message)) => ChunkResult::Answered {
            created: 0,
            rejected: records,
            error: Some(message),
        },
        Err(
            error @ (Error::UpstreamBusy
            | Error::UpstreamUnavailable(_)
            | Error::UpstreamAuthFailed(_)
            | Error::StoreUnavailable(_)),
        ) => ChunkResult::NotSent(error),
        Err(error) => ChunkResult::Lost(error),
    }
}

async fn next_chunk(
    lines: &mut Lines<BufReader<tokio::fs::File>>,
    size: usize,
) -> Result<Option<Chunk>, Error> {
    let mut chunk: Option<Chunk> = None;
    while chunk
        .as_ref()
        .is_none_or(|chunk| chunk.records.len() < size)
    {
        let line = lines
            .next_line()
            .await
            .map_err(|e| Error::Internal(format!("import spool: {e}")))?;
        let Some(line) = line else { break };
        let (row, record) = read_spooled(&line)
            .ok_or_else(|| Error::Internal("import spool: unreadable line".into()))?;
        match &mut chunk {
            Some(chunk) => {
                chunk.last_row = row;
                chunk.records.push(record);
            }
            None => {
                chunk = Some(Chunk {
                    first_row: row,
                    last_row: row,
                    records: vec![record],
                });
            }
        }
    }
    Ok(chunk)
}

/// Sends every spooled row of import `reservation.id`, then records how it ended.
pub(super) async fn send_all(
    imports: Arc<Imports>,
    client: Arc<ContactNowClient>,
    reservation: Reservation,
    dataset: DatasetId,
    spool: std::fs::File,
) {
    let id = reservation.id.clone();
    let store = imports.store();
    let settings = imports.settings();
    let mut lines = BufReader::new(tokio::fs::File::from_std(spool)).lines();
    let mut in_flight = JoinSet::new();
    let mut pending = next_chunk(&mut lines, settings.chunk_rows).await;
    // The first row of the earliest chunk that was dispatched but never reached ContactNow.
    let mut first_unsent: Option<u64> = None;
    let mut upstream_down = false;
    loop {
        while in_flight.len() < settings.concurrency
            && !upstream_down
            && reservation.stop.reason().is_none()
        {
            if imports.cancelled_elsewhere(&id).await {
                reservation.stop.stop(StopReason::Cancelled);
                break;
            }
            let chunk = match pending {
                Ok(Some(chunk)) => chunk,
                _ => break,
            };
            let client = client.clone();
            in_flight.spawn(async move {
                let result = client.create(dataset, &chunk.records).await;
                (chunk, result)
            });
            pending = next_chunk(&mut lines, settings.chunk_rows).await;
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let Ok((chunk, result)) = joined else {
            // A chunk's task panicked: its rows may have been sent. Stop sending.
            tracing::error!(import = %id, "an import chunk task failed");
            upstream_down = true;
            continue;
        };
        let records = chunk.records.len() as u64;
        match classify(records, result) {
            ChunkResult::Answered {
                created,
                rejected,
                error,
            } => {
                imports.metrics().import_rows("created", created);
                imports.metrics().import_rows("rejected", rejected);
                store.update(&id, |import| {
                    import.sent += records;
                    import.created += created;
                    import.rejected += rejected;
                });
                if rejected > 0 {
                    let said = error.unwrap_or_else(|| "no reason given".into());
                    store.add_errors(
                        &id,
                        [ImportError::Rows {
                            rows: chunk.rows(),
                            message: format!("ContactNow refused {rejected} of these rows: {said}"),
                        }],
                    );
                }
            }
            ChunkResult::Lost(error) => {
                tracing::warn!(import = %id, rows = %chunk.rows(), %error, "import chunk unconfirmed");
                imports.metrics().import_rows("unconfirmed", records);
                store.update(&id, |import| {
                    import.sent += records;
                    import.unconfirmed += records;
                });
                store.add_errors(
                    &id,
                    [ImportError::Rows {
                        rows: chunk.rows(),
                        message: format!(
                            "not confirmed ({}): these rows may or may not exist in ContactNow and are not sent again; search them by phone",
                            error.code()
                        ),
                    }],
                );
            }
            ChunkResult::NotSent(error) => {
                tracing::warn!(import = %id, rows = %chunk.rows(), %error, "import stopped: ContactNow unreachable");
                upstream_down = true;
                first_unsent =
                    Some(first_unsent.map_or(chunk.first_row, |row| row.min(chunk.first_row)));
            }
        }
    }
    let spool_error = match &pending {
        Err(error) => Some(error.clone()),
        Ok(_) => None,
    };
    let next_row = match pending {
        Ok(Some(chunk)) => Some(chunk.first_row),
        _ => None,
    };
    let resume_from_row = match (first_unsent, next_row) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let state = match (resume_from_row, reservation.stop.reason()) {
        (None, _) if spool_error.is_none() => ImportState::Done,
        (_, Some(StopReason::Cancelled)) => ImportState::Cancelled,
        (_, Some(StopReason::Interrupted)) => ImportState::Interrupted,
        _ => ImportState::Failed,
    };
    if let Some(error) = spool_error {
        tracing::error!(import = %id, %error, "import stopped: its spool cannot be read");
    }
    let finished = store.update(&id, |import| {
        import.state = state;
        import.resume_from_row = resume_from_row;
        import.finished_at = Some(now_text());
    });
    if let Some(import) = finished {
        tracing::info!(
            import = %id,
            state = state.label(),
            created = import.created,
            rejected = import.rejected,
            unconfirmed = import.unconfirmed,
            resume_from_row = import.resume_from_row,
            "import ended"
        );
    }
    drop(reservation);
}
