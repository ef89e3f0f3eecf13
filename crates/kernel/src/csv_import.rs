//! CSV imports, the part every domain shares: BOM handling, header checks, reading
//! rows with their line numbers, and the all-or-nothing report. A domain only says
//! how one row becomes a create or an update; it runs every row inside the caller's
//! transaction, and the caller commits only when `report.applied`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;
use crate::money::{Currency, Money};
use crate::validation::ExternalRef;

/// Errors beyond this many are counted, not listed.
pub const MAX_LISTED_ERRORS: usize = 1000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// 1-based line number of the record in the file (the header is line 1).
    pub row: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[schema(example = json!({"dry_run": true, "applied": false, "rows": 3, "created": 2, "updated": 1, "unchanged": 0, "failed": 0, "errors": []}))]
pub struct ImportReport {
    pub dry_run: bool,
    /// Whether the rows were written. Never partly: any failed row means none were.
    pub applied: bool,
    pub rows: u64,
    /// Rows that would create (dry run) or created a record.
    pub created: u64,
    /// Rows that matched an existing record and updated it.
    pub updated: u64,
    /// Rows that matched an existing record and held what it already holds: nothing
    /// to write (no version bump, no event).
    pub unchanged: u64,
    pub failed: u64,
    /// The first 1000 problems, by row and field.
    pub errors: Vec<RowError>,
}

/// What checking one row did to the record it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Created(uuid::Uuid),
    Updated(uuid::Uuid),
    /// The row matched a record and changed nothing in it.
    Unchanged(uuid::Uuid),
}

impl Checked {
    pub fn id(self) -> uuid::Uuid {
        match self {
            Checked::Created(id) | Checked::Updated(id) | Checked::Unchanged(id) => id,
        }
    }
}

/// What went wrong with one row: `(field, message)` pairs.
pub type RowErrors = Vec<(String, String)>;

/// One record, by column name.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    cells: HashMap<String, String>,
}

impl Row {
    /// The trimmed cell, `None` when the column is absent or the cell empty.
    pub fn get(&self, column: &str) -> Option<String> {
        self.cell(column).flatten()
    }

    /// The cell as an update reads it: `None` when the file has no such column
    /// (leave the field as it is), `Some(None)` when the cell is empty (clear it).
    pub fn cell(&self, column: &str) -> Option<Option<String>> {
        self.cells.get(column).map(|v| {
            let v = unneutralize(v.trim());
            (!v.is_empty()).then(|| v.to_owned())
        })
    }

    /// [`Row::cell`] as the input type a patch field has (`Text<N>`, `Email`, ...).
    pub fn cell_as<T: From<String>>(&self, column: &str) -> Option<Option<T>> {
        self.cell(column).map(|v| v.map(T::from))
    }

    /// Whether the file has this column at all.
    pub fn has(&self, column: &str) -> bool {
        self.cells.contains_key(column)
    }

    /// [`Row::parse`] as an update reads it: absent column `None`, empty `Some(None)`.
    pub fn parse_cell<T: std::str::FromStr>(
        &self,
        column: &str,
        errors: &mut RowErrors,
    ) -> Option<Option<T>> {
        self.has(column).then(|| self.parse(column, errors))
    }

    /// [`Row::money`] as an update reads it: `None` when neither column is in the file.
    pub fn money_cell(
        &self,
        amount: &str,
        currency: &str,
        errors: &mut RowErrors,
    ) -> Option<Option<Money>> {
        (self.has(amount) || self.has(currency)).then(|| self.money(amount, currency, errors))
    }

    /// Money from an amount column and a currency column (see [`money_cells`]); both
    /// or neither must be given.
    pub fn money(&self, amount: &str, currency: &str, errors: &mut RowErrors) -> Option<Money> {
        let a: Option<i64> = self.parse(amount, errors);
        match (a, self.get(currency)) {
            (Some(a), Some(c)) => match c.parse::<Currency>() {
                Ok(cur) => Some(Money::new(a, cur)),
                Err(_) => {
                    errors.push((
                        currency.to_owned(),
                        format!("'{c}' is not an ISO 4217 currency code"),
                    ));
                    None
                }
            },
            (None, None) => None,
            _ => {
                errors.push((amount.to_owned(), "amount and currency go together".into()));
                None
            }
        }
    }

    /// External references from one cell (see [`refs_cell`]).
    pub fn external_refs(&self, column: &str, errors: &mut RowErrors) -> Vec<ExternalRef> {
        let mut refs = Vec::new();
        for pair in self
            .get(column)
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match pair.split_once(':') {
                Some((channel, id)) => refs.push(ExternalRef::new(channel.trim(), id.trim())),
                None => errors.push((
                    column.to_owned(),
                    format!("'{pair}' is not channel:external_id"),
                )),
            }
        }
        refs
    }

    /// The cell parsed as `T`, noting a parse failure in `errors`.
    pub fn parse<T: std::str::FromStr>(&self, column: &str, errors: &mut RowErrors) -> Option<T> {
        let v = self.get(column)?;
        match v.parse() {
            Ok(t) => Some(t),
            Err(_) => {
                errors.push((column.to_owned(), format!("'{v}' is not a valid {column}")));
                None
            }
        }
    }
}

/// A cell a spreadsheet would run as a formula (`= + - @`, tab or CR first) is
/// written with a leading `'`, which spreadsheets show as text (OWASP's advice
/// against CSV injection); so is a cell that starts with `'` itself, so that
/// [`unneutralize`] gives back exactly what was written.
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    // A plain number (`-450.00`) is no formula: left alone, a spreadsheet sums it.
    if is_plain_number(cell) {
        return cell.into();
    }
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// `-?digits(.digits)?`, nothing else.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The cell as it was before [`neutralize`]: one leading `'` removed.
pub fn unneutralize(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// External references as one cell: `channel:external_id` pairs, `;`-separated.
pub fn refs_cell(refs: &[ExternalRef]) -> String {
    refs.iter()
        .map(|r| format!("{}:{}", r.channel, r.external_id))
        .collect::<Vec<_>>()
        .join(";")
}

/// Money as two cells: the amount in minor units and the currency code.
pub fn money_cells(money: Option<Money>) -> [String; 2] {
    match money {
        Some(m) => [m.amount.to_string(), m.currency.code().to_owned()],
        None => [String::new(), String::new()],
    }
}

/// A domain error as row errors: its field errors, or its detail.
pub fn row_errors(e: Error) -> RowErrors {
    if e.errors.is_empty() {
        vec![("row".into(), e.detail.to_string())]
    } else {
        e.errors
            .iter()
            .map(|f| (f.field.clone(), f.message.clone()))
            .collect()
    }
}

/// How much one caller may import at once, by role: a sales rep's mistake should not
/// be a million rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    pub max_rows: u64,
    pub max_bytes: u64,
    pub max_cell_chars: usize,
}

impl ImportLimits {
    pub fn for_actor(actor: &crate::Actor) -> Self {
        use crate::authz::{Actor, Role};
        // The whole file is applied in one transaction, which holds SQLite's writer
        // while it runs (about a quarter of a second per thousand rows here): 100,000
        // rows keep that under the 30 s a waiting writer gives up after.
        let (max_rows, max_bytes) = match actor {
            Actor::User(u) if u.role == Role::Manager => (50_000, 32 << 20),
            Actor::User(u) if u.role != Role::Admin => (10_000, 16 << 20),
            // Admins, integrations and the system.
            _ => (100_000, 64 << 20),
        };
        Self {
            max_rows,
            max_bytes,
            max_cell_chars: 10_000,
        }
    }
}

/// A CSV file being imported.
pub struct Import<R: Read> {
    csv: csv::Reader<BufReader<R>>,
    headers: Vec<String>,
    limits: ImportLimits,
    pub report: ImportReport,
}

impl<R: Read> Import<R> {
    /// Read the header: every column must be one of `known`, and at least one of
    /// `identifying` must be present.
    pub fn open(
        input: R,
        dry_run: bool,
        known: &[&str],
        identifying: &[&str],
        limits: ImportLimits,
    ) -> Result<Self, Error> {
        let mut reader = BufReader::new(input);
        // Spreadsheet programs write a UTF-8 byte-order mark.
        let bom = reader
            .fill_buf()
            .map_err(|e| Error::invalid_field("body", "unreadable", e.to_string()))?
            .starts_with(&[0xEF, 0xBB, 0xBF]);
        if bom {
            reader.consume(3);
        }
        let mut csv = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(reader);
        let headers: Vec<String> = csv
            .headers()
            .map_err(|e| Error::invalid_field("body", "csv", e.to_string()))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        let unknown: Vec<&String> = headers
            .iter()
            .filter(|h| !known.contains(&h.as_str()))
            .collect();
        if !unknown.is_empty() || !headers.iter().any(|h| identifying.contains(&h.as_str())) {
            return Err(Error::invalid_field(
                "header",
                "invalid_header",
                format!(
                    "unknown columns {unknown:?} or none of {identifying:?}; the columns are: {}",
                    known.join(",")
                ),
            ));
        }
        Ok(Self {
            csv,
            headers,
            limits,
            report: ImportReport {
                dry_run,
                ..Default::default()
            },
        })
    }

    /// The next well-formed record; malformed ones are counted as failed and skipped.
    /// Past the caller's row limit the file is refused (one failure) and reading stops.
    pub fn next_row(&mut self) -> Option<Row> {
        let mut record = csv::StringRecord::new();
        loop {
            let line = self.csv.position().line() + 1;
            if self.report.rows >= self.limits.max_rows {
                if matches!(self.csv.read_record(&mut record), Ok(true)) {
                    self.report.failed += 1;
                    let max = self.limits.max_rows;
                    self.fail(
                        line,
                        "row",
                        format!(
                            "the file has more than {max} rows, the most you may import at once"
                        ),
                    );
                }
                return None;
            }
            match self.csv.read_record(&mut record) {
                Ok(false) => return None,
                Ok(true) => {
                    self.report.rows += 1;
                    let line = record.position().map_or(line, |p| p.line());
                    let max = self.limits.max_cell_chars;
                    if let Some(column) = self
                        .headers
                        .iter()
                        .zip(record.iter())
                        .find(|(_, cell)| cell.chars().count() > max)
                        .map(|(h, _)| h.clone())
                    {
                        self.report.failed += 1;
                        self.fail(line, &column, format!("longer than {max} characters"));
                        continue;
                    }
                    let cells = self
                        .headers
                        .iter()
                        .cloned()
                        .zip(record.iter().map(str::to_owned))
                        .collect();
                    return Some(Row { line, cells });
                }
                Err(e) => {
                    self.report.rows += 1;
                    self.report.failed += 1;
                    self.fail(line, "row", e.to_string());
                }
            }
        }
    }

    /// Count one row's outcome.
    pub fn record(&mut self, row: &Row, outcome: Result<Checked, RowErrors>) {
        match outcome {
            Ok(Checked::Created(_)) => self.report.created += 1,
            Ok(Checked::Updated(_)) => self.report.updated += 1,
            Ok(Checked::Unchanged(_)) => self.report.unchanged += 1,
            Err(errors) => {
                for (field, message) in errors {
                    self.fail(row.line, &field, message);
                }
                self.report.failed += 1;
            }
        }
    }

    fn fail(&mut self, row: u64, field: &str, message: String) {
        if self.report.errors.len() < MAX_LISTED_ERRORS {
            self.report.errors.push(RowError {
                row,
                field: field.to_owned(),
                message,
            });
        }
    }

    pub fn finish(mut self) -> ImportReport {
        self.report.applied = !self.report.dry_run && self.report.failed == 0;
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImportLimits = ImportLimits {
        max_rows: 1000,
        max_bytes: 1 << 20,
        max_cell_chars: 100,
    };

    #[test]
    fn formulas_are_neutralized_and_come_back_as_written() {
        use super::{neutralize, unneutralize};
        for cell in [
            "=HYPERLINK(\"http://evil\",\"x\")",
            "+1",
            "-5+A1",
            "-",
            "-.5",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'quoted",
            "plain",
            "",
        ] {
            let out = neutralize(cell);
            if let Some(first) = cell.chars().next()
                && "=+-@\t\r'".contains(first)
            {
                assert!(out.starts_with('\''), "{cell}");
            } else {
                assert_eq!(out, cell);
            }
            assert_eq!(unneutralize(&out), cell);
        }
        // Plain numbers, negative ones too, stay numbers.
        for number in ["-5", "-450.00", "0", "12.5"] {
            assert_eq!(neutralize(number), number);
        }
    }

    #[test]
    fn reads_rows_with_line_numbers_and_skips_bom() {
        let data = "\u{feff}sku,name\nA-1,Tea\n\"B-2\",\"Cup, celadon\"\n";
        let mut import =
            Import::open(data.as_bytes(), false, &["sku", "name"], &["sku"], LIMITS).unwrap();
        let first = import.next_row().unwrap();
        assert_eq!((first.line, first.get("sku").as_deref()), (2, Some("A-1")));
        let second = import.next_row().unwrap();
        assert_eq!(second.get("name").as_deref(), Some("Cup, celadon"));
        import.record(&first, Ok(Checked::Created(uuid::Uuid::nil())));
        import.record(&second, Err(vec![("name".into(), "bad".into())]));
        assert!(import.next_row().is_none());
        let report = import.finish();
        assert_eq!(
            (report.rows, report.created, report.failed, report.applied),
            (2, 1, 1, false)
        );
        assert_eq!(report.errors[0].row, 3);
    }

    #[test]
    fn refuses_unknown_columns() {
        assert!(
            Import::open("sku,colour\n".as_bytes(), false, &["sku"], &["sku"], LIMITS).is_err()
        );
        assert!(
            Import::open(
                "name\n".as_bytes(),
                false,
                &["sku", "name"],
                &["sku"],
                LIMITS
            )
            .is_err()
        );
    }

    #[test]
    fn rows_and_cells_beyond_the_limits_fail() {
        let limits = ImportLimits {
            max_rows: 2,
            max_bytes: 1 << 20,
            max_cell_chars: 5,
        };
        let data = "sku,name\nA-1,Tea\nA-2,Teapots\nA-3,Cup\nA-4,Cup\n";
        let mut import =
            Import::open(data.as_bytes(), false, &["sku", "name"], &["sku"], limits).unwrap();
        let first = import.next_row().unwrap();
        import.record(&first, Ok(Checked::Created(uuid::Uuid::nil())));
        // Row 3 has a six-character cell: failed, skipped; then the limit stops reading.
        assert!(import.next_row().is_none());
        let report = import.finish();
        assert_eq!((report.rows, report.failed), (2, 2), "{report:?}");
        assert_eq!(report.errors[0].field, "name");
        assert!(report.errors[1].message.contains("more than 2 rows"));
    }
}
