//! Danish formatting of numbers, dates, periods and ordinals: the one place
//! reports get their text forms from.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

const MONTHS: [&str; 12] = [
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
];

/// A share or other decimal with a decimal comma: `14,8`.
pub fn decimal(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.starts_with('-') && text.trim_start_matches(['-', '0', '.']).is_empty() {
        text.trim_start_matches('-').to_string() // no "-0,0"
    } else {
        text
    };
    text.replace('.', ",")
}

/// A whole number with dots between thousands: `41.230`.
pub fn count(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if value < 0 { format!("-{out}") } else { out }
}

/// A date as a Danish letter writes it: `6. marts 2020`.
pub fn date(day: NaiveDate) -> String {
    format!(
        "{}. {} {}",
        day.day(),
        MONTHS[day.month0() as usize],
        day.year()
    )
}

/// A moment, in UTC: `28. november 2026 kl. 16.20 UTC`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    format!(
        "{} kl. {:02}.{:02} UTC",
        date(at.date_naive()),
        at.hour(),
        at.minute()
    )
}

/// A rank in a set of `size` as a Danish ordinal adjective: `højeste`,
/// `næsthøjeste`, `tredjehøjeste` … counted from the top in the upper half and
/// from the bottom (`næstlaveste`, `laveste`) in the lower half.
pub fn rank_word(rank: usize, size: usize) -> String {
    const ORDINALS: [&str; 10] = [
        "", "næst", "tredje", "fjerde", "femte", "sjette", "syvende", "ottende", "niende", "tiende",
    ];
    let from_bottom = size.saturating_sub(rank) + 1;
    let (place, end) = if rank <= from_bottom {
        (rank, "højeste")
    } else {
        (from_bottom, "laveste")
    };
    match ORDINALS.get(place.saturating_sub(1)) {
        Some(prefix) => format!("{prefix}{end}"),
        None => format!("{place}.-{end}"),
    }
}

/// Items joined as Danish prose: `a`, `a og b`, `a, b og c`.
pub fn list(items: &[String], last_joiner: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {last_joiner} {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_use_decimal_comma_and_thousand_dots() {
        assert_eq!(decimal(14.8, 1), "14,8");
        assert_eq!(decimal(5.0, 1), "5,0");
        assert_eq!(decimal(-0.04, 1), "0,0");
        assert_eq!(decimal(-4.4, 1), "-4,4");
        assert_eq!(count(41230), "41.230");
        assert_eq!(count(980), "980");
        assert_eq!(count(1234567), "1.234.567");
    }

    #[test]
    fn dates_are_danish() {
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2020, 3, 6).unwrap()),
            "6. marts 2020"
        );
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2020, 2, 27).unwrap()),
            "27. februar 2020"
        );
    }

    #[test]
    fn ranks_read_from_the_nearer_end() {
        let words: Vec<String> = (1..=6).map(|r| rank_word(r, 6)).collect();
        assert_eq!(
            words,
            [
                "højeste",
                "næsthøjeste",
                "tredjehøjeste",
                "tredjelaveste",
                "næstlaveste",
                "laveste"
            ]
        );
        assert_eq!(rank_word(3, 5), "tredjehøjeste");
        assert_eq!(rank_word(1, 1), "højeste");
        assert_eq!(rank_word(12, 30), "12.-højeste");
    }

    #[test]
    fn lists_join_like_prose() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(list(&items(&["a"]), "og"), "a");
        assert_eq!(list(&items(&["a", "b"]), "samt"), "a samt b");
        assert_eq!(list(&items(&["a", "b", "c"]), "og"), "a, b og c");
    }
}
