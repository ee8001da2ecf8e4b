//! No CPR number is ever kept: every body is screened before it is landed.
//! [`cpr`] recognises the numbers in every form they come in; [`screen`]
//! passes a text body on with each CPR number in the person column replaced
//! by its pseudonymous key (HMAC-SHA-256 with the secret salt) and rejects a
//! body with one anywhere else; [`parquet`] does the same for a Parquet body,
//! in any column of any type. Nothing here knows where a body is kept, and
//! no error here quotes a value the screen flagged.

pub mod cpr;
pub mod parquet;
pub mod screen;

/// The environment variable that holds the secret salt.
pub const SALT_ENV: &str = "PRAKTIK_PERSON_SALT";

/// How a body is laid out, for the screen: where its cells and the person
/// column are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// CSV with this delimiter; `person` is the column that holds the
    /// person, if the extract is person-level.
    Csv {
        delimiter: u8,
        person: Option<usize>,
    },
    /// One JSON object per line; the person is under a person key.
    JsonLines,
    /// One JSON document (an API response); it names no person.
    Json,
    /// Parquet: checked column by column; written anew if a person's CPR
    /// number is replaced.
    Parquet,
}

/// Why a value that looks like a CPR number stops a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// In the person column, but there is no salt to replace it with.
    NoSalt,
    /// Outside the person column (or in a body that has none).
    NotPerson,
}

/// A body the screen stopped, or could not read or pass on.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error("{place}, column `{column}`: {}. The value is not shown here", explain(*why))]
    Cpr {
        place: String,
        column: String,
        why: Why,
    },
    #[error("cannot read the body")]
    Read(#[source] std::io::Error),
    #[error("cannot write the screened body")]
    Write(#[source] std::io::Error),
    #[error("{0}")]
    Unreadable(String),
}

fn explain(why: Why) -> String {
    match why {
        Why::NoSalt => format!(
            "a CPR number may not be stored; set the secret {SALT_ENV} to store it as a pseudonymous key (HMAC-SHA-256), or export a pseudonymous person key instead"
        ),
        Why::NotPerson => "a value there looks like a CPR number, and only the person column may hold one (where it is replaced by a pseudonymous key); export the extract without it (a case number that looks like a birth date and serial number is rejected too, as the two cannot be told apart)".into(),
    }
}
