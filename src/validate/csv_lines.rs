//! Splitting a CSV body into records. Most lines of a case system's export
//! hold no quotes: such a line is split where its delimiters stand (its end
//! found with `memchr`, its delimiters a block of bytes at a time: see
//! `split_fields`), several times faster than the csv
//! crate's state machine reads it byte by byte. From the first line holding
//! a quote or a carriage return that does not end it, the csv crate reads
//! the rest, so quoting works as it always did. The two agree on every input
//! (a property test below compares them): blank lines are skipped and a
//! line may end in `\r\n`. A record's line is the line it starts on (the
//! csv crate counts a skipped blank line, or the `\n` of a `\r\n`, only
//! from the record after; its count is used once it reads).

use std::io::{BufRead, Cursor, Read};
use std::ops::Range;

/// Bytes read at a time while lines are split here.
const BUFFER: usize = 2 << 20;

/// One record: its line, its bytes and where each field stands in them.
pub struct Record<'r> {
    pub line: u64,
    pub bytes: &'r [u8],
    pub fields: &'r [Range<usize>],
}

impl<'r> Record<'r> {
    /// The field at `index`, if the record has so many.
    pub fn field(&self, index: usize) -> Option<&'r [u8]> {
        self.fields
            .get(index)
            .and_then(|range| self.bytes.get(range.clone()))
    }

    /// Every field, in order.
    pub fn values(&self) -> impl Iterator<Item = &'r [u8]> + '_ {
        (0..self.fields.len()).filter_map(|i| self.field(i))
    }
}

/// The records of a CSV body, header first; see [`Records::next`].
pub struct Records<'a> {
    delimiter: u8,
    /// Lines still split here.
    split: Option<Lines<'a>>,
    /// The rest, once the csv crate reads it.
    rest: Option<Rest<'a>>,
    fields: Vec<Range<usize>>,
}

struct Lines<'a> {
    input: Box<dyn BufRead + Send + 'a>,
    buffer: Vec<u8>,
    /// `buffer[start..end]` is read and not yet split.
    start: usize,
    end: usize,
    eof: bool,
    /// The line `buffer[start]` is on.
    line: u64,
}

struct Rest<'a> {
    reader: csv::Reader<Box<dyn Read + Send + 'a>>,
    record: csv::ByteRecord,
    /// Lines before the first the csv crate reads.
    lines_before: u64,
}

/// What the next line is.
enum Next {
    /// A line without quotes, on `line`, at `range` of the buffer.
    Line(u64, Range<usize>),
    /// A line the csv crate must read (it starts at the buffer's `start`).
    Quoted,
    End,
}

impl<'a> Records<'a> {
    /// The records of `input`, whose `length` is given if it is known: a
    /// small body is split in a buffer of its own size, not of [`BUFFER`]
    /// bytes (zeroed, and most of it never used).
    pub fn new(
        input: Box<dyn BufRead + Send + 'a>,
        delimiter: u8,
        length: Option<u64>,
    ) -> Records<'a> {
        Records::from_line(input, delimiter, length, 1)
    }

    /// The records of `input`, a part of a body whose first byte starts
    /// line `line` (so that a record is named by its line in the body).
    pub fn from_line(
        input: Box<dyn BufRead + Send + 'a>,
        delimiter: u8,
        length: Option<u64>,
        line: u64,
    ) -> Records<'a> {
        let bytes = length
            .and_then(|n| usize::try_from(n.saturating_add(1)).ok())
            .map_or(BUFFER, |n| n.min(BUFFER));
        Records::with_buffer(input, delimiter, bytes, line)
    }

    fn with_buffer(
        input: Box<dyn BufRead + Send + 'a>,
        delimiter: u8,
        bytes: usize,
        line: u64,
    ) -> Self {
        Records {
            delimiter,
            split: Some(Lines {
                input,
                buffer: vec![0; bytes.max(1)],
                start: 0,
                end: 0,
                eof: false,
                line,
            }),
            rest: None,
            fields: Vec::new(),
        }
    }

    /// The next record, or `None` at the end of the body.
    pub fn next(&mut self) -> csv::Result<Option<Record<'_>>> {
        let mut clean = None;
        if let Some(lines) = &mut self.split {
            match lines.next_line()? {
                Next::Line(line, range) => clean = Some((line, range)),
                Next::End => return Ok(None),
                Next::Quoted => {}
            }
        }
        if let Some((line, range)) = clean {
            let Some(lines) = &self.split else {
                return Ok(None);
            };
            let bytes = &lines.buffer[range];
            split_fields(bytes, self.delimiter, &mut self.fields);
            return Ok(Some(Record {
                line,
                bytes,
                fields: &self.fields,
            }));
        }
        if let Some(lines) = self.split.take() {
            self.rest = Some(lines.into_csv(self.delimiter));
        }
        let Some(rest) = &mut self.rest else {
            return Ok(None);
        };
        if !rest.reader.read_byte_record(&mut rest.record)? {
            return Ok(None);
        }
        self.fields.clear();
        self.fields
            .extend((0..rest.record.len()).filter_map(|i| rest.record.range(i)));
        Ok(Some(Record {
            line: rest.lines_before + rest.record.position().map_or(0, |p| p.line()),
            bytes: rest.record.as_slice(),
            fields: &self.fields,
        }))
    }
}

/// Bytes of a line looked at together when it is split at its delimiters.
const BLOCK: usize = 32;

/// Where the fields of `bytes` (one line without quotes) stand. A block of
/// bytes at a time: a bit per delimiter (the compiler compares the block's
/// bytes side by side in vector registers), then a field per bit, so a
/// short field costs a few instructions, not a search of its own.
fn split_fields(bytes: &[u8], delimiter: u8, fields: &mut Vec<Range<usize>>) {
    fields.clear();
    let mut from = 0;
    let mut field_ends = |at: usize| {
        fields.push(from..at);
        from = at + 1;
    };
    let mut blocks = bytes.chunks_exact(BLOCK);
    let mut base = 0;
    for block in &mut blocks {
        let mut found = block.iter().enumerate().fold(0u32, |bits, (i, byte)| {
            bits | (u32::from(*byte == delimiter) << i)
        });
        while found != 0 {
            field_ends(base + found.trailing_zeros() as usize);
            found &= found - 1;
        }
        base += BLOCK;
    }
    for (i, byte) in blocks.remainder().iter().enumerate() {
        if *byte == delimiter {
            field_ends(base + i);
        }
    }
    fields.push(from..bytes.len());
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> std::io::Result<Next> {
        loop {
            let unread = &self.buffer[self.start..self.end];
            let (content, next) = match memchr::memchr3(b'\n', b'\r', b'"', unread) {
                Some(at) if unread[at] == b'\n' => (at, at + 1),
                Some(at) if unread[at] == b'\r' && unread.get(at + 1) == Some(&b'\n') => {
                    (at, at + 2)
                }
                // A carriage return at the very end of the body ends its last line.
                Some(at) if unread[at] == b'\r' && at + 1 == unread.len() && self.eof => {
                    (at, at + 1)
                }
                // A carriage return whose next byte is not read yet.
                Some(at) if unread[at] == b'\r' && at + 1 == unread.len() => {
                    self.fill()?;
                    continue;
                }
                Some(_) => return Ok(Next::Quoted),
                None if self.eof && unread.is_empty() => return Ok(Next::End),
                None if self.eof => (unread.len(), unread.len()),
                None => {
                    self.fill()?;
                    continue;
                }
            };
            let line = self.line;
            let range = self.start..self.start + content;
            self.start += next;
            self.line += 1;
            // The csv crate skips a blank line too.
            if !range.is_empty() {
                return Ok(Next::Line(line, range));
            }
        }
    }

    /// Read more after what is unread (moved to the front, the buffer
    /// doubled if it is full).
    fn fill(&mut self) -> std::io::Result<()> {
        self.buffer.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buffer.len() {
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
        loop {
            match self.input.read(&mut self.buffer[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }

    /// The csv crate reading on from the unread bytes.
    fn into_csv(self, delimiter: u8) -> Rest<'a> {
        let unread = self.buffer[self.start..self.end].to_vec();
        let input: Box<dyn Read + Send + 'a> = Box::new(Cursor::new(unread).chain(self.input));
        Rest {
            reader: csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .has_headers(false)
                .flexible(true)
                .buffer_capacity(1 << 16)
                .from_reader(input),
            record: csv::ByteRecord::new(),
            lines_before: self.line - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Rows = Vec<(u64, Vec<Vec<u8>>)>;

    fn fields(rows: Rows) -> Vec<Vec<Vec<u8>>> {
        rows.into_iter().map(|(_, fields)| fields).collect()
    }

    fn split(body: &[u8], buffer: usize) -> Rows {
        let mut records = Records::with_buffer(Box::new(body), b';', buffer, 1);
        let mut rows = Vec::new();
        while let Some(record) = records.next().unwrap() {
            let fields = record.values().map(<[u8]>::to_vec).collect();
            rows.push((record.line, fields));
        }
        rows
    }

    fn by_csv_crate(body: &[u8]) -> Rows {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        reader
            .byte_records()
            .map(|r| {
                let r = r.unwrap();
                (
                    r.position().unwrap().line(),
                    r.iter().map(<[u8]>::to_vec).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn plain_lines_are_split_here_and_quoted_ones_by_the_csv_crate() {
        let body = b"a;b\r\n\n1;2\n\"x;y\";3\n\"multi\nline\";4\n5;6";
        let rows = split(body, 4);
        assert_eq!(fields(rows.clone()), fields(by_csv_crate(body)));
        assert_eq!(rows[0], (1, vec![b"a".to_vec(), b"b".to_vec()]));
        // The line it stands on, after a blank line.
        assert_eq!(rows[1], (3, vec![b"1".to_vec(), b"2".to_vec()]));
        assert_eq!(rows[2], (4, vec![b"x;y".to_vec(), b"3".to_vec()]));
        assert_eq!(rows[4], (7, vec![b"5".to_vec(), b"6".to_vec()]));
    }

    proptest! {
        #[test]
        fn a_line_is_split_at_every_delimiter(
            line in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b';')], 0..200),
        ) {
            let mut fields = Vec::new();
            split_fields(&line, b';', &mut fields);
            let got: Vec<&[u8]> = fields.iter().map(|r| &line[r.clone()]).collect();
            let expected: Vec<&[u8]> = line.split(|b| *b == b';').collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn splits_as_the_csv_crate_reads(
            body in proptest::collection::vec(
                prop::sample::select(vec![b'a', b'1', b';', b'\n', b'\r', b'"', b' ', 0xe6]),
                0..300,
            ),
            buffer in 1usize..64,
        ) {
            prop_assert_eq!(fields(split(&body, buffer)), fields(by_csv_crate(&body)));
        }

        #[test]
        fn splits_quote_free_lines_as_the_csv_crate_reads_and_knows_their_numbers(
            lines in proptest::collection::vec(
                (
                    proptest::collection::vec(prop::sample::select(vec![b'a', b'1', b';', b' ', 0xe6]), 0..80),
                    any::<bool>(),
                ),
                0..30,
            ),
            buffer in 1usize..64,
        ) {
            let mut body = Vec::new();
            for (line, crlf) in &lines {
                body.extend_from_slice(line);
                body.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
            }
            let rows = split(&body, buffer);
            let expected: Vec<(u64, Vec<u8>)> = (1u64..)
                .zip(&lines)
                .filter(|(_, (line, _))| !line.is_empty())
                .map(|(n, (line, _))| (n, line.clone()))
                .collect();
            let got: Vec<(u64, Vec<u8>)> = rows.iter().map(|(n, f)| (*n, f.join(&b';'))).collect();
            prop_assert_eq!(got, expected);
            prop_assert_eq!(fields(rows), fields(by_csv_crate(&body)));
        }
    }
}
