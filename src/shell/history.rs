//! Where `praktik sql` keeps its history between uses, and what it never
//! keeps: a statement that holds what looks like a CPR number.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/praktik/sql_history`, or `~/.local/share/praktik/sql_history`;
/// none when neither folder is known.
pub fn file() -> Option<PathBuf> {
    let env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let data = env("XDG_DATA_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|home| home.join(".local").join("share")))?;
    Some(data.join("praktik").join("sql_history"))
}

/// Whether `entry` may be written to the history file. The store holds
/// no CPR numbers; a history file must not either, even one an analyst typed.
pub fn may_keep(entry: &str) -> bool {
    !entry.trim().is_empty() && !crate::privacy::cpr::contains_cpr(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpr_number_in_any_form_is_not_kept() {
        assert!(may_keep("SELECT * FROM outcomes WHERE period = '2019Q3';"));
        for statement in [
            "SELECT * FROM internships WHERE person = '0703911234';",
            "SELECT '070391-1234';",
            "-- 070391 1234\nSELECT 1;",
        ] {
            assert!(!may_keep(statement), "{statement}");
        }
        assert!(!may_keep("   "));
    }
}
