//! CPR numbers never reach the store: a person-level extract is screened
//! while it is landed. In text formats every CPR-like value is replaced by
//! an HMAC-SHA-256 with the secret salt (`PRAKTIK_PERSON_SALT`); without a
//! salt, or in a Parquet file, an extract holding one is rejected unlanded.

use std::io::{BufRead, Write};
use std::path::Path;

use crate::extract::Extract;
use crate::land::{LandError, read_error, write_error};
use crate::validate::ValidateError;
use crate::validate::internships::{SALT_ENV, looks_like_cpr, pseudonym};
use crate::validate::person_rows::{parquet_reader, unreadable_parquet};

fn rejected(extract: &Extract, place: String) -> ValidateError {
    ValidateError::Cpr {
        input: extract.input.clone(),
        place,
        column: "(any)",
        salt_env: SALT_ENV,
    }
}

/// Runs of digits and dashes in `text` that look like CPR numbers. Digits
/// and dashes are ASCII in UTF-8 and Windows-1252 alike, so the bytes are
/// scanned as they are, without decoding. `text` ends at a line end, so no
/// run continues past it.
fn cpr_runs(text: &[u8]) -> Vec<std::ops::Range<usize>> {
    let in_run = |b: &u8| b.is_ascii_digit() || *b == b'-';
    let mut found = Vec::new();
    // Invariant: no run that could be a CPR number starts before `i`, and
    // the byte before `i` is not in a run still to be looked at.
    let mut i = 0;
    while i + 10 <= text.len() {
        // A run of ten or more starting in i..=i+9 covers i+9: if that byte
        // is not a digit or dash, skip all ten at once.
        if !in_run(&text[i + 9]) {
            i += 10;
            continue;
        }
        let start = i + text[i..i + 9]
            .iter()
            .rposition(|b| !in_run(b))
            .map_or(0, |p| p + 1);
        let end = i
            + 9
            + text[i + 9..]
                .iter()
                .position(|b| !in_run(b))
                .unwrap_or(text.len() - i - 9);
        if matches!(end - start, 10 | 11) && looks_like_cpr(&text[start..end]) {
            found.push(start..end);
        }
        i = end + 1;
    }
    found
}

/// Copy a text body to `out`, whole lines at a time, with every CPR-like
/// value replaced by its pseudonymous key; how many were replaced.
pub fn screen_text(
    extract: &Extract,
    salt: Option<&str>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    staging: &Path,
) -> Result<usize, LandError> {
    let write = |out: &mut dyn Write, bytes: &[u8]| {
        out.write_all(bytes)
            .map_err(|cause| write_error(extract, staging, cause))
    };
    // Bytes before the chunk; a line number is counted only for an error.
    let mut offset = 0usize;
    let mut replaced = 0usize;
    // A line longer than the reader's buffer is gathered here.
    let mut long = Vec::new();
    loop {
        let buffer = input
            .fill_buf()
            .map_err(|cause| read_error(extract, cause))?;
        if buffer.is_empty() {
            break;
        }
        // The whole lines in the buffer; a last line without its end is
        // gathered whole first.
        let (chunk, gathered): (&[u8], bool) = match buffer.iter().rposition(|b| *b == b'\n') {
            Some(last) => (&buffer[..=last], false),
            None => {
                long.clear();
                input
                    .read_until(b'\n', &mut long)
                    .map_err(|cause| read_error(extract, cause))?;
                (&long, true)
            }
        };
        let taken = chunk.len();
        let runs = cpr_runs(chunk);
        if runs.is_empty() {
            write(out, chunk)?;
        } else {
            let salt = salt.filter(|s| !s.is_empty()).ok_or_else(|| {
                let line = line_at(extract, offset + runs[0].start);
                rejected(extract, format!("line {line}"))
            })?;
            let mut copied = 0;
            for range in runs {
                write(out, &chunk[copied..range.start])?;
                let cpr = String::from_utf8_lossy(&chunk[range.clone()]);
                write(out, pseudonym(salt, &cpr).as_bytes())?;
                copied = range.end;
                replaced += 1;
            }
            write(out, &chunk[copied..])?;
        }
        offset += taken;
        if !gathered {
            input.consume(taken);
        }
    }
    Ok(replaced)
}

/// The line number of byte `offset` of the body, read again from the start.
fn line_at(extract: &Extract, offset: usize) -> String {
    use std::io::Read;
    let mut before = Vec::with_capacity(offset);
    match extract.reader() {
        Ok(reader) => match reader.take(offset as u64).read_to_end(&mut before) {
            Ok(_) => (1 + before.iter().filter(|b| **b == b'\n').count()).to_string(),
            Err(_) => "?".into(),
        },
        Err(_) => "?".into(),
    }
}

/// A Parquet file is not rewritten: one holding a CPR-like value is rejected.
pub fn check_parquet(extract: &Extract) -> Result<(), ValidateError> {
    use datafusion::arrow::array::{Array, StringArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;

    let bad = |detail: String| unreadable_parquet(extract, detail);
    let mut row = 0usize;
    for batch in parquet_reader(extract).map_err(bad)? {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        for column in batch.columns().iter().filter(|c| {
            matches!(
                c.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Int64
            )
        }) {
            let text = cast(column, &DataType::Utf8).map_err(|e| bad(e.to_string()))?;
            let Some(text) = text.as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            if let Some(i) =
                (0..text.len()).find(|i| !text.is_null(*i) && looks_like_cpr(text.value(*i)))
            {
                return Err(rejected(
                    extract,
                    format!(
                        "row {} (a Parquet file is not rewritten: export a pseudonymous key, or CSV)",
                        row + i + 1
                    ),
                ));
            }
        }
        row += batch.num_rows();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cpr_numbers_in_a_line() {
        let line = b"1;010190-1234;x;0101901234;2024-05-31\n";
        let runs = cpr_runs(line);
        assert_eq!(runs.len(), 2);
        assert_eq!(&line[runs[0].clone()], b"010190-1234");
        assert_eq!(&line[runs[1].clone()], b"0101901234");
        assert!(cpr_runs(b"P-000123;2024-05-31;12345678901\n").is_empty());
        // At the very start and end, next to letters, and runs too long.
        assert_eq!(cpr_runs(b"0101901234").len(), 1);
        assert_eq!(cpr_runs(b"x0101901234").len(), 1);
        assert_eq!(cpr_runs(b"ab;010190-1234").len(), 1);
        assert!(cpr_runs(b"101019012345;1-0101901234").is_empty());
        // The skipping scan finds what a byte-by-byte scan finds.
        let text = b"K001;010190-1234;101;x;31-05-2024;0101901234\nK002;P1;2412851111;1;18,5\n";
        let slow: Vec<_> = (0..text.len())
            .flat_map(|s| [s + 10, s + 11].map(move |e| s..e))
            .filter(|r| r.end <= text.len())
            .filter(|r| {
                r.start == 0 || !text[r.start - 1].is_ascii_digit() && text[r.start - 1] != b'-'
            })
            .filter(|r| r.end == text.len() || !text[r.end].is_ascii_digit() && text[r.end] != b'-')
            .filter(|r| looks_like_cpr(&text[r.clone()]))
            .collect();
        assert_eq!(cpr_runs(text), slow);
        assert_eq!(slow.len(), 3);
    }
}
