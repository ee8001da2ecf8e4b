//! A result as a box that fits the terminal, as the DuckDB CLI draws it:
//! the column types under the names, long cells cut with `…`, columns left
//! out in the middle when there are too many, and of a long result only the
//! first and last rows with the count.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// How much of a result the terminal gets.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    /// The terminal's width in characters.
    pub width: usize,
    /// Rows shown at most; above it, half from the start and half from the end.
    pub max_rows: usize,
}

/// No column is cut narrower than this (or its own width).
const MIN_COLUMN: usize = 6;
/// When the columns do not fit, the widest are first cut down to this.
const COMFORTABLE: usize = 20;

/// The box for `batches`, whose columns `schema` names.
pub fn render(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    fit: Fit,
) -> Result<String, arrow::error::ArrowError> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let (head, tail) = if total > fit.max_rows {
        (fit.max_rows.div_ceil(2), fit.max_rows / 2)
    } else {
        (total, 0)
    };
    let rows = cells(batches, head, tail, total)?;
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| type_name(f.data_type()))
        .collect();
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric())
        .collect();
    let natural: Vec<usize> = (0..names.len())
        .map(|c| {
            rows.iter()
                .map(|r| chars(&r[c]))
                .chain([chars(&names[c]), chars(&types[c])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let (shown, widths) = columns_that_fit(&natural, fit.width);
    let hidden = names.len() - shown.len();

    let mut out = String::new();
    let line = |left: &str, mid: &str, right: &str, out: &mut String| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        out.push_str(left);
        out.push_str(&parts.join(mid));
        out.push_str(right);
        out.push('\n');
    };
    let row = |cells: Vec<String>, right_aligned: &[bool], out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(right_aligned)
            .map(|((text, width), right)| {
                let text = cut(text, *width);
                let pad = " ".repeat(width - chars(&text));
                if *right {
                    format!(" {pad}{text} ")
                } else {
                    format!(" {text}{pad} ")
                }
            })
            .collect();
        out.push('│');
        out.push_str(&parts.join("│"));
        out.push_str("│\n");
    };
    let pick = |values: &[String]| -> Vec<String> {
        shown
            .iter()
            .map(|c| c.map_or_else(|| "…".to_string(), |c| values[c].clone()))
            .collect()
    };
    let aligned: Vec<bool> = shown
        .iter()
        .map(|c| c.is_some_and(|c| numeric[c]))
        .collect();
    let centred = vec![false; shown.len()];
    line("┌", "┬", "┐", &mut out);
    row(pick(&names), &centred, &mut out);
    row(pick(&types), &centred, &mut out);
    line("├", "┼", "┤", &mut out);
    for (i, values) in rows.iter().enumerate() {
        if tail > 0 && i == head {
            row(vec!["·".to_string(); shown.len()], &aligned, &mut out);
        }
        row(pick(values), &aligned, &mut out);
    }
    line("└", "┴", "┘", &mut out);
    let mut footer = format!("{total} {}", if total == 1 { "row" } else { "rows" });
    if tail > 0 {
        footer.push_str(&format!(
            " ({} shown; \\format csv or \\o FILE gives all)",
            head + tail
        ));
    }
    if hidden > 0 {
        footer.push_str(&format!(
            ", {} columns ({} shown)",
            names.len(),
            names.len() - hidden
        ));
    }
    out.push_str(&footer);
    out.push('\n');
    Ok(out)
}

/// The first `head` and last `tail` rows of `total`, as text (NULL for nulls).
fn cells(
    batches: &[RecordBatch],
    head: usize,
    tail: usize,
    total: usize,
) -> Result<Vec<Vec<String>>, arrow::error::ArrowError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    let mut start = 0;
    for batch in batches {
        let end = start + batch.num_rows();
        let wanted = |i: usize| i < head || i >= total - tail;
        if (start..end).any(wanted) {
            let formatters: Vec<ArrayFormatter> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<_, _>>()?;
            for i in (start..end).filter(|i| wanted(*i)) {
                rows.push(
                    formatters
                        .iter()
                        .map(|f| {
                            f.value(i - start)
                                .to_string()
                                .replace(['\n', '\r', '\t'], " ")
                        })
                        .collect(),
                );
            }
        }
        start = end;
    }
    Ok(rows)
}

/// Which columns to show (`None` is the `…` column standing for those left
/// out) and how wide each is, so that the box fits in `width`: long text
/// columns are cut to a comfortable width first, then columns in the middle
/// are left out, and only then are the shown ones cut further.
fn columns_that_fit(natural: &[usize], width: usize) -> (Vec<Option<usize>>, Vec<usize>) {
    // Each column takes its width, two spaces and one border; one more border closes the box.
    let total = |widths: &[usize]| widths.iter().map(|w| w + 3).sum::<usize>() + 1;
    let mut widths = natural.to_vec();
    shrink(&mut widths, |w| total(w) > width, COMFORTABLE);
    let mut shown: Vec<Option<usize>> = (0..natural.len()).map(Some).collect();
    if total(&widths) > width && natural.len() > 2 {
        // Keep columns from both ends around a `…` column.
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let mut used = 1 + 4; // the closing border and the `…` column
        let (mut front, mut back) = (0, natural.len() - 1);
        while front <= back {
            let take_front = left.len() <= right.len();
            let c = if take_front { front } else { back };
            if used + widths[c] + 3 > width && !left.is_empty() {
                break;
            }
            used += widths[c] + 3;
            if take_front {
                left.push(c);
                front += 1;
            } else {
                right.push(c);
                back -= 1;
            }
        }
        shown = left.into_iter().map(Some).collect();
        shown.push(None);
        shown.extend(right.into_iter().rev().map(Some));
        widths = shown.iter().map(|c| c.map_or(1, |c| widths[c])).collect();
    }
    // Still too wide (few, wide columns): cut the widest, down to a minimum.
    shrink(&mut widths, |w| total(w) > width, MIN_COLUMN);
    (shown, widths)
}

/// Narrow the widest column by one while `too_wide` and it is wider than `floor`.
fn shrink(widths: &mut [usize], too_wide: impl Fn(&[usize]) -> bool, floor: usize) {
    while too_wide(widths) {
        let Some((widest, w)) = widths
            .iter()
            .copied()
            .enumerate()
            .max_by_key(|(i, w)| (*w, std::cmp::Reverse(*i)))
        else {
            return;
        };
        if w <= floor {
            return;
        }
        widths[widest] -= 1;
    }
}

/// `text` cut to `width` characters, the last one `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if chars(text) <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The SQL name of a column's type, as an analyst writes it in a CAST.
fn type_name(data_type: &arrow::datatypes::DataType) -> String {
    use arrow::datatypes::DataType as T;
    match data_type {
        T::Utf8 | T::LargeUtf8 | T::Utf8View => "varchar".into(),
        T::Int8 => "tinyint".into(),
        T::Int16 => "smallint".into(),
        T::Int32 => "int".into(),
        T::Int64 => "bigint".into(),
        T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64 => format!("{data_type}").to_lowercase(),
        T::Float32 => "float".into(),
        T::Float64 => "double".into(),
        T::Boolean => "boolean".into(),
        T::Date32 | T::Date64 => "date".into(),
        T::Timestamp(_, _) => "timestamp".into(),
        T::Decimal128(p, s) | T::Decimal256(p, s) => format!("decimal({p},{s})"),
        T::Dictionary(_, value) => type_name(value),
        other => other.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;

    fn batch(rows: i64, text: &str) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("n", Arc::new(Int64Array::from_iter_values(0..rows)) as _),
            (
                "area_name",
                Arc::new(StringArray::from(vec![text; rows as usize])) as _,
            ),
        ])
        .expect("batch")
    }

    fn width_of(text: &str) -> usize {
        text.lines().map(chars).max().unwrap_or(0)
    }

    #[test]
    fn a_short_result_is_shown_whole_with_types() {
        let b = batch(3, "København");
        let text = render(
            &b.schema(),
            &[b],
            Fit {
                width: 80,
                max_rows: 40,
            },
        )
        .expect("render");
        assert!(text.contains("│ n      │ area_name │"), "{text}");
        assert!(text.contains("│ bigint │ varchar   │"), "{text}");
        assert!(text.contains("│      2 │ København │"), "{text}");
        assert!(text.ends_with("3 rows\n"), "{text}");
    }

    #[test]
    fn a_long_result_shows_its_first_and_last_rows_and_the_count() {
        let (a, b) = (batch(30, "a"), batch(30, "b"));
        let text = render(
            &a.schema(),
            &[a, b],
            Fit {
                width: 80,
                max_rows: 10,
            },
        )
        .expect("render");
        let body: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with('│'))
            .skip(2)
            .collect();
        assert_eq!(body.len(), 11, "{text}");
        assert!(body[0].contains(" 0 ") && body[4].contains(" 4 "), "{text}");
        assert!(body[5].contains('·'), "{text}");
        assert!(
            body[10].contains(" 29 ") && body[10].contains('b'),
            "{text}"
        );
        assert!(text.contains("60 rows (10 shown"), "{text}");
    }

    #[test]
    fn wide_cells_are_cut_to_the_terminal_and_marked() {
        let b = batch(2, &"Lang kommunenavn ".repeat(10));
        let text = render(
            &b.schema(),
            &[b],
            Fit {
                width: 30,
                max_rows: 40,
            },
        )
        .expect("render");
        assert!(width_of(&text) <= 30, "{text}");
        assert!(text.contains('…'), "{text}");
    }

    #[test]
    fn too_many_columns_leave_out_the_middle_ones() {
        let columns: Vec<(String, arrow::array::ArrayRef)> = (0..30)
            .map(|i| {
                (
                    format!("column_{i}"),
                    Arc::new(Int64Array::from(vec![i])) as _,
                )
            })
            .collect();
        let b = RecordBatch::try_from_iter(columns).expect("batch");
        let text = render(
            &b.schema(),
            &[b],
            Fit {
                width: 60,
                max_rows: 40,
            },
        )
        .expect("render");
        assert!(width_of(&text) <= 60, "{text}");
        assert!(
            text.contains("column_0") && text.contains("column_29"),
            "{text}"
        );
        assert!(!text.contains("column_15"), "{text}");
        assert!(text.contains("30 columns ("), "{text}");
    }

    #[test]
    fn no_rows_still_name_the_columns() {
        let b = batch(0, "");
        let text = render(
            &b.schema(),
            &[],
            Fit {
                width: 80,
                max_rows: 40,
            },
        )
        .expect("render");
        assert!(
            text.contains("area_name") && text.ends_with("0 rows\n"),
            "{text}"
        );
    }
}
