//! Recognising CPR numbers in every form they reach an extract in: ten
//! digits (`0101901234`), with a dash or a space after the birth date
//! (`010190-1234`, `010190 1234`), nine digits where a spreadsheet dropped
//! the leading zero (`101901234`), and substitute numbers whose day is
//! raised by 60 (`610190-1234`). The test is deliberately wide: a value that
//! could be a CPR number is treated as one.

use std::ops::Range;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether the first six of `digits` are a birth date `ddmmyy` (with the
/// day of a substitute number, raised by 60, allowed).
fn starts_with_date(digits: &[u8]) -> bool {
    let number = |a: usize| u32::from(digits[a] - b'0') * 10 + u32::from(digits[a + 1] - b'0');
    let day = number(0);
    ((1..=31).contains(&day) || (61..=91).contains(&day)) && (1..=12).contains(&number(2))
}

/// The digits of a CPR number if `digits` (only ASCII digits) is one: ten,
/// or nine where a leading zero was dropped (put back) or a digit lost.
fn ten_digits(digits: &[u8]) -> Option<Vec<u8>> {
    match digits.len() {
        10 if starts_with_date(digits) => Some(digits.to_vec()),
        9 => {
            let padded: Vec<u8> = std::iter::once(b'0')
                .chain(digits.iter().copied())
                .collect();
            if starts_with_date(&padded) {
                Some(padded)
            } else {
                starts_with_date(digits).then(|| digits.to_vec())
            }
        }
        _ => None,
    }
}

/// The digits of `value` if the whole value (trimmed) is a CPR number in
/// one of its forms.
pub fn digits_of(value: &[u8]) -> Option<Vec<u8>> {
    let value = value.trim_ascii();
    if value.iter().all(u8::is_ascii_digit) {
        return ten_digits(value);
    }
    if value.len() == 11 && matches!(value[6], b'-' | b' ') {
        let joined: Vec<u8> = value[..6].iter().chain(&value[7..]).copied().collect();
        if joined.iter().all(u8::is_ascii_digit) {
            return ten_digits(&joined);
        }
    }
    None
}

/// Whether the whole value (trimmed) is a CPR number in one of its forms.
pub fn is_cpr(value: impl AsRef<[u8]>) -> bool {
    digits_of(value.as_ref()).is_some()
}

/// Whether a CPR number in one of its forms stands anywhere in `text`.
pub fn contains_cpr(text: impl AsRef<[u8]>) -> bool {
    !find(text.as_ref()).is_empty()
}

/// Where CPR numbers stand in `text`: runs of digits not next to another
/// digit, in one of the forms above. Digits, dashes and spaces are ASCII in
/// UTF-8 and Windows-1252 alike, so the bytes are scanned as they are.
pub fn find(text: &[u8]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    // Every form holds a run of at least six digits. Invariant: no run that
    // could be a CPR number starts before `i`, and the byte before `i` is
    // not a digit; so the first six digits in a row from `i` on start a run.
    let mut i = 0;
    while let Some(start) = six_digits_from(text, i) {
        let end = start
            + 6
            + text[start + 6..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(text.len() - start - 6);
        let run = &text[start..end];
        if ten_digits(run).is_some() {
            found.push(start..end);
        } else if run.len() == 6
            && matches!(text.get(end), Some(b'-' | b' '))
            && text.len() >= end + 5
            && text[end + 1..end + 5].iter().all(u8::is_ascii_digit)
            && !text.get(end + 5).is_some_and(u8::is_ascii_digit)
        {
            let joined: Vec<u8> = run.iter().chain(&text[end + 1..end + 5]).copied().collect();
            if ten_digits(&joined).is_some() {
                found.push(start..end + 5);
                i = end + 6;
                continue;
            }
        }
        i = end + 1;
    }
    found
}

/// The first `p >= from` where six ASCII digits stand in a row
/// (`text[p..p + 6]`). A body's bytes are tested 64 at a time, eight in
/// each `u64` (no byte's arithmetic reaches the next), without a branch per
/// byte; a short cell, or the end of a body, as before: every sixth byte.
/// (The screen's landing pass over a 10M-row body took 1.84 s with every
/// sixth byte tested throughout, 1.41 s with blocks.)
fn six_digits_from(text: &[u8], mut from: usize) -> Option<usize> {
    while let Some(block) = text.get(from..from + 64).and_then(|b| b.as_array()) {
        if let Some(at) = six_digits_in(block) {
            return Some(from + at);
        }
        // A run starting in the last five bytes is found in the next block.
        from += 59;
    }
    // The last bytes: six digits in a row cover one of every six bytes, so
    // only those are tested until one is a digit. No six in a row start
    // before `from` (the caller's run ended, or a block tested every start),
    // so six from `i` on start where the digits around `i + 5` do.
    let mut i = from;
    while i + 6 <= text.len() {
        if !text[i + 5].is_ascii_digit() {
            i += 6;
            continue;
        }
        let start = i + text[i..i + 5]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        let end = text[i + 5..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(text.len(), |p| i + 5 + p);
        if end - start >= 6 {
            return Some(start);
        }
        i = end + 1;
    }
    None
}

/// The first of the first 59 bytes of `block` that starts six ASCII digits
/// in a row.
fn six_digits_in(block: &[u8; 64]) -> Option<usize> {
    const LANES: u64 = u64::from_le_bytes([1; 8]);
    let (words, _) = block.as_chunks::<8>();
    let mut digits = 0u64;
    for (k, word) in words.iter().enumerate() {
        // Digits become 0..=9; a byte's top bit is then clear exactly for them.
        let x = u64::from_le_bytes(*word) ^ (LANES * 0x30);
        let ten_or_more = (x & (LANES * 0x7f)) + LANES * (0x80 - 10);
        let top = !(ten_or_more | x) & (LANES * 0x80);
        // The eight top bits gathered into one byte, bit i for byte i.
        let bits = (top >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        digits |= bits << (8 * k);
    }
    let six = digits & digits >> 1 & digits >> 2 & digits >> 3 & digits >> 4 & digits >> 5;
    let six = six & (u64::MAX >> 5);
    (six != 0).then(|| six.trailing_zeros() as usize)
}

/// A pseudonymous person key is 64 lower-case hex digits (an HMAC-SHA-256).
pub fn is_pseudonym(value: &[u8]) -> bool {
    value.len() == 64 && value.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The pseudonymous key of a CPR number: HMAC-SHA-256 of its ten digits
/// with the secret salt, so that every form of one number gives one key.
pub fn pseudonym(salt: &str, cpr: &[u8]) -> String {
    let digits: Vec<u8> = cpr.iter().copied().filter(u8::is_ascii_digit).collect();
    let digits = ten_digits(&digits).unwrap_or(digits);
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(salt.as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(&digits);
    hex::encode(mac.finalize().into_bytes())
}

/// `value` for an error message, unless a CPR number may stand in it: in
/// one of the forms above, or glued to other digits (a run of nine or more
/// digits, as when a damaged file loses the separator after a CPR number).
/// An error message never needs such a run.
pub fn shown(value: &str) -> String {
    let long_run = value
        .as_bytes()
        .split(|b| !b.is_ascii_digit())
        .any(|run| run.len() >= 9);
    if long_run || contains_cpr(value) {
        "(not shown: it looks like a CPR number)".into()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpr_number_glued_to_other_digits_is_not_shown() {
        // A damaged row lost the `;` between the CPR number and `101`.
        assert!(!contains_cpr("K1;0101901234101;"));
        assert!(shown("K1;0101901234101;").starts_with("(not shown"));
        assert_eq!(shown("Kommune 101"), "Kommune 101");
    }

    #[test]
    fn every_form_is_recognised() {
        for cpr in [
            "0101901234",
            "010190-1234",
            "010190 1234",
            "101901234",
            "070391234",
            "670391-1234",
            "6703911234",
            "311299-0001",
            " 0101901234 ",
        ] {
            assert!(is_cpr(cpr), "{cpr}");
            assert_eq!(find(cpr.as_bytes()).len(), 1, "{cpr}");
        }
        for not in [
            "P-000123",
            "12345",
            "9999999999",
            "0101901234x",
            "01019-01234",
            "4400001234",
            "3213901234",
            "0113901234",
            "2024-05-31",
            "31-05-2024",
            "12345678901",
            "000123456",
        ] {
            assert!(!is_cpr(not), "{not}");
        }
    }

    #[test]
    fn runs_are_found_next_to_anything_but_a_digit() {
        let line = b"1;010190-1234;x;0101901234;2024-05-31;CPR101901234;010190 1234\n";
        let runs: Vec<&[u8]> = find(line).into_iter().map(|r| &line[r]).collect();
        assert_eq!(
            runs,
            [
                &b"010190-1234"[..],
                b"0101901234",
                b"101901234",
                b"010190 1234"
            ]
        );
        assert!(find(b"P-000123;2024-05-31;12345678901;18,5\n").is_empty());
        assert!(find(b"101019012345").is_empty());
        // The skipping scan finds what a scan of every start finds.
        let text = b"K001;010190-1234;101;x;31-05-2024;0101901234\nK002;P1;2412851111;1;18,5;9 101901234\n";
        let slow = at_every_start(text);
        assert_eq!(find(text), slow);
        assert_eq!(slow.len(), 4);
    }

    /// Every CPR number in `text`, found by trying every start and length.
    fn at_every_start(text: &[u8]) -> Vec<Range<usize>> {
        (0..text.len())
            .flat_map(|s| [s + 9, s + 10, s + 11].map(move |e| s..e))
            .filter(|r| r.end <= text.len())
            .filter(|r| r.start == 0 || !text[r.start - 1].is_ascii_digit())
            .filter(|r| r.end == text.len() || !text[r.end].is_ascii_digit())
            .filter(|r| {
                is_cpr(&text[r.clone()])
                    && text[r.start].is_ascii_digit()
                    && text[r.end - 1].is_ascii_digit()
            })
            .collect()
    }

    proptest::proptest! {
        /// The scan that passes over bytes 64 at a time finds what a test
        /// of every start finds, wherever the runs fall against the blocks
        /// and the end of the text.
        #[test]
        fn the_scan_finds_what_every_start_finds(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("[0-9]{1,12}").unwrap(),
                    proptest::string::string_regex("[0-3][0-9][01][0-9]{3}[- ][0-9]{4}").unwrap(),
                    proptest::string::string_regex("[-; x\\n/:\u{e6}]{1,3}").unwrap(),
                ],
                0..24,
            )
        ) {
            let text = pieces.concat();
            proptest::prop_assert_eq!(find(text.as_bytes()), at_every_start(text.as_bytes()));
        }
    }

    #[test]
    fn six_digits_are_found_in_every_lane() {
        for len in 6..140 {
            for at in 0..=len - 6 {
                let mut text = vec![b'x'; len];
                text[at..at + 6].copy_from_slice(b"123456");
                assert_eq!(six_digits_from(&text, 0), Some(at), "{len} {at}");
                text[at + 5] = b'/';
                text[at] = b':';
                assert_eq!(six_digits_from(&text, 0), None, "{len} {at}");
            }
        }
        // Bytes above ASCII are not digits, whatever their low bits.
        assert_eq!(six_digits_from(&[0xb0; 32], 0), None);
        assert_eq!(six_digits_from(b"123456789", 3), Some(3));
        assert_eq!(six_digits_from(b"12345678", 3), None);
    }

    #[test]
    fn one_number_one_key_whatever_its_form() {
        let key = pseudonym("salt", b"0101901234");
        for form in ["010190-1234", "010190 1234", "101901234"] {
            assert_eq!(pseudonym("salt", form.as_bytes()), key, "{form}");
        }
        assert_ne!(pseudonym("other", b"0101901234"), key);
        assert!(is_pseudonym(key.as_bytes()));
        assert_eq!(shown("K1"), "K1");
        assert!(!shown("x 010190-1234").contains("0101"));
    }
}
