//! Fixed-shape chunking for multi-row statements.
//!
//! A batch of any size is cut into statements of only a few row counts, so a
//! server keeps a handful of prepared statements per table instead of one per
//! batch size, and no statement exceeds a bind-parameter limit.

/// Row counts for journal appends (events, orders, snapshots) and small
/// timetable writes: at most 64 rows × 6 columns per statement. Powers of
/// two, so a batch of n rows takes popcount(n) statements (at most 6 below
/// 64), where 64/16/4/1 took up to 9; seven prepared statements per table.
pub(crate) const ROW_SHAPES: &[usize] = &[64, 32, 16, 8, 4, 2, 1];

/// Row counts for bulk loads such as opening 210,000 train-dates: fewer round
/// trips, still only 256 × 5 = 1,280 parameters per statement.
pub(crate) const BULK_SHAPES: &[usize] = &[256, 64, 16, 4, 1];

/// Splits `items` greedily into chunks whose lengths are all in `shapes`
/// (descending, ending in 1).
pub(crate) fn fixed_chunks<'a, T>(items: &'a [T], shapes: &'static [usize]) -> impl Iterator<Item = &'a [T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = shapes.iter().copied().find(|&shape| shape <= rest.len()).expect("shapes end in 1");
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// Splits `items` into chunks of the largest shape, each padded with copies of
/// its last item up to the smallest shape that holds it. For `IN (...)` lists,
/// where repeats are harmless and one query beats several.
pub(crate) fn padded_chunks<'a, T>(items: &'a [T], shapes: &'static [usize]) -> impl Iterator<Item = Vec<&'a T>> {
    let largest = shapes[0];
    items.chunks(largest).map(move |chunk| {
        let size = shapes.iter().copied().filter(|&shape| shape >= chunk.len()).min().unwrap_or(largest);
        let last = chunk.last().expect("chunks are never empty");
        chunk.iter().chain(std::iter::repeat_n(last, size - chunk.len())).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(count: usize, shapes: &'static [usize]) -> Vec<usize> {
        let items: Vec<usize> = (0..count).collect();
        let chunks: Vec<&[usize]> = fixed_chunks(&items, shapes).collect();
        assert_eq!(chunks.concat(), items, "chunks cover every item once, in order");
        chunks.iter().map(|chunk| chunk.len()).collect()
    }

    #[test]
    fn greedy_chunks_use_only_the_given_shapes() {
        assert_eq!(sizes(0, ROW_SHAPES), Vec::<usize>::new());
        assert_eq!(sizes(1, ROW_SHAPES), [1]);
        assert_eq!(sizes(17, ROW_SHAPES), [16, 1]);
        assert_eq!(sizes(150, ROW_SHAPES), [64, 64, 16, 4, 2]);
        assert_eq!(sizes(63, ROW_SHAPES), [32, 16, 8, 4, 2, 1]);
        assert_eq!(sizes(600, BULK_SHAPES), [256, 256, 64, 16, 4, 4]);
        for count in 0..1_000 {
            assert!(sizes(count, BULK_SHAPES).iter().all(|size| BULK_SHAPES.contains(size)));
        }
    }

    #[test]
    fn padded_chunks_round_up_with_the_last_item() {
        let items: Vec<u32> = (0..70).collect();
        let chunks: Vec<Vec<&u32>> = padded_chunks(&items, ROW_SHAPES).collect();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [64, 8]);
        assert_eq!(*chunks[1][5], 69);
        assert_eq!(*chunks[1][7], 69);
        let three: Vec<Vec<&u32>> = padded_chunks(&items[..3], ROW_SHAPES).collect();
        assert_eq!(three, [vec![&0, &1, &2, &2]]);
    }
}
