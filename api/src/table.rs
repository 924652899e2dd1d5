//! Reports as tables, for the offices that open them in a spreadsheet: CSV (RFC 4180:
//! comma, CRLF, quotes doubled, UTF-8, a header row) and an Excel workbook.

use serde::Serialize;
use serde_json::Value;

pub const CSV: &str = "text/csv";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// How the client wants the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

pub fn format_of(req: &actix_web::HttpRequest) -> Format {
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first of the media types we make, in the order the client lists them.
    accept
        .split(',')
        .map(|range| range.split(';').next().unwrap_or("").trim())
        .find_map(|media| match media {
            CSV => Some(Format::Csv),
            XLSX => Some(Format::Xlsx),
            "application/json" => Some(Format::Json),
            _ => None,
        })
        .unwrap_or(Format::Json)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Bool(bool),
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

/// A JSON value's leaves with their dotted paths (`selling.under_18`).
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Cell)>) {
    let path = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                flatten(&path(key), value, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&path(&i.to_string()), item, out);
            }
        }
        Value::String(text) => out.push((prefix.to_owned(), Cell::Text(text.clone()))),
        Value::Number(n) => out.push((prefix.to_owned(), Cell::Number(n.as_f64().unwrap_or(0.0)))),
        Value::Bool(b) => out.push((prefix.to_owned(), Cell::Bool(*b))),
        Value::Null => out.push((prefix.to_owned(), Cell::Empty)),
    }
}

fn leaves(value: &impl Serialize) -> Vec<(String, Cell)> {
    let mut out = Vec::new();
    if let Ok(json) = serde_json::to_value(value) {
        flatten("", &json, &mut out);
    }
    out
}

impl Table {
    /// A report of single figures: one `measure,value` row each.
    pub fn measures(view: &impl Serialize) -> Table {
        Table {
            headers: vec!["measure".into(), "value".into()],
            rows: leaves(view)
                .into_iter()
                .map(|(path, cell)| vec![Cell::Text(path), cell])
                .collect(),
        }
    }

    /// One row per item, one column per figure.
    pub fn rows<V: Serialize>(items: &[V]) -> Table {
        let rows: Vec<Vec<(String, Cell)>> = items.iter().map(leaves).collect();
        Table {
            headers: rows
                .first()
                .map(|row| row.iter().map(|(path, _)| path.clone()).collect())
                .unwrap_or_default(),
            rows: rows
                .into_iter()
                .map(|row| row.into_iter().map(|(_, cell)| cell).collect())
                .collect(),
        }
    }

    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<Cell> = self.headers.iter().cloned().map(Cell::Text).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let line: Vec<String> = row.iter().map(csv_field).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        out
    }

    pub fn to_xlsx(&self, sheet_name: &str) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name(sheet_name)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (col, header) in (0u16..).zip(&self.headers) {
            sheet.write_string_with_format(0, col, header, &bold)?;
        }
        for (row, cells) in (1u32..).zip(&self.rows) {
            for (col, cell) in (0u16..).zip(cells) {
                match cell {
                    Cell::Text(text) => sheet.write_string(row, col, text)?,
                    Cell::Number(n) => sheet.write_number(row, col, *n)?,
                    Cell::Bool(b) => sheet.write_boolean(row, col, *b)?,
                    Cell::Empty => sheet,
                };
            }
        }
        workbook.save_to_buffer()
    }
}

/// One field: quoted when it holds a comma, a quote or a line break, quotes doubled.
/// Text that a spreadsheet would take for a formula is prefixed with an apostrophe.
fn csv_field(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => {
            let text = if text.starts_with(['=', '+', '-', '@']) {
                format!("'{text}")
            } else {
                text.clone()
            };
            if text.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text
            }
        }
        Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
        Cell::Number(n) => n.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Empty => String::new(),
    }
}

/// Reads RFC 4180 back into rows of fields: the inverse of [`Table::to_csv`], for
/// checking an export.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn figures_become_measure_rows() {
        let view = serde_json::json!({"period": {"from": "2025-01-01"}, "selling": {"under_18": 18}, "age_min": null});
        let csv = Table::measures(&view).to_csv();
        assert_eq!(
            csv,
            "measure,value\r\nperiod.from,2025-01-01\r\nselling.under_18,18\r\nage_min,\r\n"
        );
    }

    #[test]
    fn a_workbook_is_a_zip_file() {
        let view = serde_json::json!({"contacts": 3});
        let bytes = Table::measures(&view).to_xlsx("Rapport").unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }

    proptest! {
        #[test]
        fn any_text_survives_the_round_trip(cells in proptest::collection::vec("[^=+@-][\\PC\\r\\n\",]{0,20}", 1..5)) {
            let table = Table {
                headers: (0..cells.len()).map(|i| format!("c{i}")).collect(),
                rows: vec![cells.iter().cloned().map(Cell::Text).collect()],
            };
            let parsed = parse_csv(&table.to_csv());
            prop_assert_eq!(&parsed[1], &cells);
        }
    }
}
