//! What the emulated account holds, for the sandbox banner: its datasets, campaign tables and
//! the outcome codes its records carry.

use std::fmt;

/// One dataset of the emulated account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetFixture {
    /// Its id.
    pub id: u64,
    /// `live` or `expired`, in the gateway's words.
    pub status: &'static str,
    /// The campaign table it belongs to.
    pub campaign: String,
    /// How many records it holds.
    pub records: usize,
}

/// The emulated account's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixtures {
    /// Every dataset, by id.
    pub datasets: Vec<DatasetFixture>,
    /// Every campaign table, by name.
    pub campaigns: Vec<String>,
    /// The outcome codes the records carry, in ascending order.
    pub outcome_codes: Vec<String>,
}

impl fmt::Display for Fixtures {
    /// The banner's lines: one per dataset, then the campaign tables and the outcome codes.
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
        write!(f, "  Outcome codes:   {}", self.outcome_codes.join(", "))
    }
}
