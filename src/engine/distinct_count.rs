//! `COUNT(DISTINCT key)` over a partition that holds every row of its keys.
//!
//! When the rows are split between partitions by a hash of the counted key
//! (see [`super::split_distinct`]), no key is counted in two partitions, so
//! each partition's count of distinct keys per group is final and the counts
//! of a group are summed. [`PartitionedDistinctCount`] is that aggregate: its
//! state is a count (DataFusion's `COUNT(DISTINCT)` sends every distinct
//! value to the final step and hashes them all again there), and it keeps
//! one table of the (group, key) pairs it has seen instead of a set per
//! group, so a batch is not cut into one piece per group first.
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
                let group = group_of(row);
                if self.seen.insert(group, key)? {
                    self.counts[group] += 1;
                }
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
        let counts = emit_to.take_needed(&mut self.counts);
        self.seen.forget(emit_to)?;
        Ok(Arc::new(Int64Array::from(counts)))
    }

    /// A partial step emits only some of its groups' states when it runs
    /// out of memory (its input is in no order, so no group is complete),
    /// and a key seen again after that would be counted twice: refuse.
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        if matches!(emit_to, EmitTo::First(_)) && !self.seen.pairs.is_empty() {
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
    fn total(&self) -> i64 {
        self.0.counts.first().copied().unwrap_or(0)
    }
}

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.counts.resize(1, 0);
        self.0.count(values, |_| 0, None)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.total())))
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

/// The (group, key) pairs seen, in one table: the keys' bytes one after
/// another, and a hash map from a pair's hash to the first pair with it
/// (pairs whose hashes collide are chained).
#[derive(Debug, Default)]
struct SeenKeys {
    first: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    /// In the order seen: a pair's key ends where the next one's starts.
    pairs: Vec<Pair>,
    bytes: Vec<u8>,
    hasher: ahash::RandomState,
}

#[derive(Debug)]
struct Pair {
    start: usize,
    group: u32,
    /// The next pair with the same hash; `NONE`: the last.
    next: u32,
}

const NONE: u32 = u32::MAX;

impl SeenKeys {
    /// Records `key` in `group`; whether it is new there.
    fn insert(&mut self, group: usize, key: &[u8]) -> Result<bool> {
        let hash = self.hasher.hash_one((group, key));
        self.insert_hashed(hash, group, key)
    }

    /// As [`SeenKeys::insert`], given the pair's hash.
    fn insert_hashed(&mut self, hash: u64, group: usize, key: &[u8]) -> Result<bool> {
        let (Ok(group), Ok(new)) = (u32::try_from(group), u32::try_from(self.pairs.len())) else {
            return resources_err!("COUNT(DISTINCT) over more than 4 billion groups or keys");
        };
        if new == NONE {
            return resources_err!("COUNT(DISTINCT) over more than 4 billion keys");
        }
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

    /// Drops the groups `emit_to` emits; the rest are numbered from 0 again.
    fn forget(&mut self, emit_to: EmitTo) -> Result<()> {
        match emit_to {
            EmitTo::All => *self = SeenKeys::default(),
            EmitTo::First(n) => {
                let old = std::mem::take(self);
                self.hasher = old.hasher.clone();
                for (at, pair) in old.pairs.iter().enumerate() {
                    if let Some(group) = (pair.group as usize).checked_sub(n) {
                        self.insert(group, old.key(at))?;
                    }
                }
            }
        }
        Ok(())
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

    #[test]
    fn tells_keys_apart_when_their_hashes_collide() {
        let mut seen = SeenKeys::default();
        for (group, key, new) in [
            (0, "a", true),
            (0, "b", true),
            (1, "a", true),
            (0, "a", false),
            (0, "b", false),
            (1, "b", true),
            (1, "a", false),
            (0, "", true),
            (0, "", false),
        ] {
            // Every pair with the same hash: all in one chain.
            assert_eq!(
                seen.insert_hashed(7, group, key.as_bytes())
                    .expect("insert"),
                new,
                "{group} {key}"
            );
        }
        assert_eq!(seen.first.len(), 1);
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
        let mut seen = SeenKeys::default();
        for group in 0..4 {
            for key in ["x", "yy", "zzz"] {
                assert!(seen.insert(group, key.as_bytes()).expect("insert"));
            }
        }
        seen.forget(EmitTo::First(2)).expect("forget");
        assert_eq!(seen.pairs.len(), 6);
        for group in 0..2 {
            for key in ["x", "yy", "zzz"] {
                assert!(
                    !seen.insert(group, key.as_bytes()).expect("insert"),
                    "{group} {key}"
                );
            }
        }
        assert!(seen.insert(2, b"x").expect("insert"));
        seen.forget(EmitTo::All).expect("forget");
        assert!(seen.pairs.is_empty() && seen.bytes.is_empty());
    }
}
