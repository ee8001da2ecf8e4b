//! The demo's seeds and numbers, made without the formatting machinery.
//!
//! The demo job generates ~100,000 lines, each from its own seed; through
//! `format!` and `to_string` the seeds and numbers were most of that time.
//! What comes out is byte for byte what `{}` and `{:0width$}` write, and the
//! seeds are those of the parts written out as text (tests below).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::period::Period;

/// The seed of the demo data. Changing it changes every figure.
const SEED: u64 = 20_190_306;

/// The seed of one cell, from text parts: FNV-1a over each part's bytes and
/// an `0xff` after each, so the seed is stable across platforms and Rust
/// versions and independent of the order cells are made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seed(u64);

impl Seed {
    pub(super) fn new() -> Seed {
        Seed(0xcbf2_9ce4_8422_2325 ^ SEED)
    }

    fn bytes(mut self, bytes: &[u8]) -> Seed {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    /// The part `text`.
    pub(super) fn part(self, text: &str) -> Seed {
        self.bytes(text.as_bytes()).bytes(&[0xff])
    }

    /// The part `n` as `{n}` writes it.
    pub(super) fn number(self, n: u64) -> Seed {
        let mut buf = [0; 20];
        self.bytes(decimal(n, &mut buf)).bytes(&[0xff])
    }

    /// The part `period` as its `Display` writes it (`2019Q3`).
    pub(super) fn period(self, period: Period) -> Seed {
        let mut buf = [0; 20];
        let year = decimal(u64::from(period.year()), &mut buf);
        self.bytes(year)
            .bytes(&[b'Q', b'0' + period.quarter() % 10])
            .bytes(&[0xff])
    }

    pub(super) fn rng(self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.0)
    }
}

/// The generator seeded by `parts` ([`Seed`]).
pub(super) fn rng_for(parts: &[&str]) -> ChaCha8Rng {
    parts
        .iter()
        .fold(Seed::new(), |seed, part| seed.part(part))
        .rng()
}

/// `n`'s decimal digits (ASCII), at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[start..]
}

/// `n` at the end of `out`, zero-padded to `width` digits: what
/// `{n:0width$}` writes. The demo's extracts are written as bytes (their
/// text is ASCII but for the names), so a number is one copy of its digits,
/// not a `char` pushed and encoded per digit.
pub(super) fn push_number(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut buf = [0; 20];
    let digits = decimal(n, &mut buf);
    out.resize(out.len() + width.saturating_sub(digits.len()), b'0');
    out.extend_from_slice(digits);
}

/// `n` at the end of `out`: what `{n}` writes.
pub(super) fn push_signed(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_number(out, n.unsigned_abs(), 0);
}

/// `period` at the end of `out`, as its `Display` writes it.
pub(super) fn push_period(out: &mut Vec<u8>, period: Period) {
    push_number(out, u64::from(period.year()), 0);
    out.push(b'Q');
    push_number(out, u64::from(period.quarter()), 0);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn numbers_are_written_as_format_writes_them(n: u64, width in 0usize..24, signed: i64) {
            let mut out = b"x".to_vec();
            push_number(&mut out, n, width);
            prop_assert_eq!(out, format!("x{n:0width$}").into_bytes());
            let mut out = Vec::new();
            push_signed(&mut out, signed);
            prop_assert_eq!(out, signed.to_string().into_bytes());
        }

        #[test]
        fn number_and_period_parts_seed_as_their_text(n: u64, year in Period::FIRST_YEAR..=Period::LAST_YEAR, quarter in 1u8..=4) {
            let period = Period::new(year, quarter).unwrap();
            let made = Seed::new().part("cell").period(period).number(n);
            let written = Seed::new().part("cell").part(&period.to_string()).part(&n.to_string());
            prop_assert_eq!(made, written);
            let mut out = Vec::new();
            push_period(&mut out, period);
            prop_assert_eq!(out, period.to_string().into_bytes());
        }
    }

    /// The seed is FNV-1a as it always was: the demo's figures (and the
    /// letter's pinned table) depend on it.
    #[test]
    fn the_seed_is_fnv_1a_of_the_parts() {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ SEED;
        for byte in "size"
            .bytes()
            .chain([0xff])
            .chain("101".bytes())
            .chain([0xff])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(Seed::new().part("size").part("101"), Seed(hash));
    }
}
