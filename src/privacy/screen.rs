//! The screen for text bodies (CSV, JSON lines, JSON): a CPR number in the
//! person column becomes its pseudonymous key; one anywhere else, or one in
//! the person column without a salt, stops the body. The body streams
//! through whole lines at a time; lines without a CPR-like run are passed on
//! as they are, without decoding.

use std::io::{BufRead, Write};
use std::ops::Range;

use super::cpr::{find, is_pseudonym, pseudonym, shown};
use super::{Layout, ScreenError, Why};

/// Passes a body on through [`Screen::run`].
pub struct Screen<'a> {
    pub layout: Layout,
    /// Whether a JSON key names the person.
    pub is_person_key: &'a dyn Fn(&str) -> bool,
    pub salt: Option<&'a str>,
}

impl Screen<'_> {
    /// Copy `input` to `out` with every CPR number in the person column
    /// replaced; how many were replaced.
    pub fn run(&self, input: &mut dyn BufRead, out: &mut dyn Write) -> Result<usize, ScreenError> {
        self.run_noting(input, out, &mut |_, _| {})
    }

    /// [`Screen::run`], handing `note` each run of whole lines of `input`
    /// as it is read, in order (the last line may lack its line feed), with
    /// how many line feeds it holds: what the landing learns of a body's
    /// lines on its way through the screen.
    pub fn run_noting(
        &self,
        input: &mut dyn BufRead,
        out: &mut dyn Write,
        note: &mut dyn FnMut(&[u8], usize),
    ) -> Result<usize, ScreenError> {
        let write =
            |out: &mut dyn Write, bytes: &[u8]| out.write_all(bytes).map_err(ScreenError::Write);
        let mut lines_before = 0usize;
        let mut replaced = 0usize;
        let mut header: Vec<String> = Vec::new();
        // A line longer than the reader's buffer is gathered here.
        let mut long = Vec::new();
        loop {
            let buffer = input.fill_buf().map_err(ScreenError::Read)?;
            if buffer.is_empty() {
                break;
            }
            let (chunk, gathered): (&[u8], bool) = match memchr::memrchr(b'\n', buffer) {
                Some(last) => (&buffer[..=last], false),
                None => {
                    long.clear();
                    input
                        .read_until(b'\n', &mut long)
                        .map_err(ScreenError::Read)?;
                    (&long, true)
                }
            };
            if lines_before == 0
                && let Layout::Csv { delimiter, .. } = self.layout
            {
                let first = chunk.split(|b| *b == b'\n').next().unwrap_or_default();
                header = String::from_utf8_lossy(first)
                    .trim_end_matches('\r')
                    .split(delimiter as char)
                    .map(|c| shown(c.trim().trim_matches('"')))
                    .collect();
            }
            let runs = find(chunk);
            if runs.is_empty() {
                write(out, chunk)?;
            } else {
                replaced += self.lines_with_runs(chunk, &runs, lines_before, &header, out)?;
            }
            // memchr's count is vectorised; a plain filter and count took
            // twice as long as the scan for CPR numbers itself.
            let line_feeds = memchr::memchr_iter(b'\n', chunk).count();
            note(chunk, line_feeds);
            lines_before += line_feeds;
            let taken = chunk.len();
            if !gathered {
                input.consume(taken);
            }
        }
        Ok(replaced)
    }

    /// Pass on a chunk of whole lines in which `runs` stand.
    fn lines_with_runs(
        &self,
        chunk: &[u8],
        runs: &[Range<usize>],
        lines_before: usize,
        header: &[String],
        out: &mut dyn Write,
    ) -> Result<usize, ScreenError> {
        let mut replaced = 0;
        let mut copied = 0;
        let mut runs = runs.iter().peekable();
        while let Some(run) = runs.next() {
            let start = chunk[..run.start]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            let end = chunk[run.end..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(chunk.len(), |p| run.end + p + 1);
            let mut in_line = Vec::with_capacity(1);
            in_line.push(run.start - start..run.end - start);
            while let Some(next) = runs.next_if(|r| r.start < end) {
                in_line.push(next.start - start..next.end - start);
            }
            let line_number =
                lines_before + memchr::memchr_iter(b'\n', &chunk[..start]).count() + 1;
            out.write_all(&chunk[copied..start])
                .map_err(ScreenError::Write)?;
            let line = &chunk[start..end];
            let (screened, count) = self.line(line, &in_line, line_number, header)?;
            out.write_all(&screened).map_err(ScreenError::Write)?;
            replaced += count;
            copied = end;
        }
        out.write_all(&chunk[copied..])
            .map_err(ScreenError::Write)?;
        Ok(replaced)
    }

    /// One line with CPR-like runs at `runs`: the line to pass on and how
    /// many runs it replaced.
    fn line(
        &self,
        line: &[u8],
        runs: &[Range<usize>],
        number: usize,
        header: &[String],
    ) -> Result<(Vec<u8>, usize), ScreenError> {
        let place = format!("line {number}");
        let stop = |column: String, why| ScreenError::Cpr {
            place: place.clone(),
            column,
            why,
        };
        match self.layout {
            Layout::Csv { delimiter, person } => {
                if number == 1 {
                    return Err(stop("(the header)".into(), Why::NotPerson));
                }
                let mut screened = Vec::with_capacity(line.len() + 64 * runs.len());
                let mut copied = 0;
                let mut replaced = 0;
                for run in runs {
                    let (column, cell) = cell_at(line, run.start, delimiter);
                    let name = header
                        .get(column)
                        .cloned()
                        .unwrap_or_else(|| (column + 1).to_string());
                    if person != Some(column) {
                        return Err(stop(name, Why::NotPerson));
                    }
                    if is_pseudonym(line[cell].trim_ascii()) {
                        continue;
                    }
                    let salt = self
                        .salt
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| stop(name, Why::NoSalt))?;
                    screened.extend_from_slice(&line[copied..run.start]);
                    screened.extend_from_slice(pseudonym(salt, &line[run.clone()]).as_bytes());
                    copied = run.end;
                    replaced += 1;
                }
                screened.extend_from_slice(&line[copied..]);
                Ok((screened, replaced))
            }
            Layout::JsonLines => self.json_line(line, &place),
            Layout::Json | Layout::Parquet => Err(stop("(any)".into(), Why::NotPerson)),
        }
    }

    fn json_line(&self, line: &[u8], place: &str) -> Result<(Vec<u8>, usize), ScreenError> {
        let stop = |column: String, why| ScreenError::Cpr {
            place: place.to_string(),
            column,
            why,
        };
        let Ok(mut object) =
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line)
        else {
            return Err(stop("(not a JSON object)".into(), Why::NotPerson));
        };
        let mut replaced = 0;
        for (key, value) in object.iter_mut() {
            let text = match &*value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let runs = find(text.as_bytes());
            if runs.is_empty() || is_pseudonym(text.trim().as_bytes()) {
                continue;
            }
            if !(self.is_person_key)(key) {
                return Err(stop(shown(key), Why::NotPerson));
            }
            let salt = self
                .salt
                .filter(|s| !s.is_empty())
                .ok_or_else(|| stop(shown(key), Why::NoSalt))?;
            *value = serde_json::Value::String(pseudonym(salt, &text.as_bytes()[runs[0].clone()]));
            replaced += 1;
        }
        let mut screened = serde_json::to_vec(&object).map_err(|e| ScreenError::Write(e.into()))?;
        screened.push(b'\n');
        Ok((screened, replaced))
    }
}

/// Which column byte `at` of a CSV line stands in (delimiters inside quotes
/// do not count), and that cell's bytes.
fn cell_at(line: &[u8], at: usize, delimiter: u8) -> (usize, Range<usize>) {
    let mut column = 0;
    let mut quoted = false;
    let mut start = 0;
    for (i, b) in line[..at].iter().enumerate() {
        if *b == b'"' {
            quoted = !quoted;
        } else if *b == delimiter && !quoted {
            column += 1;
            start = i + 1;
        }
    }
    let end = line[at..]
        .iter()
        .position(|b| (*b == delimiter && !quoted) || *b == b'\n' || *b == b'\r')
        .map_or(line.len(), |p| at + p);
    (column, start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(
        layout: Layout,
        salt: Option<&str>,
        body: &str,
    ) -> Result<(String, usize), ScreenError> {
        let is_person_key = |k: &str| k == "person_key";
        let screen = Screen {
            layout,
            is_person_key: &is_person_key,
            salt,
        };
        let mut out = Vec::new();
        let replaced = screen.run(&mut body.as_bytes(), &mut out)?;
        Ok((String::from_utf8(out).unwrap(), replaced))
    }

    const PERSON: Layout = Layout::Csv {
        delimiter: b';',
        person: Some(1),
    };

    #[test]
    fn the_person_column_is_replaced_and_nothing_else_passes() {
        let body = "id;person;x\nK1;010190-1234;1\nK2;P2;2\nK3;\"101901234\";3\n";
        let (out, replaced) = screen(PERSON, Some("s"), body).unwrap();
        assert_eq!(replaced, 2);
        let key = pseudonym("s", b"0101901234");
        assert_eq!(
            out,
            format!("id;person;x\nK1;{key};1\nK2;P2;2\nK3;\"{key}\";3\n")
        );
        // A screened body passes again unchanged: keys are not screened twice.
        assert_eq!(screen(PERSON, Some("s"), &out).unwrap(), (out.clone(), 0));
        for (body, place, column, why) in [
            (
                "id;person;x\nK1;P1;1\nK2;P2;010190 1234\n",
                "line 3",
                "x",
                Why::NotPerson,
            ),
            (
                "id;person;x\n0101901234;P1;1\n",
                "line 2",
                "id",
                Why::NotPerson,
            ),
            (
                "id;person;x\n\"a;0101901234\";P1;1\n",
                "line 2",
                "id",
                Why::NotPerson,
            ),
            (
                "id;0101901234;x\n",
                "line 1",
                "(the header)",
                Why::NotPerson,
            ),
        ] {
            match screen(PERSON, Some("s"), body) {
                Err(ScreenError::Cpr {
                    place: p,
                    column: c,
                    why: w,
                }) => {
                    assert_eq!((p.as_str(), c.as_str(), w), (place, column, why), "{body}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        let error = screen(PERSON, None, "id;person\nK1;670391-1234\n").unwrap_err();
        assert!(matches!(
            error,
            ScreenError::Cpr {
                why: Why::NoSalt,
                ..
            }
        ));
        assert!(!error.to_string().contains("670391"));
        let outcomes = Layout::Csv {
            delimiter: b',',
            person: None,
        };
        assert!(screen(outcomes, Some("s"), "a,b\n1,0101901234\n").is_err());
        assert!(screen(Layout::Json, Some("s"), "{\"rows\":[[\"0101901234\"]]}").is_err());
    }

    #[test]
    fn json_lines_by_key() {
        let body = "{\"person_key\":\"010190-1234\",\"id\":\"K1\"}\n{\"person_key\":\"P2\",\"id\":\"K2\"}\n";
        let (out, replaced) = screen(Layout::JsonLines, Some("s"), body).unwrap();
        assert_eq!(replaced, 1);
        assert!(
            !out.contains("010190") && out.contains(&pseudonym("s", b"0101901234")),
            "{out}"
        );
        assert!(out.ends_with("{\"person_key\":\"P2\",\"id\":\"K2\"}\n"));
        for bad in ["{\"id\":101901234}\n", "{\"person_key\":0101901234}\n"] {
            assert!(screen(Layout::JsonLines, Some("s"), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_line_longer_than_the_buffer() {
        let long = format!("id;person\nK1;{}0101901234\n", "x".repeat(20_000));
        let mut reader = std::io::BufReader::with_capacity(1024, long.as_bytes());
        let is_person_key = |_: &str| false;
        let screen = Screen {
            layout: PERSON,
            is_person_key: &is_person_key,
            salt: Some("s"),
        };
        let mut out = Vec::new();
        assert_eq!(screen.run(&mut reader, &mut out).unwrap(), 1);
        assert!(!String::from_utf8(out).unwrap().contains("0101901234"));
    }
}
