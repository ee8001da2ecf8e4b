//! The words of a report in one language: `catalogues/LANG.toml`, built into
//! the binary. Rust code picks a message by key and fills in its `{name}`
//! places; templates read the same catalogue as `t`.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde_json::Value;

use super::ReportError;
use crate::period::Period;

/// The catalogues shipped with praktik: language code and TOML text.
const BUILTIN: [(&str, &str); 2] = [
    ("da", include_str!("../../catalogues/da.toml")),
    ("en", include_str!("../../catalogues/en.toml")),
];

/// The language codes that have a catalogue.
pub fn languages() -> Vec<&'static str> {
    BUILTIN.iter().map(|(code, _)| *code).collect()
}

/// One language's messages.
#[derive(Debug, Clone)]
pub struct Catalogue {
    code: String,
    root: Value,
}

impl Catalogue {
    /// The catalogue of `code` (`da`, `en`).
    pub fn load(code: &str) -> Result<Catalogue, ReportError> {
        let (_, text) = BUILTIN.iter().find(|(c, _)| *c == code).ok_or_else(|| {
            ReportError::UnknownLanguage {
                lang: code.into(),
                known: languages().join(", "),
            }
        })?;
        let root: Value = toml::from_str(text).map_err(|cause| ReportError::Definition {
            path: format!("(built in) catalogues/{code}.toml").into(),
            cause: Box::new(cause),
        })?;
        Ok(Catalogue {
            code: code.into(),
            root,
        })
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// The whole catalogue, for templates.
    pub fn tree(&self) -> &Value {
        &self.root
    }

    fn lookup(&self, key: &str) -> Option<&Value> {
        key.split('.')
            .try_fold(&self.root, |node, part| node.get(part))
    }

    /// The message at `key` (`summary.level`); a missing key shows as `«key»`
    /// so that a test over the rendered text finds it.
    pub fn text(&self, key: &str) -> String {
        match self.lookup(key) {
            Some(Value::String(s)) => s.clone(),
            _ => format!("«{key}»"),
        }
    }

    /// The message at `key` with its `{name}` places filled in.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.text(key);
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    fn list(&self, key: &str) -> Vec<String> {
        match self.lookup(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A number with this language's decimal mark: `14,8` or `14.8`.
    pub fn decimal(&self, value: f64, decimals: usize) -> String {
        super::format::decimal(value, decimals).replace(',', &self.text("number.decimal"))
    }

    /// A whole number with this language's thousands mark: `41.230`, `41,230`.
    pub fn count(&self, value: i64) -> String {
        super::format::count(value).replace('.', &self.text("number.thousands"))
    }

    /// A share in percent, one decimal: `14,8 pct.`, `14.8%`.
    pub fn percent(&self, value: f64) -> String {
        self.fill("number.percent", &[("value", &self.decimal(value, 1))])
    }

    /// A difference of shares, one decimal, without its sign: `1,2 procentpoint`.
    pub fn points(&self, value: f64) -> String {
        self.fill("number.points", &[("value", &self.decimal(value.abs(), 1))])
    }

    /// `3. kvartal 2019`, `Q3 2019`.
    pub fn quarter(&self, period: Period) -> String {
        self.period_as("quarter.long", period)
    }

    /// `2019K3`, `2019Q3`: for chart axes.
    pub fn quarter_short(&self, period: Period) -> String {
        self.period_as("quarter.short", period)
    }

    fn period_as(&self, key: &str, period: Period) -> String {
        self.fill(
            key,
            &[
                ("q", &period.quarter().to_string()),
                ("year", &period.year().to_string()),
            ],
        )
    }

    /// `6. marts 2020`, `6 March 2020`.
    pub fn date(&self, day: NaiveDate) -> String {
        let months = self.list("month.names");
        let month = months
            .get(day.month0() as usize)
            .cloned()
            .unwrap_or_default();
        self.fill(
            "month.date",
            &[
                ("day", &day.day().to_string()),
                ("month", &month),
                ("year", &day.year().to_string()),
            ],
        )
    }

    /// A moment in UTC with the date in words.
    pub fn timestamp(&self, at: DateTime<Utc>) -> String {
        self.fill(
            "month.timestamp",
            &[
                ("date", &self.date(at.date_naive())),
                ("hour", &format!("{:02}", at.hour())),
                ("minute", &format!("{:02}", at.minute())),
            ],
        )
    }

    /// A rank in a set of `size` as an ordinal, counted from the nearer end:
    /// `næsthøjeste`, `second lowest`.
    pub fn rank_word(&self, rank: usize, size: usize) -> String {
        let from_bottom = size.saturating_sub(rank) + 1;
        let (place, words, numbered) = if rank <= from_bottom {
            (rank, "rank.high", "rank.high_n")
        } else {
            (from_bottom, "rank.low", "rank.low_n")
        };
        match self.list(words).get(place.saturating_sub(1)) {
            Some(word) => word.clone(),
            None => self.fill(numbered, &[("n", &place.to_string())]),
        }
    }

    /// Items as prose: `a`, `a og b`, `a, b og c`.
    pub fn join(&self, items: &[String]) -> String {
        super::format::list(items, &self.text("list.and"))
    }
}

/// Every key of a catalogue's tree, dotted: `summary.level`.
fn keys(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(map) = value {
        for (name, child) in map {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            keys(child, &key, out);
        }
    } else {
        out.insert(prefix.to_string());
    }
}

/// The keys one catalogue has and another lacks, per language pair.
pub fn missing_keys() -> Result<Vec<String>, ReportError> {
    let mut trees = Vec::new();
    for code in languages() {
        let mut set = BTreeSet::new();
        keys(Catalogue::load(code)?.tree(), "", &mut set);
        trees.push((code, set));
    }
    let mut out = Vec::new();
    for (code, set) in &trees {
        for (other, other_set) in &trees {
            for key in other_set.difference(set) {
                out.push(format!(
                    "catalogues/{code}.toml lacks `{key}` (in {other}.toml)"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_every_language() {
        assert_eq!(missing_keys().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn numbers_dates_and_ranks_follow_the_language() {
        let da = Catalogue::load("da").unwrap();
        let en = Catalogue::load("en").unwrap();
        assert_eq!(da.percent(14.84), "14,8 pct.");
        assert_eq!(en.percent(14.84), "14.8%");
        assert_eq!(da.count(41230), "41.230");
        assert_eq!(en.count(41230), "41,230");
        let day = NaiveDate::from_ymd_opt(2020, 3, 6).unwrap();
        assert_eq!(da.date(day), "6. marts 2020");
        assert_eq!(en.date(day), "6 March 2020");
        let q: Period = "2019Q3".parse().unwrap();
        assert_eq!(da.quarter(q), "3. kvartal 2019");
        assert_eq!(en.quarter(q), "Q3 2019");
        assert_eq!(da.rank_word(2, 6), "næsthøjeste");
        assert_eq!(en.rank_word(5, 6), "second lowest");
        assert_eq!(en.rank_word(12, 30), "12th highest");
        assert_eq!(da.join(&["a".into(), "b".into()]), "a og b");
    }

    #[test]
    fn an_unknown_language_names_those_that_exist() {
        let err = Catalogue::load("sv").unwrap_err().to_string();
        assert!(err.contains("`sv`") && err.contains("da, en"), "{err}");
    }

    #[test]
    fn a_missing_key_is_visible() {
        let da = Catalogue::load("da").unwrap();
        assert_eq!(da.text("no.such"), "«no.such»");
    }
}
