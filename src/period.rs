//! A quarter of a year: `2019Q3` in data and on the command line,
//! `3. kvartal 2019` in Danish reports.

use std::fmt;
use std::str::FromStr;

/// One calendar quarter. Ordered in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: u16,
    quarter: u8,
}

/// Why a text is not a quarter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a quarter: {reason} (write it as YYYYQn, e.g. 2019Q3)")]
pub struct PeriodError {
    input: String,
    reason: &'static str,
}

impl Period {
    pub const FIRST_YEAR: u16 = 1990;
    pub const LAST_YEAR: u16 = 2100;

    pub fn new(year: u16, quarter: u8) -> Option<Self> {
        ((1..=4).contains(&quarter) && (Self::FIRST_YEAR..=Self::LAST_YEAR).contains(&year))
            .then_some(Period { year, quarter })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn quarter(self) -> u8 {
        self.quarter
    }

    /// The quarter after this one.
    pub fn next(self) -> Period {
        if self.quarter == 4 {
            Period {
                year: self.year + 1,
                quarter: 1,
            }
        } else {
            Period {
                year: self.year,
                quarter: self.quarter + 1,
            }
        }
    }

    /// Every quarter from `self` to `last`, both included.
    pub fn through(self, last: Period) -> impl Iterator<Item = Period> {
        std::iter::successors(Some(self), move |p| (*p < last).then(|| p.next()))
            .take_while(move |p| *p <= last)
    }

    /// Danish display: `3. kvartal 2019`.
    pub fn danish(self) -> String {
        format!("{}. kvartal {}", self.quarter, self.year)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year, self.quarter)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| PeriodError {
            input: input.to_string(),
            reason,
        };
        let text = input.trim();
        let (year, quarter) = text
            .split_once(['Q', 'q'])
            .ok_or_else(|| err("there is no `Q` between year and quarter"))?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("the year must have four digits"));
        }
        // Jobindsats v3 writes quarters with two digits: 2019Q03.
        let quarter = quarter.strip_prefix('0').unwrap_or(quarter);
        if quarter.len() != 1 || !quarter.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("the quarter must be 1, 2, 3 or 4"));
        }
        let year: u16 = year.parse().map_err(|_| err("the year is not a number"))?;
        let quarter: u8 = quarter
            .parse()
            .map_err(|_| err("the quarter is not a number"))?;
        if !(1..=4).contains(&quarter) {
            return Err(err("the quarter must be 1, 2, 3 or 4"));
        }
        Period::new(year, quarter).ok_or_else(|| err("the year is outside 1990-2100"))
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

crate::deserialize_from_str!(Period);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let p: Period = "2019Q3".parse().unwrap();
        assert_eq!(p.to_string(), "2019Q3");
        assert_eq!(p.danish(), "3. kvartal 2019");
        assert_eq!("2019Q03".parse::<Period>().unwrap(), p);
        assert_eq!("2019q3".parse::<Period>().unwrap(), p);
    }

    #[test]
    fn rejects_what_is_not_a_quarter() {
        for bad in [
            "2019Q5", "2019Q0", "19Q3", "2019-3", "2019Q", "Q3", "2019Q33", "abcdQ1",
        ] {
            let err = bad.parse::<Period>().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
            assert!(err.contains("YYYYQn"), "{err}");
        }
    }

    #[test]
    fn orders_and_steps_through_years() {
        let a: Period = "2018Q3".parse().unwrap();
        let b: Period = "2019Q2".parse().unwrap();
        let all: Vec<String> = a.through(b).map(|p| p.to_string()).collect();
        assert_eq!(all, ["2018Q3", "2018Q4", "2019Q1", "2019Q2"]);
        assert!(a < b);
        assert_eq!(b.through(a).count(), 0);
    }
}
