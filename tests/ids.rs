//! Checkpoint ids sort in creation order, as strings, even when made in a
//! tight loop or on several threads at once.

use std::collections::HashSet;
use std::thread;

use checkpointer::new_checkpoint_id;

/// Steps -1 to 3 in turn: the step lives in the clock sequence, after the
/// timestamp, so it must not disturb the order.
fn step(i: usize) -> i64 {
    i64::try_from(i % 5).expect("small") - 1
}

fn assert_strictly_increasing(ids: &[String], who: &str) {
    for (i, pair) in ids.windows(2).enumerate() {
        assert!(
            pair[0] < pair[1],
            "{who}: id #{} {} is not less than id #{} {}",
            i,
            pair[0],
            i + 1,
            pair[1]
        );
    }
}

#[test]
fn tight_loop_ids_strictly_increase() {
    let ids: Vec<String> = (0..100_000).map(|i| new_checkpoint_id(step(i))).collect();
    assert_eq!(ids.len(), 100_000);
    assert!(ids.iter().all(|id| id.len() == 36), "hyphenated uuids");
    assert_strictly_increasing(&ids, "tight loop");
}

#[test]
fn ids_from_four_threads_are_unique_and_ordered_per_thread() {
    const PER_THREAD: usize = 50_000;
    let handles: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(|| {
                (0..PER_THREAD)
                    .map(|i| new_checkpoint_id(step(i)))
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let per_thread: Vec<Vec<String>> = handles
        .into_iter()
        .map(|h| h.join().expect("id thread panicked"))
        .collect();

    let mut all = HashSet::new();
    for (t, ids) in per_thread.iter().enumerate() {
        assert_eq!(ids.len(), PER_THREAD);
        assert_strictly_increasing(ids, &format!("thread {t}"));
        all.extend(ids.iter().cloned());
    }
    assert_eq!(all.len(), 4 * PER_THREAD, "every id is unique");
}

#[test]
fn ids_carry_the_step_and_sort_by_time_not_step() {
    let late_small_step = {
        let early = new_checkpoint_id(5);
        let late = new_checkpoint_id(0);
        assert!(early < late, "a later id sorts after, whatever the step");
        late
    };
    assert_eq!(&late_small_step[19..23], "8000");
    assert_eq!(&new_checkpoint_id(-1)[19..23], "bfff");
    assert_eq!(&new_checkpoint_id(3)[14..15], "6", "version 6");
}
