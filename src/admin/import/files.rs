//! The file read as rows, each with its bytes as written and its place; the rejects written
//! beside it; and the files an import keeps there (private, never through a symbolic link, one
//! import of a file at a time).

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use base64::Engine;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A place in the file: a byte offset and the line it is on (lines end at each LF, as editors,
/// `wc -l` and `sed -n Np` count them; the first line is 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    pub byte: u64,
    pub line: u64,
}

impl Mark {
    pub const START: Self = Self { byte: 0, line: 1 };

    /// This mark moved over `bytes`.
    fn over(self, bytes: &[u8]) -> Self {
        Self {
            byte: self.byte + bytes.len() as u64,
            line: self.line + bytes.iter().filter(|b| **b == b'\n').count() as u64,
        }
    }
}

/// A row: where it starts and where the next one does, its bytes as written (its record or
/// line, without the line end), and the API's JSON object it stands for, or why it cannot be one.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub end: Mark,
    pub raw: Vec<u8>,
    pub json: Result<String, String>,
}

/// The rows of a CSV (header row first) or JSON Lines file, streamed. A UTF-8 byte order mark
/// at the start is not part of the first row; blank lines hold no row.
pub struct Reader<R: Read> {
    format: Format<R>,
    /// The header's names, and its bytes as written (CSV).
    pub header: Vec<String>,
    pub header_raw: Vec<u8>,
    /// Where the next row starts (at or before its first byte: blank lines may come first).
    at: Mark,
}

enum Format<R: Read> {
    Csv(Box<csv::Reader<Tee<R>>>, Rc<RefCell<Seen>>),
    JsonLines(BufReader<R>),
}

/// What the CSV parser has read of the file and the rows have not used yet: its bytes from
/// `base` on, so that each record is kept as written.
#[derive(Default)]
struct Seen {
    base: u64,
    bytes: Vec<u8>,
}

struct Tee<R> {
    inner: R,
    seen: Rc<RefCell<Seen>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.borrow_mut().bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl<R: Read> Reader<R> {
    pub fn new(input: R, csv: bool) -> io::Result<Self> {
        if !csv {
            return Ok(Self {
                format: Format::JsonLines(BufReader::new(input)),
                header: Vec::new(),
                header_raw: Vec::new(),
                at: Mark::START,
            });
        }
        let seen = Rc::new(RefCell::new(Seen::default()));
        let tee = Tee {
            inner: input,
            seen: Rc::clone(&seen),
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(tee);
        let names = reader.byte_headers().map_err(io::Error::from)?.clone();
        let mut header = Vec::with_capacity(names.len());
        for name in &names {
            let name = std::str::from_utf8(name)
                .map_err(|_| invalid("the header row is not valid UTF-8"))?;
            if header.iter().any(|n| n == name) {
                return Err(invalid(format!("the column {name:?} appears twice")));
            }
            header.push(name.to_owned());
        }
        let mut reader = Self {
            format: Format::Csv(Box::new(reader), seen),
            header,
            header_raw: Vec::new(),
            at: Mark::START,
        };
        let Format::Csv(csv, _) = &reader.format else {
            unreachable!("made above")
        };
        let end = csv.position().byte();
        let raw = reader.take(end);
        let raw = raw.strip_prefix(BOM).unwrap_or(&raw);
        let lead = raw
            .iter()
            .take_while(|b| matches!(b, b'\n' | b'\r'))
            .count();
        reader.header_raw = trim_line(&raw[lead..]).to_vec();
        Ok(reader)
    }

    /// The CSV bytes seen up to `end`, no longer kept; the reader's mark moved past them.
    fn take(&mut self, end: u64) -> Vec<u8> {
        let Format::Csv(_, seen) = &self.format else {
            return Vec::new();
        };
        let mut seen = seen.borrow_mut();
        let split = usize::try_from(end - seen.base).expect("within what was read");
        let taken: Vec<u8> = seen.bytes.drain(..split).collect();
        seen.base = end;
        self.at = self.at.over(&taken);
        taken
    }

    /// The next row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> io::Result<Option<Row>> {
        loop {
            let start = self.at;
            let (raw, json) = match &mut self.format {
                Format::Csv(reader, _) => {
                    let mut record = csv::ByteRecord::new();
                    if !reader
                        .read_byte_record(&mut record)
                        .map_err(io::Error::from)?
                    {
                        return Ok(None);
                    }
                    let end = reader.position().byte();
                    let json = csv_json(&self.header, &record);
                    (self.take(end), json)
                }
                Format::JsonLines(reader) => {
                    let mut line = Vec::new();
                    if reader.read_until(b'\n', &mut line)? == 0 {
                        return Ok(None);
                    }
                    self.at = self.at.over(&line);
                    if start.byte == 0 && line.starts_with(BOM) {
                        line.drain(..BOM.len());
                    }
                    let json = jsonl_json(trim_line(&line));
                    (line, json)
                }
            };
            // What comes before the row's first byte: blank lines (and a CSV's byte order mark).
            let lead = raw
                .iter()
                .position(|b| !matches!(b, b'\n' | b'\r'))
                .unwrap_or(raw.len());
            let row = trim_line(&raw[lead..]);
            let json_lines = matches!(self.format, Format::JsonLines(_));
            if row.is_empty() || (json_lines && row.iter().all(is_json_space)) {
                continue;
            }
            return Ok(Some(Row {
                line: start.over(&raw[..lead]).line,
                end: self.at,
                raw: row.to_vec(),
                json,
            }));
        }
    }

    /// Rows read and dropped until `mark`, where a checkpoint says the next row starts.
    pub fn skip_to(&mut self, mark: Mark) -> io::Result<()> {
        while self.at.byte < mark.byte {
            if self.next_row()?.is_none() {
                break;
            }
        }
        if self.at != mark {
            return Err(invalid(
                "the checkpoint does not fall between two rows of the file",
            ));
        }
        Ok(())
    }

    /// Where the next row starts.
    pub fn mark(&self) -> Mark {
        self.at
    }
}

fn trim_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// JSON's white space: what may stand around a value, and all a blank line holds.
fn is_json_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn jsonl_json(line: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(line).map_err(|_| "the line is not valid UTF-8".to_owned())?;
    let text = text.trim_matches(|c: char| c.is_ascii() && is_json_space(&(c as u8)));
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| format!("the line is not JSON ({e})"))?;
    Ok(text.to_owned())
}

/// A CSV record as a JSON object of the API's field names: `amount` as the number written,
/// `metadata` and `fields` as the JSON written, each `metadata.KEY` column a member of
/// `metadata` (read as JSON when it is JSON, else as text), every other cell a string, and an
/// empty cell absent. A record of another length than the header, or not UTF-8, is none.
fn csv_json(header: &[String], record: &csv::ByteRecord) -> Result<String, String> {
    if record.len() != header.len() {
        return Err(format!(
            "the row has {} cells where the header has {}",
            record.len(),
            header.len()
        ));
    }
    let mut members = Vec::new();
    let mut metadata = Vec::new();
    for (name, cell) in header.iter().zip(record) {
        let cell =
            std::str::from_utf8(cell).map_err(|_| "the row is not valid UTF-8".to_owned())?;
        if cell.is_empty() {
            continue;
        }
        let raw = serde_json::from_str::<&serde_json::value::RawValue>(cell).is_ok();
        let quoted = || serde_json::Value::from(cell).to_string();
        if let Some(key) = name.strip_prefix("metadata.") {
            let value = if raw { cell.to_owned() } else { quoted() };
            metadata.push(format!("{}:{value}", serde_json::Value::from(key)));
            continue;
        }
        let value = match name.as_str() {
            "amount" | "metadata" | "fields" if raw => cell.to_owned(),
            _ => quoted(),
        };
        members.push(format!(
            "{}:{value}",
            serde_json::Value::from(name.as_str())
        ));
    }
    if !metadata.is_empty() {
        members.push(format!("\"metadata\":{{{}}}", metadata.join(",")));
    }
    Ok(format!("{{{}}}", members.join(",")))
}

/// `FILE.rejects.csv|jsonl`: each rejected row with its line and its errors, the row's bytes
/// kept as written, appended; on a resume, cut back to what the checkpoint accounted for.
/// CSV: `line,errors,` and the row's record (the header likewise), so that the file, fixed,
/// imports as it is (the two columns are ignored). JSON Lines: `{"line", "errors", "row"}`, the
/// row as written; a line that is not JSON is kept as `"text"`, one not UTF-8 as `"base64"`.
pub struct Rejects {
    file: File,
    csv: bool,
}

impl Rejects {
    pub fn open(
        path: &Path,
        csv: bool,
        header: &[u8],
        keep: Option<u64>,
        mode: u32,
    ) -> io::Result<Self> {
        let mut file = private_file(path, mode)?;
        if keep.is_some_and(|keep| file.metadata().is_ok_and(|m| m.len() < keep)) {
            return Err(invalid(
                "shorter than the checkpoint says: restore it, or delete the checkpoint to start over",
            ));
        }
        file.set_len(keep.unwrap_or(0))?;
        file.seek(SeekFrom::End(0))?;
        if keep.unwrap_or(0) == 0 && csv {
            file.write_all(b"line,errors,")?;
            file.write_all(header)?;
            file.write_all(b"\n")?;
        }
        Ok(Self { file, csv })
    }

    pub fn write(&mut self, row: &Row, errors: &[String]) -> io::Result<()> {
        let errors_text = errors.join("; ");
        if self.csv {
            let quoted = errors_text.replace('"', "\"\"");
            write!(self.file, "{},\"{quoted}\",", row.line)?;
            self.file.write_all(&row.raw)?;
            return self.file.write_all(b"\n");
        }
        let errors = serde_json::to_string(errors).expect("strings serialise");
        write!(self.file, "{{\"line\":{},\"errors\":{errors},", row.line)?;
        match (&row.json, std::str::from_utf8(&row.raw)) {
            (Ok(json), _) => write!(self.file, "\"row\":{json}")?,
            (_, Ok(text)) => write!(self.file, "\"text\":{}", serde_json::Value::from(text))?,
            (_, Err(_)) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&row.raw);
                write!(self.file, "\"base64\":\"{encoded}\"")?
            }
        }
        self.file.write_all(b"}\n")
    }

    /// Flushed to disk: its length, for the checkpoint.
    pub fn flush(&mut self) -> io::Result<u64> {
        self.file.sync_data()?;
        self.file.stream_position()
    }
}

/// `path` beside the file with `suffix` added to its name.
pub fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// What the files an import keeps beside `source` may be: its owner's and group's reading at
/// most, never for others, and always the owner's reading and writing (a run after this one
/// opens them again, from a source that may be read-only).
pub fn private_mode(source: &File) -> io::Result<u32> {
    Ok(source.metadata()?.permissions().mode() & 0o660 | 0o600)
}

/// Opened for writing (created with `mode` if new, narrowed to it if not), never through a
/// symbolic link, and only if a regular file.
fn private_file(path: &Path, mode: u32) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(no_follow())
        .open(path)
        .map_err(|e| named(path, e))?;
    if !file.metadata()?.is_file() {
        return Err(named(path, invalid("not a regular file")));
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(file)
}

fn no_follow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

fn named(path: &Path, err: io::Error) -> io::Error {
    let why = match err.raw_os_error() {
        // ELOOP: O_NOFOLLOW met a symbolic link.
        Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
            "a symbolic link: refused".to_owned()
        }
        _ => err.to_string(),
    };
    io::Error::new(err.kind(), format!("{}: {why}", path.display()))
}

/// Written to a fresh temporary file, synced, then renamed over the old one: a crash leaves
/// either, and a link where the temporary file goes is replaced, not followed.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let temporary = beside(path, ".tmp");
    match std::fs::remove_file(&temporary) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(named(&temporary, e)),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)
        .map_err(|e| named(&temporary, e))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// `FILE.lock`, held while an import of the file runs (the system lets it go when the process
/// ends, however it ends).
pub struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    pub fn take(path: PathBuf, mode: u32) -> io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let id = |m: std::fs::Metadata| (m.dev(), m.ino());
        for _ in 0..3 {
            let file = private_file(&path, mode)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "{} is held: another import of this file is running",
                            path.display()
                        ),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(named(&path, e)),
            }
            // Taken from a run that was removing it as it finished: take the new one.
            let here = std::fs::symlink_metadata(&path).map(id).ok();
            if here == Some(id(file.metadata()?)) {
                return Ok(Self { path, _file: file });
            }
        }
        Err(named(&path, invalid("replaced each time it was locked")))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
