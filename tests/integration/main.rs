//! One integration test binary: the real `praktik` binary in fresh temporary
//! folders, the letter against reviewed snapshots, the `sql/` files against
//! sqllogictest files, and an independent reader against our store.

mod analyst;
mod bad_extracts;
mod briefing;
mod bucket;
mod cli;
mod crosscheck;
pub mod distributed;
mod durability;
mod internships;
mod jobindsats;
mod letter;
mod privacy;
mod properties;
mod shell;
mod slt;
mod support;
