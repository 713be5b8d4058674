//! The account as the emulator starts it.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};

use super::model::{DATE_FORMAT, Dataset, DatasetStatus, FIRST_RECORD_ID, Store, Table};
use crate::emulator::wire::Row;

impl Store {
    /// The account as the emulator starts it: four datasets and five records in `100`.
    pub(in crate::emulator) fn seeded(today: NaiveDate) -> Self {
        let mut store = Self {
            tables: vec![Table::new("sandbox_campaign"), Table::new("other_campaign")],
            datasets: vec![
                seeded_dataset(100, 0, DatasetStatus::Live, "Sandbox prospects"),
                seeded_dataset(200, 0, DatasetStatus::Live, "Sandbox spare"),
                seeded_dataset(300, 1, DatasetStatus::Expired, "Last year's list"),
                seeded_dataset(400, 0, DatasetStatus::Hold, "Sandbox on hold"),
            ],
            records: BTreeMap::new(),
            next_id: FIRST_RECORD_ID,
        };
        let at = |days: u64, time: &str| {
            let day = today.checked_add_days(Days::new(days)).unwrap_or(today);
            format!("{} {time}", day.format(DATE_FORMAT))
        };
        let seeds: [&[(&str, String)]; 5] = [
            &[
                ("title", "Mr".into()),
                ("firstname", "Joe".into()),
                ("lastname", "Blogs".into()),
                ("mobilephone", "07123456789".into()),
                ("company_name", "Company Name".into()),
            ],
            &[
                ("title", "Mrs".into()),
                ("firstname", "Jane".into()),
                ("lastname", "Smith".into()),
                ("homephone", "02079460000".into()),
                ("address1", "10 Downing Street".into()),
                ("address2", "London".into()),
                ("postcode", "SW1A 2AA".into()),
            ],
            &[
                ("title", "Dr".into()),
                ("firstname", "Amir".into()),
                ("lastname", "Khan".into()),
                ("workphone", "01614960000".into()),
                ("mobilephone", "07700900111".into()),
                ("postcode", "M1 1AE".into()),
                ("outcomecode", "200".into()),
                ("ProcessDate", at(0, "09:30:00")),
                ("callback", at(1, "10:15:00")),
                ("Call_Back_Notes", "Call after the board meeting".into()),
                ("AgentRef", "1001".into()),
            ],
            &[
                ("title", "Ms".into()),
                ("firstname", "Chloé".into()),
                ("lastname", "Dubois".into()),
                ("mobilephone", "07700900123".into()),
                ("notes", "Prefers email".into()),
                ("postcode", "LS1 4AP".into()),
            ],
            &[
                ("title", "Mr".into()),
                ("firstname", "Tom".into()),
                ("lastname", "O'Neill".into()),
                ("homephone", "01134960555".into()),
                ("mobilephone", "07700900456".into()),
                ("address1", "4 Mill Lane".into()),
                ("address2", "Leeds".into()),
                ("postcode", "LS2 7HY".into()),
            ],
        ];
        for seed in seeds {
            let mut fields = vec![("dataset".to_owned(), "100".to_owned())];
            fields.extend(seed.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
            store.create(&[Row(fields)], today);
        }
        store
    }
}

/// The queue the seeded datasets of `sandbox_campaign` dial from.
const SANDBOX_QUEUE: u64 = 75_674_454;
/// The queue of `other_campaign`.
const OTHER_QUEUE: u64 = 75_674_455;

fn seeded_dataset(id: u64, table: usize, status: DatasetStatus, description: &str) -> Dataset {
    Dataset {
        qid: if table == 0 {
            SANDBOX_QUEUE
        } else {
            OTHER_QUEUE
        },
        status,
        description: description.to_owned(),
        notes: "Loaded by the emulator".to_owned(),
        ..Dataset::new(id, table)
    }
}
