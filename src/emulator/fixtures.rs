//! What the emulated account holds, for the sandbox banner: its datasets, campaign tables and
//! outcome codes.

use std::fmt;

/// One dataset of the emulated account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetFixture {
    /// Its id.
    pub id: u64,
    /// `hold`, `live` or `expired`, in the gateway's words.
    pub status: &'static str,
    /// The campaign table it belongs to.
    pub campaign: String,
    /// How many records it holds.
    pub records: usize,
}

/// One outcome code of the emulated account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeFixture {
    /// The code records carry.
    pub code: u64,
    /// What agents see.
    pub description: &'static str,
    /// Whether writing it takes the record off the dialer.
    pub complete: bool,
}

/// The emulated account's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixtures {
    /// Every dataset, by id.
    pub datasets: Vec<DatasetFixture>,
    /// Every campaign table, by name.
    pub campaigns: Vec<String>,
    /// Every outcome code of the account, in ascending order.
    pub outcome_codes: Vec<OutcomeFixture>,
}

impl fmt::Display for Fixtures {
    /// The banner's lines: one per dataset, the campaign tables, then one per outcome code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  Datasets:")?;
        for dataset in &self.datasets {
            writeln!(
                f,
                "    {:<6} {:<8} campaign {:<18} {} record(s)",
                dataset.id, dataset.status, dataset.campaign, dataset.records
            )?;
        }
        writeln!(f, "  Campaign tables: {}", self.campaigns.join(", "))?;
        write!(f, "  Outcome codes:")?;
        for outcome in &self.outcome_codes {
            let complete = if outcome.complete { "complete" } else { "" };
            write!(
                f,
                "\n    {:<6} {:<8} {}",
                outcome.code, complete, outcome.description
            )?;
        }
        Ok(())
    }
}
