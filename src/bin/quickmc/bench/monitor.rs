//! The run's clock: ends the warm-up, shows a live progress line, and says
//! when the measurement is over.

use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::worker::Shared;
use crate::output::thousands;

/// How often the progress line is redrawn and the clock checked.
const TICK: Duration = Duration::from_millis(200);

/// Watches the run until it is over, then stops the workers; returns how
/// long it measured.
pub fn watch<T>(shared: &Shared, workers: &[JoinHandle<T>], show: bool) -> Duration {
    let bar = progress_bar(show);
    let started = Instant::now();
    let warmup = Duration::from_secs(shared.args.warmup);
    let mut measure_start = shared.measuring.load(Ordering::SeqCst).then_some(started);
    let mut last = (started, 0u64);
    loop {
        std::thread::sleep(TICK);
        let now = Instant::now();
        if measure_start.is_none() && now.duration_since(started) >= warmup {
            shared.measuring.store(true, Ordering::SeqCst);
            measure_start = Some(now);
        }
        let done = shared.progress.load(Ordering::Relaxed);
        let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-9);
        last = (now, done);
        bar.set_message(format!(
            "{} | {} ops/s",
            phase(shared, measure_start, now),
            thousands(rate as u64)
        ));
        bar.tick();
        if is_over(shared, workers, measure_start, now) {
            break;
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    bar.finish_and_clear();
    measure_start.map_or(Duration::ZERO, |m| m.elapsed())
}

fn progress_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// "warming up", or how far the measurement is.
fn phase(shared: &Shared, measure_start: Option<Instant>, now: Instant) -> String {
    let Some(start) = measure_start else {
        return "warming up".to_string();
    };
    match (&shared.budget, shared.args.ops) {
        (Some(budget), Some(total)) => format!(
            "measuring: {} of {} ops",
            thousands(total - budget.load(Ordering::Relaxed)),
            thousands(total)
        ),
        _ => format!(
            "measuring: {:.0}/{} s",
            now.duration_since(start).as_secs_f64(),
            shared.args.duration
        ),
    }
}

/// With --ops, over when every worker has run out of budget; otherwise
/// when --duration has passed since the warm-up ended.
fn is_over<T>(
    shared: &Shared,
    workers: &[JoinHandle<T>],
    measure_start: Option<Instant>,
    now: Instant,
) -> bool {
    match (measure_start, shared.args.ops) {
        (Some(_), Some(_)) => workers.iter().all(|w| w.is_finished()),
        (Some(start), None) => {
            now.duration_since(start) >= Duration::from_secs(shared.args.duration)
        }
        (None, _) => false,
    }
}
