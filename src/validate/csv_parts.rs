//! Cutting a large CSV body at line ends into parts whose rows are checked
//! side by side, a part per core. A body is cut only where every line is
//! plain (no quote, no carriage return but before a line feed): a quoted
//! field may hold a line feed that ends no line, and the csv crate then
//! reads the body from its start.
//!
//! Where the lines start and whether they are plain is known from the
//! landing, whose CPR screen reads the whole body a run of lines at a time
//! ([`LineStarts`]). A body landed without (one kept before, or one the
//! screen rewrote) is read for it, its parts side by side.

use std::io::{BufRead, Read};
use std::ops::Range;

use super::Place;
use super::ValidateError;
use super::csv_lines::Records;
use super::person_rows::{Cells, Flow, csv_columns, csv_records, delimiter_of, read_error};
use crate::extract::{Extract, Format};

/// The least bytes of a CSV body a part read on a thread of its own is
/// given (about 30,000 rows): below that, a thread costs more than it saves.
pub const MIN_PART_BYTES: u64 = 4 << 20;

/// A CSV body cut at line ends into parts whose rows are read side by side
/// ([`CsvParts::rows`]), each part on a thread of its own.
#[derive(Debug)]
pub struct CsvParts {
    delimiter: u8,
    width: usize,
    index: [Option<usize>; 12],
    parts: Vec<Part>,
    /// The body's line feeds.
    line_feeds: u64,
}

/// A part's bytes of the body and the line its first byte is on.
type Part = (Range<u64>, u64);

/// Where a body's runs of whole lines start, noted as the body is read a
/// run at a time (the landing's CPR screen reads it so), and whether every
/// line is plain.
#[derive(Debug, Clone)]
pub struct LineStarts {
    /// The byte each run starts at, and the number of the line it starts.
    starts: Vec<(u64, u64)>,
    /// Bytes and line feeds noted so far.
    bytes: u64,
    line_feeds: u64,
    plain: bool,
    /// Whether the bytes noted so far end in a carriage return.
    after_cr: bool,
}

impl Default for LineStarts {
    fn default() -> LineStarts {
        LineStarts {
            starts: Vec::new(),
            bytes: 0,
            line_feeds: 0,
            plain: true,
            after_cr: false,
        }
    }
}

impl LineStarts {
    /// Note the next run of the body: it starts a line, ends one (or the
    /// body) and holds `line_feeds`.
    pub fn note(&mut self, run: &[u8], line_feeds: usize) {
        if run.is_empty() {
            return;
        }
        self.starts.push((self.bytes, self.line_feeds + 1));
        self.plain = self.plain && plain(run, &mut self.after_cr);
        self.bytes += run.len() as u64;
        self.line_feeds += line_feeds as u64;
    }

    /// The first run that starts at or after byte `at`: its first byte and
    /// the number of the line there.
    fn at_or_after(&self, at: u64) -> Option<(u64, u64)> {
        let i = self.starts.partition_point(|(start, _)| *start < at);
        self.starts.get(i).copied()
    }
}

/// Cut a CSV body into (at most) `wanted` parts of at least `min_bytes`
/// each, or `None` where it cannot be cut safely: a body that is not CSV,
/// is too short, or holds a quote or a lone carriage return anywhere (a
/// quoted field may hold a line feed, which is then no line end; the csv
/// crate reads such a body from the start, as [`super::person_rows::for_each_row`]
/// does). The cut is made at the line starts the landing noted (`noted`,
/// if they cover the whole body as it is now); else the body is read for
/// it, its parts side by side.
pub fn csv_parts(
    extract: &Extract,
    wanted: usize,
    min_bytes: u64,
    noted: Option<&LineStarts>,
) -> Result<Option<CsvParts>, ValidateError> {
    if matches!(
        extract.format,
        Format::InternshipsParquet | Format::InternshipsJsonl
    ) {
        return Ok(None);
    }
    let Some(length) = extract.length() else {
        return Ok(None);
    };
    let count = usize::try_from(length / min_bytes.max(1))
        .unwrap_or(usize::MAX)
        .min(wanted);
    if count < 2 {
        return Ok(None);
    }
    let read = |e| read_error(extract, e);
    let first = window(extract, 0).map_err(read)?;
    let Some(header_line) = first
        .iter()
        .position(|b| *b == b'\n')
        .and_then(|end| first.get(..=end))
    else {
        return Ok(None);
    };
    // A blank first line is skipped, and the header is on a later one: read
    // such a body from the start.
    let blank = header_line.iter().all(|b| matches!(b, b'\r' | b'\n'));
    if blank || !plain(header_line, &mut false) {
        return Ok(None);
    }
    let header_end = header_line.len() as u64;
    let delimiter = delimiter_of(header_line);
    let mut records = Records::new(Box::new(header_line), delimiter, Some(header_end));
    let (width, index) = csv_columns(&mut records, &extract.input)?;
    let targets = (1..count as u64).map(|k| header_end + (length - header_end) / count as u64 * k);
    let parts = match noted.filter(|noted| noted.bytes == length) {
        Some(noted) => noted
            .plain
            .then(|| cut_at_noted(noted, header_end, length, targets))
            .flatten()
            .map(|parts| (parts, noted.line_feeds)),
        None => cut_by_reading(extract, header_end, length, targets)?,
    };
    Ok(parts.map(|(parts, line_feeds)| CsvParts {
        delimiter,
        width,
        index,
        parts,
        line_feeds,
    }))
}

/// The parts (bytes, first line) from `header_end` to `length`, each from
/// the first run `noted` that starts after the part before it and at or
/// after its target; `None` if no run starts there before the end.
fn cut_at_noted(
    noted: &LineStarts,
    header_end: u64,
    length: u64,
    targets: impl Iterator<Item = u64>,
) -> Option<Vec<Part>> {
    let mut starts = vec![header_end];
    // The header is line 1; its line feed ends it.
    let mut lines = vec![2];
    for target in targets {
        let last = starts.last().copied().unwrap_or(header_end);
        let (start, line) = noted.at_or_after(target.max(last + 1))?;
        if start >= length {
            return None;
        }
        starts.push(start);
        lines.push(line);
    }
    Some(ranges(&starts, length).into_iter().zip(lines).collect())
}

/// The bytes from each of `starts` (ascending) to the next, the last to
/// `length`.
fn ranges(starts: &[u64], length: u64) -> Vec<Range<u64>> {
    starts
        .iter()
        .zip(starts.iter().skip(1).chain([&length]))
        .map(|(from, to)| *from..*to)
        .collect()
}

/// The parts (bytes, first line) from `header_end` to `length`, each from
/// the line end after its target, read side by side to see that every line
/// is plain and to count them, and the body's line feeds; `None` if a line
/// is not plain or two targets fall in one line.
fn cut_by_reading(
    extract: &Extract,
    header_end: u64,
    length: u64,
    targets: impl Iterator<Item = u64>,
) -> Result<Option<(Vec<Part>, u64)>, ValidateError> {
    let read = |e| read_error(extract, e);
    let mut starts = vec![header_end];
    let mut last = header_end;
    for target in targets {
        match line_end_after(extract, target.max(last)).map_err(read)? {
            Some(start) if start < length && start > last => {
                starts.push(start);
                last = start;
            }
            _ => return Ok(None),
        }
    }
    let ranges = ranges(&starts, length);
    let scanned = crate::parallel::map_in_order(ranges.clone(), |range| scan_part(extract, range));
    let mut parts = Vec::with_capacity(ranges.len());
    // The header is line 1; its line feed ends it.
    let mut line = 2;
    for (range, scanned) in ranges.into_iter().zip(scanned) {
        let scanned = scanned.map_err(read)?;
        if !scanned.plain {
            return Ok(None);
        }
        parts.push((range, line));
        line += scanned.line_feeds;
    }
    // The header's line feed, and each part's.
    Ok(Some((parts, line - 1)))
}

/// Up to 1 MiB of the body from byte `at`.
fn window(extract: &Extract, at: u64) -> std::io::Result<Vec<u8>> {
    let mut window = Vec::new();
    extract
        .range_reader(at..at.saturating_add(1 << 20))?
        .read_to_end(&mut window)?;
    Ok(window)
}

/// Where the line that holds byte `at` of the body ends (just past its line
/// feed), or `None` if no line feed follows in the next 1 MiB.
fn line_end_after(extract: &Extract, at: u64) -> std::io::Result<Option<u64>> {
    Ok(memchr::memchr(b'\n', &window(extract, at)?).map(|p| at + p as u64 + 1))
}

/// What a part of a body holds, as [`scan_part`] finds it.
struct Scanned {
    /// Only plain lines ([`plain`]).
    plain: bool,
    line_feeds: u64,
}

/// Read a part of the body: whether its lines are plain, and how many line
/// feeds it holds.
fn scan_part(extract: &Extract, range: Range<u64>) -> std::io::Result<Scanned> {
    let mut reader = extract.range_reader(range)?;
    let mut after_cr = false;
    let mut total = Scanned {
        plain: true,
        line_feeds: 0,
    };
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        total.plain &= plain(buffer, &mut after_cr);
        total.line_feeds += memchr::memchr_iter(b'\n', buffer).count() as u64;
        let n = buffer.len();
        reader.consume(n);
        if !total.plain {
            break;
        }
    }
    // A carriage return may end the last part: it ends the body's last line.
    Ok(total)
}

/// Whether `bytes` hold only lines the fast splitter reads alone: no quote,
/// no carriage return but before a line feed. `after_cr` says whether the
/// bytes before ended in a carriage return (whose line feed must come
/// first), and is set for the bytes after.
fn plain(bytes: &[u8], after_cr: &mut bool) -> bool {
    let mut plain = !(*after_cr && bytes.first().is_some_and(|b| *b != b'\n'));
    for at in memchr::memchr2_iter(b'"', b'\r', bytes) {
        if bytes[at] == b'"' || bytes.get(at + 1).is_some_and(|b| *b != b'\n') {
            plain = false;
            break;
        }
    }
    *after_cr = bytes.last() == Some(&b'\r');
    plain
}

impl CsvParts {
    /// The cut as line starts noted in a read of the whole body: given
    /// them, [`csv_parts`] asked for as many parts cuts the body alike
    /// without reading it again (the header's line and each part's first
    /// are the runs).
    pub fn line_starts(&self) -> LineStarts {
        let mut starts = vec![(0, 1)];
        starts.extend(self.parts.iter().map(|(range, line)| (range.start, *line)));
        let bytes = self.parts.last().map_or(0, |(range, _)| range.end);
        LineStarts {
            starts,
            bytes,
            line_feeds: self.line_feeds,
            plain: true,
            // Nothing is noted after the end.
            after_cr: false,
        }
    }

    /// How many parts.
    pub fn count(&self) -> usize {
        self.parts.len()
    }

    /// The bytes part `k` holds.
    pub fn bytes(&self, k: usize) -> u64 {
        self.parts
            .get(k)
            .map_or(0, |(range, _)| range.end - range.start)
    }

    /// Call `each` with every row of part `k`, named by its line in the
    /// whole body, until it says stop.
    pub fn rows(
        &self,
        extract: &Extract,
        k: usize,
        each: &mut dyn FnMut(Place, &Cells<'_>) -> Result<Flow, ValidateError>,
    ) -> Result<(), ValidateError> {
        let Some((range, line)) = self.parts.get(k) else {
            return Ok(());
        };
        let length = range.end - range.start;
        let reader = extract
            .range_reader(range.clone())
            .map_err(|e| read_error(extract, e))?;
        let mut records = Records::from_line(reader, self.delimiter, Some(length), *line);
        csv_records(&mut records, &extract.input, self.width, &self.index, each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines noted in runs, as the landing notes them.
    fn noted(runs: &[&[u8]]) -> LineStarts {
        let mut starts = LineStarts::default();
        for run in runs {
            starts.note(run, memchr::memchr_iter(b'\n', run).count());
        }
        starts
    }

    #[test]
    fn runs_are_found_by_their_first_byte_with_their_line() {
        let starts = noted(&[b"a\nb\n", b"", b"c\n", b"d\ne\nf"]);
        assert_eq!(starts.bytes, 11);
        assert_eq!(starts.at_or_after(0), Some((0, 1)));
        assert_eq!(starts.at_or_after(1), Some((4, 3)));
        assert_eq!(starts.at_or_after(4), Some((4, 3)));
        assert_eq!(starts.at_or_after(5), Some((6, 4)));
        assert_eq!(starts.at_or_after(7), None);
        assert!(starts.plain);
    }

    #[test]
    fn a_cut_handed_on_as_line_starts_cuts_the_body_alike() {
        use crate::extract::Body;
        use crate::validate::internships::tests::{csv_body, landed, row};
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<String> = (0..5_000).map(row).collect();
        let body = csv_body(&rows);
        let extract = landed(dir.path(), body.clone().into_bytes(), true);
        let Body::File(path) = &extract.body else {
            panic!("landed from a file")
        };
        let line_feeds = body.matches('\n').count() as u64;
        for wanted in [2, 3, 4] {
            let read = csv_parts(&extract, wanted, 1, None).unwrap().unwrap();
            assert_eq!(read.line_feeds, line_feeds);
            let starts = read.line_starts();
            let handed = csv_parts(&extract, wanted, 1, Some(&starts))
                .unwrap()
                .unwrap();
            assert_eq!(handed.parts, read.parts, "{wanted}");
            assert_eq!(handed.line_feeds, line_feeds);
        }
        // Handed the cut, it does not read the body for it: a quote that
        // appears later (at the same length) is not seen there.
        let starts = csv_parts(&extract, 2, 1, None)
            .unwrap()
            .unwrap()
            .line_starts();
        std::fs::write(path, body.replacen("Fleksjob", "Fleks\"ob", 1)).unwrap();
        assert!(csv_parts(&extract, 2, 1, None).unwrap().is_none());
        assert!(csv_parts(&extract, 2, 1, Some(&starts)).unwrap().is_some());
    }

    #[test]
    fn a_quote_or_a_lone_carriage_return_in_any_run_is_seen() {
        assert!(noted(&[b"a;b\r\n", b"c;d\r\n", b"e;f\r"]).plain);
        assert!(!noted(&[b"a;b\n", b"c;\"d\"\n"]).plain);
        assert!(!noted(&[b"a;b\rc\n"]).plain);
        // A carriage return that ends one run, and no line feed starts the next.
        assert!(!noted(&[b"a;b\r", b"c\n"]).plain);
        assert!(noted(&[b"a;b\r", b"\nc\n"]).plain);
    }
}
