//! What an input holds, decided from its first bytes before anything of it
//! is kept: Parquet by its magic number, JSON lines, or CSV whose header is
//! wholly an outcomes header or wholly a person-level header. An input that
//! fits none of them (no header, a title row above it, UTF-16 text, a binary
//! file, an empty file) is rejected before landing. The reason never quotes
//! a cell that could be data.

use crate::extract::Format;
pub use crate::privacy::Layout;
use crate::validate::OUTCOME_COLUMNS;
use crate::validate::person_rows::{COLUMNS, column_of, text};

/// How far into a body the classification looks.
pub const HEAD_BYTES: usize = 1 << 16;

/// The first [`HEAD_BYTES`] of a body, for classifying it.
pub fn head(body: impl std::io::Read) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    body.take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Why an input was not classified; never holds a cell's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unclassified(pub String);

fn fail<T>(reason: impl Into<String>) -> Result<T, Unclassified> {
    Err(Unclassified(reason.into()))
}

/// The format and layout of a file named `name` whose body begins with
/// `head`. `declared` is the format a source says it sent (the demo, the
/// API); a body that does not look like it is rejected too.
pub fn classify(
    name: &str,
    head: &[u8],
    declared: Option<Format>,
) -> Result<(Format, Layout), Unclassified> {
    if head.is_empty() {
        return fail("the file is empty");
    }
    if head.starts_with(b"PAR1") {
        return match declared {
            None | Some(Format::InternshipsParquet) => {
                Ok((Format::InternshipsParquet, Layout::Parquet))
            }
            Some(other) => fail(format!(
                "a Parquet file was sent where {other:?} was expected"
            )),
        };
    }
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_lowercase());
    if extension.as_deref() == Some("parquet") || declared == Some(Format::InternshipsParquet) {
        return fail(
            "the file is named .parquet but is not a Parquet file (it lacks the PAR1 mark)",
        );
    }
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return fail(
            "the file is UTF-16 text (Excel's \"Unicode text\"); save it from Excel as \"CSV UTF-8\" or \"CSV (semikolonsepareret)\"",
        );
    }
    if head.contains(&0) {
        return fail(
            "the file is binary, not text (an Excel workbook? save it as \"CSV UTF-8\"), nor Parquet",
        );
    }
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let first_byte = body.iter().find(|b| !b.is_ascii_whitespace());
    match declared {
        Some(Format::JobindsatsV2 | Format::JobindsatsV3) => {
            // Screened as text whatever it holds; parsing says if it is not JSON.
            return Ok((declared.unwrap_or(Format::JobindsatsV3), Layout::Json));
        }
        Some(Format::InternshipsJsonl) => return Ok((Format::InternshipsJsonl, Layout::JsonLines)),
        _ => {}
    }
    if matches!(extension.as_deref(), Some("jsonl" | "ndjson")) || first_byte == Some(&b'{') {
        return Ok((Format::InternshipsJsonl, Layout::JsonLines));
    }
    let line = body.split(|b| *b == b'\n').next().unwrap_or_default();
    if line.len() == body.len() && head.len() >= HEAD_BYTES {
        return fail(format!(
            "its first line is longer than {} KiB, so it has no CSV header",
            HEAD_BYTES / 1024
        ));
    }
    let line = text(line);
    let count = |d: char| line.matches(d).count();
    let delimiter = if count(';') > count(',') { b';' } else { b',' };
    let cells: Vec<&str> = line
        .trim_end_matches(['\r', '\n'])
        .split(delimiter as char)
        .map(|c| c.trim().trim_matches('"').trim())
        .collect();
    let person_columns: Vec<Option<usize>> = cells.iter().map(|c| column_of(c)).collect();
    let outcome_columns: Vec<bool> = cells.iter().map(|c| OUTCOME_COLUMNS.contains(c)).collect();
    if person_columns.iter().all(Option::is_some) && person_columns.contains(&Some(0)) {
        if let Some(Format::OutcomesCsv) = declared {
            return fail("a person-level header was sent where an outcomes extract was expected");
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .enumerate()
            .filter(|(i, (_, _, required))| *required && !person_columns.contains(&Some(*i)))
            .map(|(_, (name, _, _))| *name)
            .collect();
        if !missing.is_empty() {
            return fail(format!(
                "the header lacks the column `{}`, which a person-level extract needs",
                missing.join("`, `")
            ));
        }
        let person = person_columns.iter().position(|c| *c == Some(1));
        return Ok((Format::InternshipsCsv, Layout::Csv { delimiter, person }));
    }
    if outcome_columns.iter().all(|known| *known) && declared != Some(Format::InternshipsCsv) {
        return Ok((
            Format::OutcomesCsv,
            Layout::Csv {
                delimiter,
                person: None,
            },
        ));
    }
    // Name the cells that are column names; say nothing of the others,
    // which may be data (a file without a header).
    let known: Vec<&str> = cells
        .iter()
        .zip(person_columns.iter().zip(&outcome_columns))
        .filter(|(_, (person, outcome))| person.is_some() || **outcome)
        .map(|(cell, _)| *cell)
        .collect();
    // A real header has at least the seven columns either kind needs; a line
    // with fewer known names is more likely data, and none of it is shown.
    if known.len() < 3 {
        return fail(format!(
            "its first line is not a header: fewer than three of its {} cells are column names praktik knows (the line is not shown, as it may be data). Put the header first: remove any title rows above it, or add one (person-level: {}; outcomes: {})",
            cells.len(),
            COLUMNS.map(|c| c.0).join(";"),
            OUTCOME_COLUMNS.join(",")
        ));
    }
    // The line is a header: name its unknown columns, unless one could be
    // data (digits in it, or long).
    let unknown: Vec<String> = cells
        .iter()
        .zip(person_columns.iter().zip(&outcome_columns))
        .filter(|(_, (person, outcome))| person.is_none() && !**outcome)
        .map(|(cell, _)| {
            if cell.chars().any(|c| c.is_ascii_digit()) || cell.chars().count() > 40 {
                "(a cell not shown, as it may be data)".to_string()
            } else {
                format!("`{cell}`")
            }
        })
        .collect();
    fail(format!(
        "the header has the column {}, which neither an outcomes nor a person-level extract has; use only the columns of a person-level extract ({}, or their Danish names such as Praktiktype and Slutdato) or of an outcomes extract ({})",
        unknown.join(", "),
        COLUMNS.map(|c| c.0).join(";"),
        OUTCOME_COLUMNS.join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_decide() {
        let person = classify(
            "x.csv",
            "Praktik_id;CPR;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato\nK1".as_bytes(),
            None,
        );
        assert_eq!(
            person,
            Ok((
                Format::InternshipsCsv,
                Layout::Csv {
                    delimiter: b';',
                    person: Some(1)
                }
            ))
        );
        let outcomes = classify("x.csv", OUTCOME_COLUMNS.join(",").as_bytes(), None);
        assert_eq!(outcomes.map(|c| c.0), Ok(Format::OutcomesCsv));
        for (body, says) in [
            (&b""[..], "empty"),
            (b"\xFF\xFEP\0", "UTF-16"),
            (b"PK\x03\x04\0\0", "binary"),
            (b"K1;0101901234;101\n", "not a header"),
            (b"Udtraek fra Fasit\nPraktik_id;CPR\n", "not a header"),
            (
                b"ID;CPR;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato\n",
                "the column `ID`, which neither",
            ),
        ] {
            let error = classify("x.csv", body, None).unwrap_err().0;
            assert!(error.contains(says), "{error}");
            assert!(
                !error.contains("0101901234") && !error.contains("Fasit"),
                "{error}"
            );
        }
        assert!(classify("x.parquet", b"a,b", None).is_err());
        assert_eq!(
            classify("x.bin", b"PAR1....", None).map(|c| c.0),
            Ok(Format::InternshipsParquet)
        );
    }
}
