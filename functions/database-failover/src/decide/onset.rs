//! The failure's onset, and the replica lag judged as of it.
//!
//! - **Evidence.** The trigger's time is evidence of the failure: the RDS event's time, the alarm's state change,
//!   a command's "now". So is the moment a replica's replication broke, read off its lag series: the first -1
//!   (MySQL: replication cannot connect) after a value of 0 or more, or the start of unbroken growth with the
//!   clock (PostgreSQL: nothing arrives, the lag grows as time passes) after normal values.
//! - **The window.** A break counts only within `ONSET_WINDOW_MINUTES` before the trigger. A replica whose
//!   replication broke earlier was already broken: it is judged as it was then (ineligible), and moves nothing.
//! - **One onset.** The earliest evidence, one time for all replicas of the primary.
//! - **Datapoints.** Lag is judged from the datapoints whose whole period ends at or before the onset (a one-minute
//!   `Maximum` labelled just before the failure also covers the seconds after it, when a -1 may be written), within
//!   [`LAG_LOOK_BACK_SECS`]. The newest must end at most [`FRESH_PERIODS`] periods before the onset; otherwise the
//!   lag is unknown.

use crate::model::{LagPoint, LAG_LOOK_BACK_SECS};

/// The period of the lag datapoints read (`GetMetricData`, `Maximum` per minute), in seconds.
pub const PERIOD_SECS: i64 = 60;
/// How many periods before the onset the newest datapoint judged may end.
pub const FRESH_PERIODS: i64 = 2;
/// Growing datapoints, after the last normal one, that make a break (one could be a burst of load).
const GROWTH_STEPS: usize = 2;

/// The onset: the earliest replication break among `series` within `window_secs` before `trigger_at`, else
/// `trigger_at`.
pub fn earliest<'a>(trigger_at: i64, window_secs: i64, series: impl IntoIterator<Item = &'a [LagPoint]>) -> i64 {
    series
        .into_iter()
        .filter_map(|points| break_at(points, trigger_at))
        .filter(|at| *at >= trigger_at - window_secs)
        .fold(trigger_at, i64::min)
}

/// When replication broke in `points` up to `trigger_at`: the label of the first datapoint of the final run of
/// -1s, or of growth with the clock, when a normal datapoint precedes that run. `None` when the series ends
/// normal, or shows no normal value before its broken run (no evidence that it ever ran).
fn break_at(points: &[LagPoint], trigger_at: i64) -> Option<i64> {
    let mut sorted: Vec<LagPoint> = points.iter().copied().filter(|p| p.at <= trigger_at).collect();
    sorted.sort_by_key(|p| p.at);
    let last = sorted.len().checked_sub(1)?;
    let mut first = last;
    if sorted[last].value < 0.0 {
        while first > 0 && sorted[first - 1].value < 0.0 {
            first -= 1;
        }
        return (first > 0).then(|| sorted[first].at);
    }
    while first > 0 && grows(sorted[first - 1], sorted[first]) {
        first -= 1;
    }
    // `first` is the last normal datapoint; the growth run follows it.
    (last - first >= GROWTH_STEPS).then(|| sorted[first + 1].at)
}

/// `b` is `a` plus at least half the time between them: the lag grows with the clock.
fn grows(a: LagPoint, b: LagPoint) -> bool {
    a.value >= 0.0 && b.value - a.value >= (b.at - a.at) as f64 / 2.0
}

/// A replica's lag as of the onset: the datapoints whose period ends at or before it, within the look-back,
/// newest first, and the newest one's label. Unknown (nothing) when the newest ends more than
/// [`FRESH_PERIODS`] periods before the onset.
pub fn lag_as_of(points: &[LagPoint], onset: i64) -> (Vec<f64>, Option<i64>) {
    let ends_before = |p: &LagPoint| p.at + PERIOD_SECS <= onset && onset - (p.at + PERIOD_SECS) <= LAG_LOOK_BACK_SECS;
    let mut before: Vec<LagPoint> = points.iter().copied().filter(ends_before).collect();
    before.sort_by_key(|p| std::cmp::Reverse(p.at));
    match before.first() {
        Some(newest) if onset - (newest.at + PERIOD_SECS) <= FRESH_PERIODS * PERIOD_SECS => {
            (before.iter().map(|p| p.value).collect(), Some(newest.at))
        }
        _ => (Vec::new(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_714_557_900; // the trigger, a whole minute
    const WINDOW: i64 = 15 * 60;

    /// A datapoint labelled `ago` seconds before the trigger.
    fn p(ago: i64, value: f64) -> LagPoint {
        LagPoint { at: T - ago, value }
    }

    #[test]
    fn a_mysql_replica_breaks_at_its_first_minus_one_after_normal_values() {
        let mysql = [p(300, 1.0), p(240, 0.5), p(180, -1.0), p(120, -1.0), p(60, -1.0)];
        assert_eq!(earliest(T, WINDOW, [&mysql[..]]), T - 180);
        // Judged as of then: the minute before the break, in sync.
        assert_eq!(lag_as_of(&mysql, T - 180), (vec![0.5, 1.0], Some(T - 240)));
    }

    #[test]
    fn a_postgresql_replica_breaks_where_its_lag_starts_growing_with_the_clock() {
        let pg = [p(300, 2.0), p(240, 1.0), p(180, 61.0), p(120, 121.0), p(60, 181.0)];
        assert_eq!(earliest(T, WINDOW, [&pg[..]]), T - 180);
        assert_eq!(lag_as_of(&pg, T - 180).0, vec![1.0, 2.0]);
        // One grown datapoint is not yet a break (a burst of load).
        let burst = [p(180, 1.0), p(120, 1.0), p(60, 61.0)];
        assert_eq!(earliest(T, WINDOW, [&burst[..]]), T);
    }

    #[test]
    fn the_onset_is_the_earliest_break_within_the_window_for_all_replicas() {
        let a = [p(400, 1.0), p(340, -1.0), p(60, -1.0)];
        let b = [p(300, 1.0), p(240, -1.0)];
        let healthy = [p(120, 1.0), p(60, 0.0)];
        assert_eq!(earliest(T, WINDOW, [&a[..], &b[..], &healthy[..]]), T - 340);
        // A break before the window was an older failure: the trigger is the onset, and that replica is judged
        // as of it (-1: not replicating).
        let old = [p(1200, 1.0), p(1140, -1.0), p(60, -1.0)];
        assert_eq!(earliest(T, WINDOW, [&old[..], &healthy[..]]), T);
        assert_eq!(lag_as_of(&old, T).0, vec![-1.0]);
        // Broken from its first datapoint: no evidence it ran, no onset.
        let never = [p(240, -1.0), p(180, -1.0)];
        assert_eq!(earliest(T, WINDOW, [&never[..]]), T);
        assert_eq!(earliest(T, WINDOW, [&[][..]]), T);
    }

    #[test]
    fn only_datapoints_whose_whole_period_ends_by_the_onset_count_and_the_newest_must_be_recent() {
        // The minute labelled 30 s before the onset also covers the 30 s after it: it does not count.
        assert_eq!(lag_as_of(&[p(30, -1.0), p(90, 3.0)], T), (vec![3.0], Some(T - 90)));
        // The newest ending 2 periods before the onset still counts; 3 periods is stale: unknown.
        assert_eq!(lag_as_of(&[p(180, 2.0)], T), (vec![2.0], Some(T - 180)));
        assert_eq!(lag_as_of(&[p(181, 2.0), p(240, 1.0)], T), (vec![], None));
        // Within the look-back only.
        assert_eq!(lag_as_of(&[p(120, 1.0), p(360, 9.0), p(361, 50.0)], T).0, vec![1.0, 9.0]);
    }
}
