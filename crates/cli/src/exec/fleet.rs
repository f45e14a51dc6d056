//! Many servers at once: one task per server on the command's one runtime, at most
//! [`MAX_CONCURRENT_SERVERS`] at a time, with a progress bar on a terminal. The outputs
//! come back in the servers' order, whatever order they finish in.

use crate::progress::Progress;
use std::future::Future;
use tokio::task::JoinSet;

/// The most servers worked on at once: a connection each, so well within the default
/// descriptor limit (1,024), and enough that a fleet of a hundred hosts is one round.
pub(super) const MAX_CONCURRENT_SERVERS: usize = 128;

/// Runs the future `work` makes for each job, up to [`MAX_CONCURRENT_SERVERS`] at a
/// time; the outputs are in the jobs' order. A panic in a task is a panic here.
pub(super) async fn each<J, T, F>(jobs: &[J], work: impl Fn(&J) -> F) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let progress = Progress::new(jobs.len());
    let mut outs: Vec<Option<T>> = jobs.iter().map(|_| None).collect();
    let mut pending = jobs.iter().enumerate();
    let mut running = JoinSet::new();
    let mut done = 0;
    loop {
        while running.len() < MAX_CONCURRENT_SERVERS {
            let Some((i, job)) = pending.next() else {
                break;
            };
            let task = work(job);
            running.spawn(async move { (i, task.await) });
        }
        let Some(finished) = running.join_next().await else {
            break;
        };
        let (i, out) = finished.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        outs[i] = Some(out);
        done += 1;
        progress.show(done);
    }
    progress.finish();
    outs.into_iter()
        .map(|o| o.expect("every job ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn outputs_keep_the_jobs_order_and_concurrency_is_bounded() {
        let rt = crate::agent_client::runtime().unwrap();
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<u64> = (0..300).collect();
        let outs = rt.block_on(each(&jobs, |&j| {
            let (now, most) = (now.clone(), most.clone());
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                // Later jobs finish first.
                tokio::time::sleep(Duration::from_millis(300 - j)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                j * 2
            }
        }));
        assert_eq!(outs, (0..300).map(|j| j * 2).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), MAX_CONCURRENT_SERVERS);
    }
}
