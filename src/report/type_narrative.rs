//! Sentences about internship types: each type against its own purpose, and
//! differences between types said as certain only when the 95 % intervals
//! do not overlap.

use super::format::decimal;

/// One type's share for a measure, with its interval; `None` when suppressed.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeShare {
    /// `jobpraktik`, as prose starts it: `Jobpraktik`.
    pub name: String,
    pub share: Option<(f64, f64, f64)>,
}

fn interval((share, low, high): (f64, f64, f64)) -> String {
    format!(
        "{} pct. (95 %-interval {}–{})",
        decimal(share, 1),
        decimal(low, 1),
        decimal(high, 1)
    )
}

/// Compare every pair of types on one measure (`the measure` as prose).
pub fn comparisons(types: &[TypeShare], measure: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, a) in types.iter().enumerate() {
        for b in &types[i + 1..] {
            let (Some(x), Some(y)) = (a.share, b.share) else {
                continue;
            };
            let (high, low) = if x.0 >= y.0 {
                ((a, x), (b, y))
            } else {
                ((b, y), (a, x))
            };
            let overlap = high.1.1 <= low.1.2;
            out.push(if overlap {
                format!(
                    "{} og {} kan ikke skelnes sikkert på andelen {measure}: {} mod {} pct., men intervallerne overlapper, så forskellen er ikke større end usikkerheden.",
                    high.0.name,
                    low.0.name.to_lowercase(),
                    decimal(high.1.0, 1),
                    decimal(low.1.0, 1),
                )
            } else {
                format!(
                    "{} har en højere andel {measure} end {} ({} mod {} pct.), og forskellen er større end usikkerheden.",
                    high.0.name,
                    low.0.name.to_lowercase(),
                    decimal(high.1.0, 1),
                    decimal(low.1.0, 1),
                )
            });
        }
    }
    out
}

/// One type against its own purpose.
pub fn purpose_sentence(
    name: &str,
    purpose_measure: &str,
    share: Option<(f64, f64, f64)>,
) -> String {
    match share {
        Some(s) => format!("{name}: {} {purpose_measure}.", interval(s)),
        None => format!("{name}: for få forløb til at vise et tal ({purpose_measure})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, share: Option<(f64, f64, f64)>) -> TypeShare {
        TypeShare {
            name: name.into(),
            share,
        }
    }

    #[test]
    fn overlapping_intervals_are_not_ranked() {
        let text = comparisons(
            &[
                t("Jobpraktik", Some((31.2, 24.4, 38.9))),
                t("Kompetencepraktik", Some((25.0, 18.0, 33.0))),
            ],
            "i arbejde eller uddannelse efter 3 måneder",
        );
        assert_eq!(text.len(), 1);
        assert!(
            text[0].starts_with("Jobpraktik og kompetencepraktik kan ikke skelnes"),
            "{}",
            text[0]
        );
        assert!(!text[0].contains("højere"), "{}", text[0]);
    }

    #[test]
    fn separate_intervals_are_a_difference() {
        let text = comparisons(
            &[
                t("Udviklingspraktik", Some((9.4, 6.0, 13.0))),
                t("Jobpraktik", Some((31.2, 24.4, 38.9))),
            ],
            "i arbejde eller uddannelse efter 3 måneder",
        );
        assert_eq!(
            text[0],
            "Jobpraktik har en højere andel i arbejde eller uddannelse efter 3 måneder end udviklingspraktik (31,2 mod 9,4 pct.), og forskellen er større end usikkerheden."
        );
    }

    #[test]
    fn suppressed_types_are_neither_compared_nor_shown() {
        let text = comparisons(
            &[
                t("Jobpraktik", Some((31.2, 24.4, 38.9))),
                t("Udviklingspraktik", None),
            ],
            "x",
        );
        assert!(text.is_empty());
        let s = purpose_sentence("Udviklingspraktik", "afklaret efter 6 måneder", None);
        assert!(!s.chars().any(|c| c.is_ascii_digit() && c != '6'), "{s}");
    }
}
