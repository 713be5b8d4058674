//! The account's outcome codes: the one table that says which codes complete a record
//! (writes follow it) and what `database.php?method=outcomecodes` lists.

use crate::emulator::wire::{Args, TextRow};

/// The codes below this are the system's own; account codes are larger numbers.
const FIRST_ACCOUNT_CODE: u64 = 1000;

/// An outcome code of the emulated account and its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::emulator) struct OutcomeCode {
    /// The code, as records carry it.
    pub(in crate::emulator) code: u64,
    /// What agents see.
    pub(in crate::emulator) description: &'static str,
    /// Whether the outcome takes the record off the dialer (`complete` `Y`).
    pub(in crate::emulator) complete: bool,
    /// A decision maker was contacted.
    pub(in crate::emulator) dmc: bool,
    /// The call made a sale.
    pub(in crate::emulator) sale: bool,
    /// The number must not be called again.
    pub(in crate::emulator) do_not_call: bool,
    /// An answering machine took the call.
    pub(in crate::emulator) answerphone: bool,
}

impl OutcomeCode {
    const fn new(code: u64, description: &'static str) -> Self {
        Self {
            code,
            description,
            complete: false,
            dmc: false,
            sale: false,
            do_not_call: false,
            answerphone: false,
        }
    }

    /// Whether the system defines it (every account has it).
    pub(in crate::emulator) fn is_system(&self) -> bool {
        self.code < FIRST_ACCOUNT_CODE
    }
}

/// The emulated account's outcome codes, in code order. A code not listed here is accepted on
/// a write as an account-specific code that does not complete.
pub(in crate::emulator) const OUTCOME_CODES: [OutcomeCode; 7] = [
    // What a fresh record carries.
    OutcomeCode::new(100, "New Prospect"),
    // The seeded COMPLETE record's outcome.
    OutcomeCode {
        complete: true,
        dmc: true,
        sale: true,
        ..OutcomeCode::new(200, "Sale")
    },
    OutcomeCode {
        complete: true,
        dmc: true,
        ..OutcomeCode::new(201, "Not Interested")
    },
    OutcomeCode {
        dmc: true,
        ..OutcomeCode::new(300, "Call Back")
    },
    OutcomeCode {
        answerphone: true,
        ..OutcomeCode::new(301, "Answerphone")
    },
    OutcomeCode {
        complete: true,
        dmc: true,
        do_not_call: true,
        ..OutcomeCode::new(302, "Do Not Call")
    },
    // An account-specific code, as real accounts number them.
    OutcomeCode {
        complete: true,
        dmc: true,
        sale: true,
        ..OutcomeCode::new(510_456, "Appointment Booked")
    },
];

/// Whether writing `code` completes a record.
pub(super) fn outcome_is_complete(code: &str) -> bool {
    OUTCOME_CODES
        .iter()
        .any(|o| o.complete && code.parse() == Ok(o.code))
}

impl OutcomeCode {
    /// The code as `outcomecodes` rows show it.
    fn row(&self) -> TextRow {
        let yes_no = |flag: bool| if flag { "Y" } else { "N" }.to_owned();
        TextRow(vec![
            ("outcome", self.code.to_string()),
            ("description", self.description.to_owned()),
            ("complete", yes_no(self.complete)),
            ("dmc", yes_no(self.dmc)),
            ("sale", yes_no(self.sale)),
            ("do_not_call", yes_no(self.do_not_call)),
            (
                "answerphone",
                if self.answerphone { "1" } else { "0" }.to_owned(),
            ),
        ])
    }
}

/// The `outcomecodes` read: filters `uid` (one code) and `mode=system` (the system's codes).
pub(in crate::emulator) fn read_outcome_codes(args: &Args<'_>) -> Result<Vec<TextRow>, String> {
    let uid = args
        .non_empty("uid")
        .map(|u| {
            u.trim()
                .parse::<u64>()
                .map_err(|_| "Bad argument: uid".to_owned())
        })
        .transpose()?;
    let system_only = match args.non_empty("mode") {
        None => false,
        Some("system") => true,
        Some(_) => return Err("Bad argument: mode".to_owned()),
    };
    Ok(OUTCOME_CODES
        .iter()
        .filter(|o| uid.is_none_or(|u| o.code == u))
        .filter(|o| !system_only || o.is_system())
        .map(OutcomeCode::row)
        .collect())
}
