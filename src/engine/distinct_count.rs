//! `COUNT(DISTINCT key)` over a partition that holds every row of its keys.
//!
//! When the rows are split between partitions by a hash of the counted key
//! (see [`super::split_distinct`]), no key is counted in two partitions, so
//! each partition's count of distinct keys per group is final and the counts
//! of a group are summed. [`PartitionedDistinctCount`] is that aggregate: its
//! state is a count (DataFusion's `COUNT(DISTINCT)` sends every distinct
//! value to the final step and hashes them all again there), and it keeps
//! one table of the (group, key) pairs it has seen instead of a set per
//! group, so a batch is not cut into one piece per group first. The table is
//! split in parts by the pairs' hashes and looked up a part at a time, so
//! that millions of keys do not make every look-up a miss to memory.
//!
//! Its state is only right for rows split that way, and only once the
//! partial step has seen all its rows. A partial step that gave up grouping
//! (`convert_to_state`) or emitted some groups early for want of memory
//! would count a key seen again twice, so both are refused with an error.
//! The rule applies it only where DataFusion does not give up grouping
//! (grouping sets, which it makes of a plain `GROUP BY`, or no groups);
//! praktik's sessions have no memory limit, so the second does not arise.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayData, ArrayRef, AsArray, BooleanArray, Int64Array};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, internal_err, resources_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// `COUNT(DISTINCT key)` whose partial counts are summed (see the module).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PartitionedDistinctCount {
    signature: Signature,
}

impl PartitionedDistinctCount {
    pub fn new() -> PartitionedDistinctCount {
        PartitionedDistinctCount {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// Whether keys of `data_type` are compared by their bytes exactly as
    /// SQL compares them (so not floats: -0.0 = 0.0).
    pub fn counts(data_type: &DataType) -> bool {
        use DataType::*;
        data_type.is_integer()
            || matches!(
                data_type,
                Utf8 | LargeUtf8
                    | Utf8View
                    | Binary
                    | LargeBinary
                    | BinaryView
                    | Date32
                    | Date64
                    | Decimal128(..)
            )
    }
}

impl AggregateUDFImpl for PartitionedDistinctCount {
    fn name(&self) -> &str {
        "count_distinct_in_partition"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    /// As `COUNT`: never null, so the rule's output has the same schema.
    fn is_nullable(&self) -> bool {
        false
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "distinct in partition"),
            DataType::Int64,
            false,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneGroup(DistinctCounts::new(args)?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(DistinctCounts::new(args)?))
    }
}

/// The distinct keys seen per group, and their number.
#[derive(Debug)]
struct DistinctCounts {
    seen: SeenKeys,
    /// Per group: its distinct keys, plus the counts merged into it.
    counts: Vec<i64>,
}

impl DistinctCounts {
    fn new(args: AccumulatorArgs) -> Result<DistinctCounts> {
        let [field] = args.expr_fields else {
            return internal_err!("count_distinct_in_partition takes one argument");
        };
        if !PartitionedDistinctCount::counts(field.data_type()) {
            return internal_err!(
                "count_distinct_in_partition cannot count {}",
                field.data_type()
            );
        }
        Ok(DistinctCounts {
            seen: SeenKeys::default(),
            counts: Vec::new(),
        })
    }

    fn count(
        &mut self,
        values: &[ArrayRef],
        group_of: impl Fn(usize) -> usize,
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        let [values] = values else {
            return internal_err!("count_distinct_in_partition takes one argument");
        };
        let keys = Keys::of(values)?;
        for row in 0..values.len() {
            if filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            if let Some(key) = keys.get(row) {
                self.seen.note(group_of(row), key, &mut self.counts)?;
            }
        }
        Ok(())
    }

    fn merge(&mut self, states: &[ArrayRef], group_of: impl Fn(usize) -> usize) -> Result<()> {
        let [counts] = states else {
            return internal_err!("count_distinct_in_partition has one state");
        };
        let Some(counts) = counts.as_primitive_opt::<arrow::datatypes::Int64Type>() else {
            return internal_err!("count_distinct_in_partition's state is a count");
        };
        for (row, count) in counts.iter().enumerate() {
            self.counts[group_of(row)] += count.unwrap_or(0);
        }
        Ok(())
    }
}

impl GroupsAccumulator for DistinctCounts {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.counts.resize(total_num_groups, 0);
        self.count(values, |row| group_indices[row], opt_filter)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.seen.settle(&mut self.counts)?;
        let counts = emit_to.take_needed(&mut self.counts);
        self.seen.forget(emit_to)?;
        Ok(Arc::new(Int64Array::from(counts)))
    }

    /// A partial step emits only some of its groups' states when it runs
    /// out of memory (its input is in no order, so no group is complete),
    /// and a key seen again after that would be counted twice: refuse.
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        if matches!(emit_to, EmitTo::First(_)) && !self.seen.is_empty() {
            return resources_err!(
                "COUNT(DISTINCT) ran out of memory before it had seen every row; \
                 give the query more memory"
            );
        }
        Ok(vec![self.evaluate(emit_to)?])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.counts.resize(total_num_groups, 0);
        self.merge(values, |row| group_indices[row])
    }

    /// A row's own state would be a count of 1 that the final step cannot
    /// tell from another partition's count of the same key: refuse, so a
    /// partial step that gives up grouping fails instead of counting a key
    /// twice (the rule applies this count only where it does not give up).
    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        internal_err!("count_distinct_in_partition has no state per row")
    }

    fn size(&self) -> usize {
        self.seen.size() + self.counts.capacity() * size_of::<i64>()
    }
}

/// The aggregate without groups (`SELECT COUNT(DISTINCT person_key) FROM …`).
#[derive(Debug)]
struct OneGroup(DistinctCounts);

impl OneGroup {
    fn total(&mut self) -> Result<i64> {
        self.0.counts.resize(1, 0);
        self.0.seen.settle(&mut self.0.counts)?;
        Ok(self.0.counts[0])
    }
}

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.counts.resize(1, 0);
        self.0.count(values, |_| 0, None)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.total()?)))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.counts.resize(1, 0);
        self.0.merge(states, |_| 0)
    }
}

/// The keys of one argument column, as the bytes they are compared by.
enum Keys<'a> {
    Utf8(&'a arrow::array::StringArray),
    LargeUtf8(&'a arrow::array::LargeStringArray),
    Utf8View(&'a arrow::array::StringViewArray),
    Binary(&'a arrow::array::BinaryArray),
    LargeBinary(&'a arrow::array::LargeBinaryArray),
    BinaryView(&'a arrow::array::BinaryViewArray),
    /// Integers, dates and decimals: each value's bytes in the values buffer.
    Fixed {
        data: ArrayData,
        width: usize,
    },
}

impl<'a> Keys<'a> {
    fn of(array: &'a ArrayRef) -> Result<Keys<'a>> {
        Ok(match array.data_type() {
            DataType::Utf8 => Keys::Utf8(array.as_string()),
            DataType::LargeUtf8 => Keys::LargeUtf8(array.as_string()),
            DataType::Utf8View => Keys::Utf8View(array.as_string_view()),
            DataType::Binary => Keys::Binary(array.as_binary()),
            DataType::LargeBinary => Keys::LargeBinary(array.as_binary()),
            DataType::BinaryView => Keys::BinaryView(array.as_binary_view()),
            other => match other.primitive_width() {
                Some(width) if PartitionedDistinctCount::counts(other) => Keys::Fixed {
                    data: array.to_data(),
                    width,
                },
                _ => return internal_err!("count_distinct_in_partition cannot count {other}"),
            },
        })
    }

    /// The key of `row`; none when it is null.
    fn get(&self, row: usize) -> Option<&[u8]> {
        match self {
            Keys::Utf8(a) => a.is_valid(row).then(|| a.value(row).as_bytes()),
            Keys::LargeUtf8(a) => a.is_valid(row).then(|| a.value(row).as_bytes()),
            Keys::Utf8View(a) => a.is_valid(row).then(|| a.value(row).as_bytes()),
            Keys::Binary(a) => a.is_valid(row).then(|| a.value(row)),
            Keys::LargeBinary(a) => a.is_valid(row).then(|| a.value(row)),
            Keys::BinaryView(a) => a.is_valid(row).then(|| a.value(row)),
            Keys::Fixed { data, width } => data.is_valid(row).then(|| {
                let start = (data.offset() + row) * width;
                &data.buffers()[0].as_slice()[start..start + width]
            }),
        }
    }
}

/// The (group, key) pairs seen, split into [`PARTS`] parts by bits of the
/// pair's hash. A pair is first only noted in its part (appended, no
/// look-up); the noted pairs are looked up a part at a time once there are
/// as many of them as pairs stored (and at least [`SETTLE_AT_LEAST`]), so
/// the look-ups of a part go to a table small enough to stay in the
/// processor's cache. One table for every key would not: with millions of
/// people every look-up was a miss to memory (DuckDB partitions its
/// aggregates' hash tables the same way).
#[derive(Debug)]
struct SeenKeys {
    parts: Vec<Part>,
    /// Pairs noted and not yet looked up, and pairs stored.
    noted: usize,
    stored: usize,
    settle_at_least: usize,
    hasher: ahash::RandomState,
}

/// Parts of [`SeenKeys`]: at 10 million pairs a part's table is ~2 MiB.
const PARTS: usize = 256;

/// Noted pairs wait for at least this many before they are looked up.
const SETTLE_AT_LEAST: usize = 64 * 1024;

impl Default for SeenKeys {
    fn default() -> SeenKeys {
        SeenKeys::settling_at(SETTLE_AT_LEAST)
    }
}

impl SeenKeys {
    fn settling_at(settle_at_least: usize) -> SeenKeys {
        SeenKeys {
            parts: (0..PARTS).map(|_| Part::default()).collect(),
            noted: 0,
            stored: 0,
            settle_at_least,
            hasher: ahash::RandomState::new(),
        }
    }

    /// Notes `key` in `group`; [`SeenKeys::settle`] counts it if it is new.
    fn note(&mut self, group: usize, key: &[u8], counts: &mut [i64]) -> Result<()> {
        let hash = self.hasher.hash_one((group, key));
        self.note_hashed(hash, group, key, counts)
    }

    /// As [`SeenKeys::note`], given the pair's hash.
    fn note_hashed(
        &mut self,
        hash: u64,
        group: usize,
        key: &[u8],
        counts: &mut [i64],
    ) -> Result<()> {
        let Ok(group) = u32::try_from(group) else {
            return resources_err!("COUNT(DISTINCT) over more than 4 billion groups");
        };
        // Bits the part's hash map does not use to place a pair (the low
        // ones) or to tell pairs apart in a probe (the top seven).
        let part = &mut self.parts[(hash >> 40) as usize % PARTS];
        part.bytes_noted.extend_from_slice(key);
        let Ok(end) = u32::try_from(part.bytes_noted.len()) else {
            return resources_err!("COUNT(DISTINCT) over more than 4 GiB of keys at once");
        };
        part.noted.push(Noted { hash, group, end });
        self.noted += 1;
        if self.noted >= self.stored.max(self.settle_at_least) {
            self.settle(counts)?;
        }
        Ok(())
    }

    /// Looks the noted pairs up, a part at a time, and counts each new one
    /// in its group.
    fn settle(&mut self, counts: &mut [i64]) -> Result<()> {
        for part in &mut self.parts {
            let mut start = 0;
            for noted in &part.noted {
                let end = noted.end as usize;
                let key = &part.bytes_noted[start..end];
                start = end;
                if part.stored.insert(noted.hash, noted.group, key)? {
                    let Some(count) = counts.get_mut(noted.group as usize) else {
                        return internal_err!("COUNT(DISTINCT) of a group it was not given");
                    };
                    *count += 1;
                    self.stored += 1;
                }
            }
            part.noted.clear();
            part.bytes_noted.clear();
        }
        self.noted = 0;
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.noted == 0 && self.stored == 0
    }

    /// Drops the groups `emit_to` emits, once every noted pair is counted
    /// (the caller settles first); the rest are numbered from 0 again.
    fn forget(&mut self, emit_to: EmitTo) -> Result<()> {
        let kept = SeenKeys::settling_at(self.settle_at_least);
        let old = std::mem::replace(self, kept);
        if let EmitTo::First(n) = emit_to {
            // Each pair is stored once, so none is new again: the counts
            // it gives are its groups' (already counted) and thrown away.
            let mut recount = Vec::new();
            for part in &old.parts {
                for at in 0..part.stored.pairs.len() {
                    let group = part.stored.pairs[at].group as usize;
                    if let Some(group) = group.checked_sub(n) {
                        if recount.len() <= group {
                            recount.resize(group + 1, 0);
                        }
                        self.note(group, part.stored.key(at), &mut recount)?;
                    }
                }
            }
            self.settle(&mut recount)?;
        }
        Ok(())
    }

    fn size(&self) -> usize {
        self.parts.iter().map(Part::size).sum::<usize>() + self.parts.capacity() * size_of::<Part>()
    }
}

/// One part of [`SeenKeys`]: the pairs stored and those noted since.
#[derive(Debug, Default)]
struct Part {
    stored: Stored,
    noted: Vec<Noted>,
    /// The noted pairs' keys, one after another.
    bytes_noted: Vec<u8>,
}

impl Part {
    fn size(&self) -> usize {
        self.stored.size()
            + self.noted.capacity() * size_of::<Noted>()
            + self.bytes_noted.capacity()
    }
}

#[derive(Debug)]
struct Noted {
    hash: u64,
    group: u32,
    /// Where its key ends in `bytes_noted` (it starts where the last ended).
    end: u32,
}

/// Pairs in a table: the keys' bytes one after another, and a hash map from
/// a pair's hash to the first pair with it (pairs whose hashes collide are
/// chained).
#[derive(Debug, Default)]
struct Stored {
    first: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    /// In the order stored: a pair's key ends where the next one's starts.
    pairs: Vec<Pair>,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct Pair {
    start: usize,
    group: u32,
    /// The next pair with the same hash; `NONE`: the last.
    next: u32,
}

const NONE: u32 = u32::MAX;

impl Stored {
    /// Stores the pair unless it is there; whether it was new.
    fn insert(&mut self, hash: u64, group: u32, key: &[u8]) -> Result<bool> {
        let new = match u32::try_from(self.pairs.len()) {
            Ok(new) if new != NONE => new,
            _ => return resources_err!("COUNT(DISTINCT) over more than 4 billion keys"),
        };
        let first = *self.first.entry(hash).or_insert(new);
        if first != new {
            let mut at = first;
            while at != NONE {
                let pair = &self.pairs[at as usize];
                if pair.group == group && self.key(at as usize) == key {
                    return Ok(false);
                }
                at = pair.next;
            }
            self.first.insert(hash, new);
        }
        self.pairs.push(Pair {
            start: self.bytes.len(),
            group,
            next: if first == new { NONE } else { first },
        });
        self.bytes.extend_from_slice(key);
        Ok(true)
    }

    /// The key of the `at`th pair.
    fn key(&self, at: usize) -> &[u8] {
        let end = self.pairs.get(at + 1).map_or(self.bytes.len(), |p| p.start);
        &self.bytes[self.pairs[at].start..end]
    }

    fn size(&self) -> usize {
        self.first.capacity() * (size_of::<(u64, u32)>() + 1)
            + self.pairs.capacity() * size_of::<Pair>()
            + self.bytes.capacity()
    }
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with it; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair below gets the same hash, so all are in one part and one
    /// chain; looked up all at once, and as each is noted.
    #[test]
    fn tells_keys_apart_when_their_hashes_collide() {
        for settle_at in [1, 1000] {
            let mut seen = SeenKeys::settling_at(settle_at);
            let mut counts = vec![0; 2];
            for (group, key) in [
                (0, "a"),
                (0, "b"),
                (1, "a"),
                (0, "a"),
                (0, "b"),
                (1, "b"),
                (1, "a"),
                (0, ""),
                (0, ""),
            ] {
                seen.note_hashed(7, group, key.as_bytes(), &mut counts)
                    .expect("note");
            }
            seen.settle(&mut counts).expect("settle");
            assert_eq!(counts, [3, 2], "settling at {settle_at}");
            assert_eq!(seen.stored, 5);
            let part = &seen.parts[(7 >> 40) % PARTS];
            assert_eq!(part.stored.first.len(), 1);
            assert_eq!(part.stored.pairs.len(), 5);
        }
    }

    #[test]
    fn refuses_to_emit_some_groups_before_the_end() {
        let schema = arrow::datatypes::Schema::new(vec![Field::new("k", DataType::Utf8, true)]);
        let field = Arc::new(schema.field(0).clone());
        let return_field = Arc::new(Field::new("n", DataType::Int64, false));
        let args = AccumulatorArgs {
            return_field,
            schema: &schema,
            expr_fields: std::slice::from_ref(&field),
            ignore_nulls: false,
            order_bys: &[],
            is_reversed: false,
            name: "n",
            is_distinct: false,
            exprs: &[],
        };
        let mut counts = DistinctCounts::new(args).expect("accumulator");
        let keys: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["a", "b", "a"]));
        counts
            .update_batch(&[keys], &[0, 1, 1], None, 2)
            .expect("update");
        let refused = counts.state(EmitTo::First(1)).expect_err("refused");
        assert!(
            refused.to_string().contains("ran out of memory"),
            "{refused}"
        );
        let all = counts.state(EmitTo::All).expect("state");
        assert_eq!(
            all[0]
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values(),
            &[1, 2]
        );
    }

    #[test]
    fn renumbers_the_groups_left_after_emitting_the_first() {
        let mut seen = SeenKeys::settling_at(5);
        let mut counts = vec![0; 4];
        for group in 0..4 {
            for key in ["x", "yy", "zzz"] {
                seen.note(group, key.as_bytes(), &mut counts).expect("note");
            }
        }
        seen.settle(&mut counts).expect("settle");
        assert_eq!(counts, [3, 3, 3, 3]);
        seen.forget(EmitTo::First(2)).expect("forget");
        assert_eq!(seen.stored, 6);
        let mut counts = vec![0; 3];
        for group in 0..2 {
            for key in ["x", "yy", "zzz"] {
                seen.note(group, key.as_bytes(), &mut counts).expect("note");
            }
        }
        seen.note(2, b"x", &mut counts).expect("note");
        seen.settle(&mut counts).expect("settle");
        assert_eq!(counts, [0, 0, 1], "only the pair not seen before is new");
        seen.forget(EmitTo::All).expect("forget");
        assert!(seen.is_empty());
        assert!(seen.parts.iter().all(|p| p.stored.pairs.is_empty()));
    }

    proptest::proptest! {
        /// Whenever the noted pairs are looked up, each group's count is
        /// the number of distinct keys noted in it.
        #[test]
        fn counts_each_groups_distinct_keys(
            pairs in proptest::collection::vec(
                (0usize..5, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3)),
                0..400,
            ),
            settle_at in 1usize..64,
        ) {
            let mut seen = SeenKeys::settling_at(settle_at);
            let mut counts = vec![0; 5];
            let mut expected = vec![std::collections::HashSet::new(); 5];
            for (group, key) in &pairs {
                seen.note(*group, key, &mut counts).expect("note");
                expected[*group].insert(key.clone());
            }
            seen.settle(&mut counts).expect("settle");
            let expected: Vec<i64> = expected.iter().map(|keys| keys.len() as i64).collect();
            proptest::prop_assert_eq!(counts, expected);
        }
    }
}
