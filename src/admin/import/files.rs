//! The file read as rows, from where a checkpoint left it, and the rejects written beside it.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::{Value, json};

/// A row as read: its line, its members as a JSON object (the API's field names), and the row
/// as written (for the rejects).
pub(super) struct Row {
    pub line: u64,
    pub json: String,
    pub original: Vec<String>,
}

/// The file, read as rows of JSON objects from where a checkpoint left it.
pub(super) struct Reader {
    csv: Option<csv::Reader<File>>,
    jsonl: Option<BufReader<File>>,
    pub header: Vec<String>,
    /// Where the next row starts, for JSON Lines.
    offset: u64,
    pub line: u64,
    pub size: u64,
}

impl Reader {
    pub(super) fn open(path: &Path, csv: bool, from: Option<(u64, u64)>) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        if !csv {
            let (offset, line) = from.unwrap_or((0, 0));
            file.seek(SeekFrom::Start(offset))?;
            return Ok(Self {
                csv: None,
                jsonl: Some(BufReader::new(file)),
                header: Vec::new(),
                offset,
                line,
                size,
            });
        }
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
        let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        let mut line = 1;
        if let Some((offset, at)) = from {
            let mut position = csv::Position::new();
            position.set_byte(offset).set_line(at + 1);
            reader.seek(position)?;
            line = at;
        }
        Ok(Self {
            csv: Some(reader),
            jsonl: None,
            header,
            offset: 0,
            line,
            size,
        })
    }

    pub(super) fn position(&self) -> u64 {
        match &self.csv {
            Some(reader) => reader.position().byte(),
            None => self.offset,
        }
    }

    pub(super) fn chunk(&mut self, rows: usize) -> std::io::Result<Vec<Row>> {
        let mut chunk = Vec::with_capacity(rows);
        while chunk.len() < rows {
            let row = match (&mut self.csv, &mut self.jsonl) {
                (Some(reader), _) => {
                    let mut record = csv::StringRecord::new();
                    if !reader.read_record(&mut record)? {
                        break;
                    }
                    self.line = record.position().map_or(self.line + 1, |p| p.line());
                    let original: Vec<String> = record.iter().map(str::to_owned).collect();
                    Row {
                        line: self.line,
                        json: csv_json(&self.header, &original),
                        original,
                    }
                }
                (None, Some(reader)) => {
                    let mut text = String::new();
                    let read = reader.read_line(&mut text)?;
                    if read == 0 {
                        break;
                    }
                    self.offset += read as u64;
                    self.line += 1;
                    let text = text.trim_end_matches(['\n', '\r']).to_owned();
                    if text.trim().is_empty() {
                        continue;
                    }
                    Row {
                        line: self.line,
                        json: text.clone(),
                        original: vec![text],
                    }
                }
                (None, None) => unreachable!("a reader of one kind"),
            };
            chunk.push(row);
        }
        Ok(chunk)
    }
}

/// A CSV record as a JSON object of the API's field names: `amount` as the number written,
/// `metadata` and `fields` as the JSON written, each `metadata.KEY` column a member of
/// `metadata` (read as JSON when it is JSON, else as text), every other cell a string, and an
/// empty cell absent.
fn csv_json(header: &[String], cells: &[String]) -> String {
    let mut members = Vec::new();
    let mut metadata = Vec::new();
    for (name, cell) in header.iter().zip(cells) {
        if cell.is_empty() {
            continue;
        }
        let raw = |text: &str| serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok();
        let string = || serde_json::to_string(cell).expect("a string");
        if let Some(key) = name.strip_prefix("metadata.") {
            let value = if raw(cell) { cell.clone() } else { string() };
            metadata.push(format!(
                "{}:{value}",
                serde_json::to_string(key).expect("a string")
            ));
            continue;
        }
        let value = match name.as_str() {
            "amount" | "metadata" | "fields" if raw(cell) => cell.clone(),
            _ => string(),
        };
        members.push(format!(
            "{}:{value}",
            serde_json::to_string(name).expect("a string")
        ));
    }
    if !metadata.is_empty() {
        members.push(format!("\"metadata\":{{{}}}", metadata.join(",")));
    }
    format!("{{{}}}", members.join(","))
}

/// `FILE.rejects.csv|jsonl`: each rejected row with its line and its errors, appended; on a
/// resume, cut back to what the checkpoint accounted for.
pub(super) struct Rejects {
    file: File,
    csv: bool,
}

impl Rejects {
    pub(super) fn open(
        path: &Path,
        csv: bool,
        header: &[String],
        keep: Option<u64>,
    ) -> std::io::Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        file.set_len(keep.unwrap_or(0))?;
        file.seek(SeekFrom::End(0))?;
        let mut rejects = Self { file, csv };
        if keep.unwrap_or(0) == 0 && csv {
            let mut columns = vec!["line".to_owned(), "errors".to_owned()];
            columns.extend(header.iter().cloned());
            rejects.write_csv(&columns)?;
        }
        Ok(rejects)
    }

    fn write_csv(&mut self, cells: &[String]) -> std::io::Result<()> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(cells)?;
        self.file
            .write_all(&writer.into_inner().map_err(|e| e.into_error())?)
    }

    pub(super) fn write(&mut self, row: &Row, errors: &[String]) -> std::io::Result<()> {
        if self.csv {
            let mut cells = vec![row.line.to_string(), errors.join("; ")];
            cells.extend(row.original.iter().cloned());
            return self.write_csv(&cells);
        }
        let row_value = serde_json::from_str::<Value>(&row.json)
            .unwrap_or_else(|_| Value::String(row.json.clone()));
        let line = json!({ "line": row.line, "errors": errors, "row": row_value });
        writeln!(self.file, "{line}")
    }

    /// Flushed to disk: its length, for the checkpoint.
    pub(super) fn flush(&mut self) -> std::io::Result<u64> {
        self.file.sync_data()?;
        self.file.stream_position()
    }
}
