//! The emulator's data: campaign tables, datasets and records; the writes of `create` and
//! `update`; the filters of `read`.
//!
//! Datasets `100` and `200` (live) and `400` (on hold) live in table `sandbox_campaign`, the
//! expired dataset `300` in `other_campaign`. Every table starts with the custom columns `company_name` and
//! `test_field`; a write naming an unknown column adds it to the record's table, so every
//! record of that table shows it from then on. Records are kept in id order; ids count up
//! from `550000`.
//!
//! - `model`: tables, datasets, records, their columns, and the [`Store`] holding them.
//! - `seed`: the account as the emulator starts it.
//! - `write`: `create` and `update` and the rules a written value meets.
//! - `read`: the `read` arguments ([`ReadQuery`]) and the records they find.
//! - `datasets`: `ecnow_datasets` read, create and update (`HOLD` / `LIVE` / `EXPIRED`).
//! - `campaigns`: `campaign_tables` and `campaign_fields` reads.
//! - `outcomes`: the account's outcome codes, the one table writes complete records by and
//!   `database.php?method=outcomecodes` lists.
//!
//! The store reads rows and arguments in the shapes [`wire`](super::wire) defines and hands
//! read rows back as [`wire::ReadRow`](super::wire::ReadRow)s; `wire` knows nothing of it.

mod campaigns;
mod datasets;
mod model;
mod outcomes;
mod read;
mod seed;
mod write;

pub(super) use model::{ACCOUNT_ID, Store};
pub(super) use outcomes::read_outcome_codes;
pub(super) use read::ReadQuery;
pub(super) use write::WriteOutcome;
