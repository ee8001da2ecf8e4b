//! Work spread over a thread per core, results kept in order.

use std::sync::{Arc, Mutex};

/// `f` of every item, on a thread per core (each takes the next item when
/// it is free), the results in the items' order. A panic in `f` is resumed
/// here. One item, or one core, runs on the caller's thread.
pub fn map_in_order<T, R, F>(items: Vec<T>, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let threads = threads_for(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let next = || {
        queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .next()
    };
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while let Some((i, item)) = next() {
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// `f` of every index below `count`, on a thread per core (each takes the
/// next index when it is free), each result sent the moment it is ready:
/// the receivers, in order, so that the caller can use the first results
/// while the others are still computed. Once a receiver is dropped its
/// index is skipped; a panic in `f` drops that index's sender (its
/// receiver gets an error) and the other indices go on.
pub fn spawn_in_order<R, F>(count: usize, f: F) -> Vec<tokio::sync::oneshot::Receiver<R>>
where
    R: Send + 'static,
    F: Fn(usize) -> R + Send + Sync + 'static,
{
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..count).map(|_| tokio::sync::oneshot::channel()).unzip();
    let queue = Arc::new(Mutex::new(senders.into_iter().enumerate()));
    let f = Arc::new(f);
    for _ in 0..threads_for(count) {
        let (queue, f) = (Arc::clone(&queue), Arc::clone(&f));
        std::thread::spawn(move || {
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .next();
                let Some((i, sender)) = next else {
                    return;
                };
                if !sender.is_closed() {
                    let _ = sender.send(f(i));
                }
            }
        });
    }
    receivers
}

/// A thread per core, but no more threads than items.
fn threads_for(items: usize) -> usize {
    cores().min(items)
}

/// How many threads run at once here.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_items_order() {
        let items: Vec<u64> = (0..200).collect();
        // Uneven work, so that the threads finish out of order.
        let out = map_in_order(items.clone(), |i| {
            if i % 7 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            i * 3
        });
        assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>());
        assert!(map_in_order(Vec::<u8>::new(), |i| i).is_empty());
        assert_eq!(map_in_order(vec![5], |i| i + 1), [6]);
    }

    #[tokio::test]
    async fn results_are_received_in_order_and_a_panic_is_an_error() {
        let receivers = spawn_in_order(100, |i| {
            assert!(i != 42, "an injected panic");
            if i % 7 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            i * 3
        });
        let mut got = Vec::new();
        for receiver in receivers {
            got.push(receiver.await.ok());
        }
        let expected: Vec<Option<usize>> = (0..100).map(|i| (i != 42).then_some(i * 3)).collect();
        assert_eq!(got, expected);
        assert!(spawn_in_order(0, |i| i).is_empty());
    }
}
